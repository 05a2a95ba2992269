/**
 * A small sfu-node for the crash tests, run as its own process (the test kills it with SIGKILL): one class whose
 * teacher streams a camera and a microphone (or, with `silent`, has both producers but sends nothing), recorded
 * through the node's recording glue with the storage settings of the environment (S3_*), so segments go to the
 * store as they close. The node id, key and work root come from the environment as sfu-node's own do
 * (SFU_NODE_ID, SFU_NODE_KEY, SFU_RECORDING_DIR, WORKER_URL). Prints one JSON line once the recording runs.
 *
 * Usage: tsx sfu-node/test/recording-crash-harness.ts <recordingId> <rtcBase> <recordingPortMin> [silent]
 */
import * as v from "valibot";
import { NodePrivateJwkSchema } from "../../schema/tokens/node-token";
import { NodeIdentity } from "../src/fleet-auth";
import { configureRecorder } from "../src/recording/Recorder";
import { createRecordingGlue, recordingWorkRoot } from "../src/recording-glue";
import { loadStorageConfig } from "../src/storage/config";
import { createPublisher } from "../src/storage/publish";
import { eventually } from "./helpers";
import { encodeStream, ffmpegPeer, PICTURES, plainProducer, SOUNDS, sendStream, startRecorderTestNode } from "./recording-helpers";

const [recordingId, rtcBase, portMin, mode] = process.argv.slice(2);
if (!recordingId || !rtcBase || !portMin) throw new Error("usage: recording-crash-harness.ts <recordingId> <rtcBase> <recordingPortMin> [silent]");
const silent = mode === "silent";

const storage = loadStorageConfig();
if (!storage) throw new Error("the crash harness needs S3_* settings");
const workerUrl = process.env.WORKER_URL!;
const identity = await NodeIdentity.load({
  nodeId: process.env.SFU_NODE_ID!,
  workerUrl,
  nodeKey: v.parse(NodePrivateJwkSchema, JSON.parse(process.env.SFU_NODE_KEY!)),
});

const node = await startRecorderTestNode(Number(rtcBase));
configureRecorder({ portMin: Number(portMin), portMax: Number(portMin) + 49 });
const room = await node.openRoom("class-crash");
const teacher = await ffmpegPeer(room, "teacher");
const camera = await plainProducer(teacher, "video");
const microphone = await plainProducer(teacher, "audio");
if (!silent) {
  // Longer than any test lets the recording run: the senders must not stop before the kill.
  sendStream(camera, "video", await encodeStream("pattern", "video", PICTURES.testPattern(), 60));
  sendStream(microphone, "audio", await encodeStream("tone", "audio", SOUNDS.tone(), 60));
}

const glue = createRecordingGlue({ workerUrl, identity, workRoot: recordingWorkRoot(), publisher: createPublisher(storage) });
await glue.start(room, { recordingId, userIds: ["teacher"] });
const recording = glue.running.get(recordingId)!;
if (silent) await eventually(() => recording.tracks().length === 2, 20_000, "camera and microphone captures started");
else await eventually(() => recording.tracks().filter((track) => track.firstPacketAt !== undefined).length === 2, 20_000, "camera and microphone captured");
process.stdout.write(`${JSON.stringify({ recording: true, startedAt: recording.startedAt })}\n`);
