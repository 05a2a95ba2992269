import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MediaNode } from "../src/Node";
import { configureRecorder, startRecording } from "../src/recording/Recorder";
import {
  PICTURES,
  SOUNDS,
  beepOnsets,
  flashBeepOffsets,
  MAX_AV_OFFSET_MS,
  encodeAudioVideo,
  ffmpegPeer,
  flashOnsets,
  plainProducer,
  sendAudioVideoFile,
  sleep,
  startRecorderTestNode,
  tempDir,
  withDtxGaps,
} from "./recording-helpers";

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

/**
 * The recording's first second, where one track may not have begun yet: the first packets of a track arrive up to
 * a few hundred ms after the start (runs here began the sound at 0.38 s, mid-beep, or the picture after 0.27 s),
 * so a flash or beep there can lack its partner, or the beep's onset be cut.
 */
const TRACKS_BEGIN_WITHIN_S = 1;

/** Flash → beep offsets in a composed file, one per flash after the first second (each flash's nearest beep). */
async function measureOffsets(file: string) {
  const flashes = await flashOnsets(file);
  const beeps = await beepOnsets(file);
  const offsets = flashBeepOffsets(
    flashes.filter((flash) => flash >= TRACKS_BEGIN_WITHIN_S),
    beeps,
  );
  process.stdout.write(`flashes ${flashes.map((t) => t.toFixed(2)).join(" ")}; beeps ${beeps.map((t) => t.toFixed(2)).join(" ")}\n`);
  process.stdout.write(`A/V offsets (beep - flash, ms) at ${offsets.map(({ flash, offsetMs }) => `${flash.toFixed(2)}s: ${offsetMs}`).join(", ")}\n`);
  return { flashes, beeps, offsets };
}

/** Sends `source` as the teacher's camera and microphone and records 12 s of it once the class has been on a while. */
async function recordSent(name: string, source: string) {
  const room = await node.openRoom(`class-${name}`);
  const teacher = await ffmpegPeer(room, "teacher");
  const camera = await plainProducer(teacher, "video");
  const microphone = await plainProducer(teacher, "audio");
  const workDir = await tempDir(name);
  sender = sendAudioVideoFile(camera, microphone, source);
  // mediasoup maps a sender's RTP time to its capture time once it has three of its sender reports
  // (FFmpeg sends one per stream every 5 s; a browser much sooner); the class is on before recording.
  await sleep(11_000);
  const recording = await startRecording(room, {
    recordingId: `rec-${name}`,
    classId: room.classId,
    userIds: ["teacher"],
    workDir,
    canvas: { width: 640, height: 360, fps: 30 },
  });
  await sleep(12_000);
  const composed = await recording.stop();
  sender.kill("SIGKILL");
  room.close("closed-by-server");
  return composed.file;
}

describe("A/V sync of a recording", () => {
  it("keeps every flash and its beep within 40 ms of each other", { timeout: 120_000 }, async () => {
    // One source, one clock: a white flash and a 1 kHz beep at the start of every second.
    const source = await encodeAudioVideo("flash-beep", PICTURES.flashEverySecond(30), SOUNDS.beepEverySecond(), 30);
    const { flashes, beeps, offsets } = await measureOffsets(await recordSent("sync", source));

    // Both tracks made it in for the whole recording, one flash and one beep per second.
    expect(flashes.length).toBeGreaterThanOrEqual(9);
    expect(beeps.length).toBeGreaterThanOrEqual(9);
    expect(offsets.length).toBe(flashes.filter((flash) => flash >= TRACKS_BEGIN_WITHIN_S).length);
    for (const { offsetMs } of offsets) expect(Math.abs(offsetMs)).toBeLessThanOrEqual(MAX_AV_OFFSET_MS);
  });

  it("keeps them within 40 ms when the microphone sends with DTX (gaps in silence) and is turned on late", { timeout: 120_000 }, async () => {
    // Audio only from 14 s (3 s into the recording), with DTX's long gap in each silence and 60 ms of nothing
    // just before each beep: a gap too short for the resampler's default to fill slid every beep 60 ms early.
    const source = await withDtxGaps(await encodeAudioVideo("flash-beep", PICTURES.flashEverySecond(30), SOUNDS.beepEverySecond(), 30), 14);
    const { flashes, beeps, offsets } = await measureOffsets(await recordSent("sync-dtx", source));

    expect(flashes.length).toBeGreaterThanOrEqual(9);
    // The microphone came on about 3 s in: a beep every second from there.
    expect(beeps.length).toBeGreaterThanOrEqual(6);
    expect(Math.min(...beeps)).toBeGreaterThan(1.5);
    expect(offsets.length).toBeGreaterThanOrEqual(6);
    for (const { offsetMs } of offsets) expect(Math.abs(offsetMs)).toBeLessThanOrEqual(MAX_AV_OFFSET_MS);
  });
});
