/**
 * Recording benchmark, from the teacher's stop to something a student can watch (prints figures; not a test).
 *
 *   npm run bench:recording              # record 30 s
 *   npm run bench:recording -- 120       # another length in seconds
 *   FFMPEG_X264_PRESET=veryfast npm run bench:recording
 *
 * The node's real recording path, in one process: a mediasoup node with a teacher whose camera and microphone
 * are FFmpeg senders of a synthetic source (a white flash and a 1 kHz beep at the start of every second, sent
 * together as a browser sends them); the class link's `recording.start` / `recording.stop` commands through the
 * node's recording glue (sfu-node/src/recording-glue.ts) into the recorder, the publisher (local FFmpeg
 * packaging) and the local S3 store of `npm start` (s3rver on 127.0.0.1:8890); a stand-in for the Worker on
 * 127.0.0.1:8891 takes the progress reports (checked with the API's own schema) and notes when each arrives.
 *
 * The microphone sends as a browser's does, Opus with DTX (no packets through most of each silence). The
 * recording is composed in pieces while it runs (PIECE_SECONDS=n for another piece length than the node's minute).
 *
 * Figures, each from the stop and as a ratio of the recording's length (targets in brackets):
 *   - playable: the HLS playlist of the pieces uploaded and reported as `playableUrl`  [≤ 10 s, whatever the length];
 *   - composed MP4 on the node (the pieces joined by stream copy);
 *   - source MP4 stored in S3;
 *   - full ladder: `ready`, every HLS/DASH rendition, thumbnails, sprite, WebVTT and poster stored  [≤ 0.5×];
 * and while recording, the CPU that composing in the background took (share of one core: the piece composes and
 * the probes they need, finished child processes, plus the sound encoder); and the A/V offsets, beep minus flash
 * at every second of the stored source MP4, in its first and its last minute  [≤ 40 ms, the same at both ends].
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import * as v from "valibot";
import { type FleetRecordingUpdate, FleetRecordingUpdateSchema } from "../schema/api/recordings";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../scripts/s3-local";
import { configureRecorder } from "../sfu-node/src/recording/Recorder";
import { createRecordingGlue } from "../sfu-node/src/recording-glue";
import { loadStorageConfig } from "../sfu-node/src/storage/config";
import { createPublisher } from "../sfu-node/src/storage/publish";
import { testNodeKey } from "../sfu-node/test/node-key-helpers";
import {
  PICTURES,
  SOUNDS,
  beepOnsets,
  flashBeepOffsets,
  encodeAudioVideo,
  ffmpegPeer,
  flashOnsets,
  plainProducer,
  sendAudioVideoFile,
  sleep,
  startRecorderTestNode,
  withDtxGaps,
} from "../sfu-node/test/recording-helpers";

const SECONDS = Number(process.argv[2] ?? 30);
if (!(SECONDS >= 5)) throw new Error("the recording length must be at least 5 seconds");
/** Senders run this long before the recording starts, like a teacher who has been on camera for a while. */
const WARM_UP_MS = 11_000;
const S3_PORT = 8890;
const WORKER_PORT = 8891;
const BUCKET = "insp-live-recordings";
const RECORDING_ID = `bench-${Date.now()}`;
const PIECE_SECONDS = process.env.PIECE_SECONDS ? Number(process.env.PIECE_SECONDS) : undefined;
/** Clock ticks a second in /proc (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** The recording node's own key: the Worker stand-in takes only reports signed by it. */
const nodeKey = await testNodeKey("bench-node", `http://127.0.0.1:${WORKER_PORT}`);
const work = await mkdtemp(path.join(os.tmpdir(), "insp-recording-bench-"));

/** The Worker's fleet recordings endpoint, as far as the node can tell: it checks and notes every report. */
const reports: { at: number; update: FleetRecordingUpdate }[] = [];
const worker = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", async () => {
    const parsed = v.safeParse(FleetRecordingUpdateSchema, JSON.parse(body || "null"));
    const authorized = (await nodeKey.verify(request)) === "bench-node" && request.url === `/api/fleet/recordings/${RECORDING_ID}`;
    if (!authorized || !parsed.success) {
      console.error("refused report", request.url, body);
      response.writeHead(400).end();
      return;
    }
    reports.push({ at: performance.now(), update: parsed.output });
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
await new Promise<void>((resolve) => worker.listen(WORKER_PORT, "127.0.0.1", resolve));

const s3 = await startLocalS3({ port: S3_PORT, directory: path.join(work, "s3"), bucket: BUCKET, origins: ["http://127.0.0.1:8787"] });
const publicUrl = `${s3.endpoint}/${BUCKET}`;
// The node's own settings parser, pointed at the local store (FFMPEG_X264_PRESET applies as on a node).
const storage = loadStorageConfig({
  ...process.env,
  S3_ENDPOINT: s3.endpoint,
  S3_REGION: "us-east-1",
  S3_BUCKET: BUCKET,
  S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
  S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  S3_PUBLIC_URL: publicUrl,
})!;
const publisher = createPublisher(storage);
const glue = createRecordingGlue({
  workerUrl: `http://127.0.0.1:${WORKER_PORT}`,
  identity: nodeKey.identity,
  workRoot: path.join(work, "recordings"),
  publisher,
  pieceSeconds: PIECE_SECONDS,
});

const node = await startRecorderTestNode(46000);
configureRecorder({ portMin: 46500, portMax: 46599 });
const room = await node.openRoom("bench-class");
const teacher = await ffmpegPeer(room, "teacher");
const camera = await plainProducer(teacher, "video");
const microphone = await plainProducer(teacher, "audio");

console.log(`encoding a ${SECONDS} s flash-and-beep source…`);
const source = await withDtxGaps(
  await encodeAudioVideo("bench-flash-beep", PICTURES.flashEverySecond(25), SOUNDS.beepEverySecond(), Math.ceil(WARM_UP_MS / 1000 + SECONDS + 10)),
  0,
);
const sender = sendAudioVideoFile(camera, microphone, source);

try {
  await sleep(WARM_UP_MS);
  console.log(`recording ${SECONDS} s…`);
  await glue.start(room, { recordingId: RECORDING_ID, userIds: ["teacher"] });
  const childTicksAtStart = await finishedChildrenTicks();
  const recordingFrom = performance.now();
  await sleep(SECONDS * 1000);
  const backgroundTicks = (await finishedChildrenTicks()) - childTicksAtStart + (await soundEncoderTicks());
  const backgroundShare = backgroundTicks / TICKS / ((performance.now() - recordingFrom) / 1000);
  const stoppedAt = performance.now();
  await glue.stop(room, { recordingId: RECORDING_ID });

  const reached = async (check: (update: FleetRecordingUpdate) => boolean): Promise<{ at: number; update: FleetRecordingUpdate }> => {
    for (;;) {
      const found = reports.find((report) => check(report.update));
      if (found) return found;
      const failed = reports.find((report) => report.update.status === "failed");
      if (failed) throw new Error(`the recording failed: ${failed.update.failureReason}`);
      await sleep(50);
    }
  };
  const playableReport = await reached((u) => u.playableUrl !== undefined);
  const composed = await reached((u) => u.status === "composing" && u.progress === 100);
  const playable = await reached((u) => u.status === "packaging");
  const ready = await reached((u) => u.status === "ready");
  await glue.reportsFlushed();

  const lengthSeconds = (composed.update.durationMs ?? SECONDS * 1000) / 1000;
  const figure = (label: string, at: number) => {
    const seconds = (at - stoppedAt) / 1000;
    console.log(`  ${label.padEnd(44)} ${seconds.toFixed(1).padStart(6)} s   ${(seconds / lengthSeconds).toFixed(2)}× the length`);
  };
  console.log(`\nrecording length ${lengthSeconds.toFixed(1)} s; from the stop:`);
  figure("playable (HLS playlist of the pieces in S3)", playableReport.at);
  figure("composed MP4 on the node", composed.at);
  figure("source MP4 in S3", playable.at);
  figure("full ladder ready (HLS + DASH, thumbnails)", ready.at);

  // A/V sync of what viewers get: the stored source MP4, fetched back from the store.
  const stored = path.join(work, "stored.mp4");
  const sourceUrl = `${publicUrl}/${playable.update.sourceKey}`;
  await writeFile(stored, Buffer.from(await (await fetch(sourceUrl)).arrayBuffer()));
  const flashes = await flashOnsets(stored);
  const beeps = await beepOnsets(stored);
  const paired = flashBeepOffsets(flashes, beeps);
  const offsets = paired.map(({ offsetMs }) => offsetMs);
  const worst = offsets.reduce((max, offset) => Math.max(max, Math.abs(offset)), 0);
  const meanOf = (values: number[]) => (values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length)).toFixed(1);
  const firstMinute = paired.filter(({ flash }) => flash < 60).map(({ offsetMs }) => offsetMs);
  const lastMinute = paired.filter(({ flash }) => flash >= lengthSeconds - 60).map(({ offsetMs }) => offsetMs);
  console.log(`  A/V offsets, beep − flash (ms), ${offsets.length} of ${flashes.length} flashes paired: ${offsets.join(" ")}`);
  console.log(
    `  worst |offset| ${worst} ms; mean ${meanOf(offsets)} ms; first minute mean ${meanOf(firstMinute)} ms, last minute mean ${meanOf(lastMinute)} ms`,
  );
  console.log(`  background composing while recording: ${(backgroundShare * 100).toFixed(1)}% of one core`);
  console.log(`\nprogress reports the Worker got: ${reports.map((r) => `${r.update.status} ${r.update.progress}`).join(" → ")}`);
} finally {
  sender.kill("SIGKILL");
  room.close("closed-by-server");
  node.close();
  publisher.close();
  await s3.close();
  worker.close();
  await rm(work, { recursive: true, force: true });
}

/** CPU ticks (user + system) of this process's finished child processes: the piece composes and their probes. */
async function finishedChildrenTicks(): Promise<number> {
  const fields = (await readFile("/proc/self/stat", "utf8")).split(") ")[1]!.split(" ");
  // cutime and cstime are fields 16 and 17 of stat; the split leaves fields from the third on.
  return Number(fields[13]) + Number(fields[14]);
}

/** CPU ticks so far of the recording's sound encoder (it runs until the stop). */
async function soundEncoderTicks(): Promise<number> {
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.includes(work) || !cmdline.includes("audio-%05d.m4s")) continue;
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  }
  return 0;
}
