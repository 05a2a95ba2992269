import { type ChildProcess, spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MediaNode } from "../src/Node";
import { configureRecorder, recordingPortsInUse, startRecording } from "../src/recording/Recorder";
import { eventually } from "./helpers";
import {
  PICTURES,
  SOUNDS,
  encodeStream,
  ffmpegPeer,
  freezes,
  plainProducer,
  probeStreams,
  sendStream,
  silences,
  sleep,
  startRecorderTestNode,
  tempDir,
} from "./recording-helpers";

let node: MediaNode;
let files: { testPattern: string; tone: string };
const processes: ChildProcess[] = [];

beforeAll(async () => {
  node = await startRecorderTestNode(45400);
  configureRecorder({ portMin: 45750, portMax: 45799 });
  files = { testPattern: await encodeStream("pattern", "video", PICTURES.testPattern()), tone: await encodeStream("tone", "audio", SOUNDS.tone()) };
}, 120_000);

afterEach(() => {
  for (const child of processes.splice(0)) child.kill("SIGKILL");
});

afterAll(() => node?.close());

describe("a recording that loses its FFmpeg or its node", { timeout: 120_000 }, () => {
  it("restarts a killed capture FFmpeg and composes the earlier and the later segments", async () => {
    const room = await node.openRoom("class-ffmpeg-killed");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    const microphone = await plainProducer(teacher, "audio");
    processes.push(sendStream(camera, "video", files.testPattern), sendStream(microphone, "audio", files.tone));
    const workDir = await tempDir("killed");
    const recording = await startRecording(room, {
      recordingId: "rec-killed",
      classId: room.classId,
      userIds: ["teacher"],
      workDir,
      canvas: { width: 320, height: 180, fps: 15 },
    });
    await eventually(
      () => recording.tracks().every((track) => track.firstPacketAt !== undefined) && recording.tracks().length === 2,
      20_000,
      "both tracks captured",
    );
    await sleep(3000);

    const video = () => recording.tracks().find((track) => track.source === "video")!;
    const killedPid = video().ffmpegPid!;
    process.kill(killedPid, "SIGKILL");
    await eventually(() => video().runs === 2 && video().ffmpegPid !== killedPid, 15_000, "the capture restarted");
    await sleep(4000);
    const composed = await recording.stop();

    // Both runs left segments, and the composed file covers the whole recording.
    const trackDir = (await readdir(`${workDir}/tracks`)).find((name) => name.includes("-video-"))!;
    const segments = await readdir(`${workDir}/tracks/${trackDir}`);
    expect(segments.some((name) => /^run-0-\d+\.mkv$/.test(name))).toBe(true);
    expect(segments.some((name) => /^run-1-\d+\.mkv$/.test(name))).toBe(true);
    expect(Number((await probeStreams(composed.file)).format.duration)).toBeCloseTo(composed.durationMs / 1000, 0);
    // The picture moves before and after the crash; at most the restart (FFmpeg start, next key frame) stands still.
    const firstFrameAt = (video().firstPacketAt! - composed.startedAt) / 1000;
    const stills = (await freezes(composed.file, 2.5)).filter(([start]) => start > firstFrameAt + 0.5);
    expect(stills).toEqual([]);
    // The microphone's FFmpeg was not touched: sound all along after it started.
    expect((await silences(composed.file)).filter(([start]) => start > 1)).toEqual([]);
    expect(recordingPortsInUse()).toBe(0);
    room.close("closed-by-server");
  });

  it("drains a recording when the node gets SIGTERM: composed before the process exits", async () => {
    const workDir = await tempDir("sigterm");
    // The harness runs on this same Node with tsx's loader, so the signal reaches it and not a wrapper.
    const harness = spawn(process.execPath, ["--import", "tsx", "sfu-node/test/recording-harness.ts", workDir, "45500", "45700"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, SFU_LOG_LEVEL: "warn" },
    });
    processes.push(harness);
    const lines = createInterface({ input: harness.stdout! });
    const messages: Record<string, unknown>[] = [];
    lines.on("line", (line) => {
      if (line.startsWith("{")) messages.push(JSON.parse(line) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((resolve) => harness.once("exit", (code) => resolve(code)));

    await eventually(() => messages.some((message) => message.recording === true), 60_000, "the harness recording");
    await sleep(4000);
    const signalledAt = Date.now();
    harness.kill("SIGTERM");
    expect(await exited).toBe(0);

    const { composed } = messages.find((message) => "composed" in message) as { composed: { file: string; durationMs: number; startedAt: number } | undefined };
    expect(composed).toBeDefined();
    expect(composed!.startedAt + composed!.durationMs).toBeGreaterThanOrEqual(signalledAt - 50);
    const probe = await probeStreams(composed!.file);
    expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
    expect(Number(probe.format.duration)).toBeCloseTo(composed!.durationMs / 1000, 0);
    // Sound runs to the signal: what was captured is in the file (a capture FFmpeg that has to be killed
    // because its RTP already stopped loses at most its last half-second cluster).
    const signalAt = (signalledAt - composed!.startedAt) / 1000;
    expect((await silences(composed!.file, 0.3)).filter(([start]) => start > 2 && start < signalAt - 1)).toEqual([]);
    expect((await silences(composed!.file, 0.3)).filter(([start]) => start > 2).length).toBeLessThanOrEqual(1);
  });
});
