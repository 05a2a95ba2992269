import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MediaNode } from "../src/Node";
import { configureRecorder, recordingPortsInUse, startRecording } from "../src/recording/Recorder";
import { eventually } from "./helpers";
import {
  PICTURES,
  SOUNDS,
  encodeStream,
  ffmpegPeer,
  frameAt,
  isFaststart,
  plainProducer,
  probeStreams,
  sendStream,
  silences,
  sleep,
  startRecorderTestNode,
  tempDir,
} from "./recording-helpers";

let node: MediaNode;
let files: { testPattern: string; blue: string; red: string; green: string; tone: string };
const senders: ChildProcess[] = [];
const canvas = { width: 640, height: 360, fps: 15 };

beforeAll(async () => {
  node = await startRecorderTestNode(45000);
  configureRecorder({ portMin: 45600, portMax: 45699 });
  files = {
    testPattern: await encodeStream("pattern", "video", PICTURES.testPattern()),
    blue: await encodeStream("blue", "video", PICTURES.solid("blue")),
    red: await encodeStream("red", "screen", PICTURES.solid("red")),
    green: await encodeStream("green", "board", PICTURES.solid("lime")),
    tone: await encodeStream("tone", "audio", SOUNDS.tone()),
  };
}, 120_000);

afterEach(() => {
  for (const sender of senders.splice(0)) sender.kill("SIGKILL");
});

afterAll(() => node?.close());

describe("recording a class on the node", { timeout: 60_000 }, () => {
  it("puts audio that starts 3 s after the video 3 s into the composed file, after silence", async () => {
    const room = await node.openRoom("class-late-audio");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    senders.push(sendStream(camera, "video", files.testPattern));
    const recording = await startRecording(room, {
      recordingId: "rec-late-audio",
      classId: room.classId,
      userIds: ["teacher"],
      workDir: await tempDir("late"),
      canvas,
    });
    await sleep(3000);
    const microphone = await plainProducer(teacher, "audio");
    senders.push(sendStream(microphone, "audio", files.tone));
    await eventually(
      () => recording.tracks().some((track) => track.source === "audio" && track.firstPacketAt !== undefined),
      15_000,
      "the microphone being captured",
    );
    const audioAt = recording.tracks().find((track) => track.source === "audio")!.firstPacketAt!;
    await sleep(3000);
    const stopAskedAt = Date.now();
    const composed = await recording.stop();

    // The file covers the whole recorded interval on the wall clock: from start to the stop request.
    expect(composed.durationMs).toBeGreaterThan(stopAskedAt - composed.startedAt - 200);
    expect(composed.durationMs).toBeGreaterThan(6000);
    const probe = await probeStreams(composed.file);
    expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
    expect(Number(probe.format.duration)).toBeCloseTo(composed.durationMs / 1000, 0);
    expect(await isFaststart(composed.file)).toBe(true);
    // Silence from the start until the microphone's first packet came, then sound to the end.
    const audioStart = (audioAt - composed.startedAt) / 1000;
    expect(audioStart).toBeGreaterThan(3);
    const quiet = await silences(composed.file);
    expect(quiet).toHaveLength(1);
    expect(quiet[0]![0]).toBeLessThan(0.1);
    expect(quiet[0]![1]).toBeGreaterThan(audioStart - 0.3);
    expect(quiet[0]![1]).toBeLessThan(audioStart + 0.3);
    expect(recordingPortsInUse()).toBe(0);
    room.close("closed-by-server");
  });

  it("keeps a mute in the middle as silence and goes on recording after it", async () => {
    const room = await node.openRoom("class-mute");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    const microphone = await plainProducer(teacher, "audio");
    senders.push(sendStream(camera, "video", files.testPattern), sendStream(microphone, "audio", files.tone));
    await sleep(500);
    const recording = await startRecording(room, {
      recordingId: "rec-mute",
      classId: room.classId,
      userIds: ["teacher"],
      workDir: await tempDir("mute"),
      canvas,
    });
    await sleep(3000);
    const pausedAt = Date.now();
    await teacher.pauseProducer(microphone.producer.id);
    await sleep(3000);
    const resumedAt = Date.now();
    await teacher.resumeProducer(microphone.producer.id);
    await sleep(3000);
    const composed = await recording.stop();

    // Exactly one silence after the capture got going: the mute, where it happened on the wall clock.
    const [pause, resume] = [(pausedAt - composed.startedAt) / 1000, (resumedAt - composed.startedAt) / 1000];
    const quiet = (await silences(composed.file)).filter(([, end]) => end > pause - 2);
    expect(quiet).toHaveLength(1);
    expect(quiet[0]![0]).toBeGreaterThan(pause - 0.1);
    expect(quiet[0]![0]).toBeLessThan(pause + 0.3);
    expect(quiet[0]![1]).toBeGreaterThan(resume - 0.1);
    expect(quiet[0]![1]).toBeLessThan(resume + 0.4);
    expect(Number((await probeStreams(composed.file)).format.duration)).toBeCloseTo(composed.durationMs / 1000, 0);
    room.close("closed-by-server");
  });

  it("makes a screen share started half-way the main picture, with the camera as picture-in-picture", async () => {
    const room = await node.openRoom("class-screen");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    senders.push(sendStream(camera, "video", files.blue));
    const recording = await startRecording(room, {
      recordingId: "rec-screen",
      classId: room.classId,
      userIds: ["teacher"],
      workDir: await tempDir("screen"),
      canvas,
    });
    await sleep(4000);
    const screenAt = Date.now();
    const screen = await plainProducer(teacher, "screen");
    senders.push(sendStream(screen, "screen", files.red));
    await eventually(
      () => recording.tracks().some((track) => track.source === "screen" && track.firstPacketAt !== undefined),
      15_000,
      "the screen being captured",
    );
    await sleep(5000);
    const composed = await recording.stop();

    const isBlue = ([r, g, b]: [number, number, number]) => b > 150 && r < 80 && g < 80;
    const isRed = ([r, g, b]: [number, number, number]) => r > 150 && g < 80 && b < 80;
    // Before the share: the camera fills the middle of the picture.
    const earlier = await frameAt(composed.file, (screenAt - composed.startedAt) / 1000 - 0.5);
    expect(isBlue(earlier(32, 18))).toBe(true);
    expect(isBlue(earlier(16, 6))).toBe(true);
    // After: the screen is the main picture and the camera sits in the bottom-right corner.
    const later = await frameAt(composed.file, composed.durationMs / 1000 - 1);
    expect(isRed(later(32, 18))).toBe(true);
    expect(isRed(later(16, 6))).toBe(true);
    expect(isBlue(later(58, 31))).toBe(true);
    room.close("closed-by-server");
  });

  it("makes the board the main picture over a screen share that was shown before it, with the camera as picture-in-picture", async () => {
    const room = await node.openRoom("class-board");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    const screen = await plainProducer(teacher, "screen");
    senders.push(sendStream(camera, "video", files.blue), sendStream(screen, "screen", files.red));
    const recording = await startRecording(room, {
      recordingId: "rec-board",
      classId: room.classId,
      userIds: ["teacher"],
      workDir: await tempDir("board"),
      canvas,
    });
    await eventually(
      () => recording.tracks().some((track) => track.source === "screen" && track.firstPacketAt !== undefined),
      15_000,
      "the screen being captured",
    );
    await sleep(3000);
    const boardAt = Date.now();
    const board = await plainProducer(teacher, "board");
    senders.push(sendStream(board, "board", files.green));
    await eventually(
      () => recording.tracks().some((track) => track.source === "board" && track.firstPacketAt !== undefined),
      15_000,
      "the board being captured",
    );
    await sleep(4000);
    const composed = await recording.stop();

    const isBlue = ([r, g, b]: [number, number, number]) => b > 150 && r < 80 && g < 80;
    const isRed = ([r, g, b]: [number, number, number]) => r > 150 && g < 80 && b < 80;
    const isGreen = ([r, g, b]: [number, number, number]) => g > 150 && r < 80 && b < 80;
    // Before the board: the plain screen share is the main picture.
    const earlier = await frameAt(composed.file, (boardAt - composed.startedAt) / 1000 - 0.5);
    expect(isRed(earlier(32, 18))).toBe(true);
    expect(isBlue(earlier(58, 31))).toBe(true);
    // With both: the board (which carries the screen when annotating) wins, the camera stays in its corner.
    const later = await frameAt(composed.file, composed.durationMs / 1000 - 1);
    expect(isGreen(later(32, 18))).toBe(true);
    expect(isGreen(later(16, 6))).toBe(true);
    expect(isBlue(later(58, 31))).toBe(true);
    room.close("closed-by-server");
  });

  it("records a board that sends one picture a second (a still slide, as the browser sends it) as the main picture", async () => {
    const room = await node.openRoom("class-still-board");
    const teacher = await ffmpegPeer(room, "teacher");
    const camera = await plainProducer(teacher, "video");
    senders.push(sendStream(camera, "video", files.blue));
    const recording = await startRecording(room, {
      recordingId: "rec-still-board",
      classId: room.classId,
      userIds: ["teacher"],
      workDir: await tempDir("still-board"),
      canvas,
    });
    await eventually(
      () => recording.tracks().some((track) => track.source === "video" && track.firstPacketAt !== undefined),
      15_000,
      "the camera being captured",
    );
    const board = await plainProducer(teacher, "board");
    // Every picture a key frame: the file cannot answer the recorder's key frame requests as the browser does.
    senders.push(sendStream(board, "board", await encodeStream("still-board", "board", PICTURES.solid("lime", 1), 24, 1)));
    await eventually(
      () => recording.tracks().some((track) => track.source === "board" && track.firstPacketAt !== undefined),
      15_000,
      "the board being captured",
    );
    await sleep(6000);
    const composed = await recording.stop();

    const isBlue = ([r, g, b]: [number, number, number]) => b > 150 && r < 80 && g < 80;
    const isGreen = ([r, g, b]: [number, number, number]) => g > 150 && r < 80 && b < 80;
    const last = await frameAt(composed.file, composed.durationMs / 1000 - 1);
    expect(isGreen(last(32, 18))).toBe(true);
    expect(isGreen(last(16, 6))).toBe(true);
    expect(isBlue(last(58, 31))).toBe(true);
    room.close("closed-by-server");
  });
});
