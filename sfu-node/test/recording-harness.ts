/**
 * A small sfu-node for the SIGTERM test, run as its own process: one class whose teacher streams a camera
 * and a microphone, recorded from the start. On SIGTERM it does what sfu-node's main does first (drain the
 * recordings: stop, compose, hand on), prints the composed recording as one JSON line and exits.
 *
 * Usage: tsx sfu-node/test/recording-harness.ts <workDir> <rtcBase> <recordingPortMin>
 */
import { configureRecorder, drainRecordings, startRecording, type ComposedRecording } from "../src/recording/Recorder";
import { eventually } from "./helpers";
import { PICTURES, SOUNDS, encodeStream, ffmpegPeer, plainProducer, sendStream, startRecorderTestNode } from "./recording-helpers";

const [workDir, rtcBase, portMin] = process.argv.slice(2);
if (!workDir || !rtcBase || !portMin) throw new Error("usage: recording-harness.ts <workDir> <rtcBase> <recordingPortMin>");

const node = await startRecorderTestNode(Number(rtcBase));
configureRecorder({ portMin: Number(portMin), portMax: Number(portMin) + 49 });
const room = await node.openRoom("class-sigterm");
const teacher = await ffmpegPeer(room, "teacher");
const camera = await plainProducer(teacher, "video");
const microphone = await plainProducer(teacher, "audio");
const senders = [
  sendStream(camera, "video", await encodeStream("pattern", "video", PICTURES.testPattern())),
  sendStream(microphone, "audio", await encodeStream("tone", "audio", SOUNDS.tone())),
];

let composed: ComposedRecording | undefined;
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void drainRecordings().then(() => {
    process.stdout.write(`${JSON.stringify({ composed })}\n`);
    for (const sender of senders) sender.kill("SIGKILL");
    node.close();
    process.exit(0);
  });
});

const recording = await startRecording(room, {
  recordingId: "rec-sigterm",
  classId: room.classId,
  userIds: ["teacher"],
  workDir,
  canvas: { width: 640, height: 360, fps: 15 },
  onComposed: (result) => {
    composed = result;
  },
});
await eventually(() => recording.tracks().filter((track) => track.firstPacketAt !== undefined).length === 2, 20_000, "camera and microphone captured");
process.stdout.write(`${JSON.stringify({ recording: true, startedAt: recording.startedAt })}\n`);
