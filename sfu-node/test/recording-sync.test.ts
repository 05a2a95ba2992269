import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MediaNode } from "../src/Node";
import { configureRecorder, startRecording } from "../src/recording/Recorder";
import { PICTURES, SOUNDS, beepOnsets, encodeAudioVideo, ffmpegPeer, flashOnsets, plainProducer, sendAudioVideoFile, sleep, startRecorderTestNode, tempDir } from "./recording-helpers";

let node: MediaNode;
let sender: ChildProcess | undefined;

beforeAll(async () => {
  node = await startRecorderTestNode(45300);
  configureRecorder({ portMin: 45700, portMax: 45749 });
});

afterAll(() => {
  sender?.kill("SIGKILL");
  node?.close();
});

/** The largest flash-to-beep offset the composed recording may have (lip sync people notice beyond this). */
const MAX_OFFSET_MS = 40;

describe("A/V sync of a recording", () => {
  it("keeps every flash and its beep within 40 ms of each other", { timeout: 120_000 }, async () => {
    const room = await node.openRoom("class-sync");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    const microphone = await plainProducer(teacher, "audio");
    // One source, one clock: a white flash and a 1 kHz beep at the start of every second.
    const workDir = await tempDir("sync");
    const source = await encodeAudioVideo("flash-beep", PICTURES.flashEverySecond(30), SOUNDS.beepEverySecond(), 30);
    sender = sendAudioVideoFile(camera, microphone, source);
    // mediasoup maps a sender's RTP time to its capture time once it has three of its sender reports
    // (FFmpeg sends one per stream every 5 s; a browser much sooner); the class is on before recording.
    await sleep(11_000);
    const recording = await startRecording(room, { recordingId: "rec-sync", classId: room.classId, userIds: ["teacher"], workDir, canvas: { width: 640, height: 360, fps: 30 } });
    await sleep(12_000);
    const composed = await recording.stop();

    const flashes = await flashOnsets(composed.file);
    const beeps = await beepOnsets(composed.file);
    const offsets = flashes
      .map((flash) => {
        const beep = beeps.reduce((nearest, candidate) => (Math.abs(candidate - flash) < Math.abs(nearest - flash) ? candidate : nearest), Infinity);
        return { flash, offsetMs: Math.round((beep - flash) * 1000) };
      })
      .filter(({ offsetMs }) => Math.abs(offsetMs) < 500);
    process.stdout.write(`flashes ${flashes.map((t) => t.toFixed(2)).join(" ")}; beeps ${beeps.map((t) => t.toFixed(2)).join(" ")}\n`);
    process.stdout.write(`A/V offsets (beep - flash, ms) at ${offsets.map(({ flash, offsetMs }) => `${flash.toFixed(2)}s: ${offsetMs}`).join(", ")}\n`);

    // Both tracks made it in for the whole recording, one flash and one beep per second.
    expect(flashes.length).toBeGreaterThanOrEqual(9);
    expect(beeps.length).toBeGreaterThanOrEqual(9);
    expect(offsets.length).toBe(flashes.length);
    for (const { offsetMs } of offsets) expect(Math.abs(offsetMs)).toBeLessThanOrEqual(MAX_OFFSET_MS);
    room.close("closed-by-server");
  });
});
