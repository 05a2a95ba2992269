import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetRecordingUpdate, FleetRecordingUpdateSchema } from "../../schema/api/recordings";
import { configureRecorder } from "../src/recording/Recorder";
import { ENDED_EARLY_NOTE, NOTHING_SAVED_REASON, RESCUED_NOTE } from "../src/recording/recovery";
import { createRecordingGlue } from "../src/recording-glue";
import { createPublisher } from "../src/storage/publish";
import { segmentsPrefix } from "../src/recording/segment-upload";
import { listSegments } from "../src/recording/segments";
import { RecordingStore } from "../src/storage/s3";
import { eventually } from "./helpers";
import { testNodeKey } from "./node-key-helpers";
import {
  encodeStream,
  ffmpegPeer,
  PICTURES,
  plainProducer,
  probeStreams,
  SOUNDS,
  sendStream,
  silences,
  sleep,
  startRecorderTestNode,
  tempDir,
} from "./recording-helpers";
import { startTestS3 } from "./storage-helpers";

const NODE_ID = "crash-node";
const CLASS_ID = "class-crash";
/** The harness's media ports; the restarted node's are apart from them (both run in this file's namespace). */
const HARNESS_RTC_BASE = 47000;
const HARNESS_RECORDING_PORTS = 47300;

let s3: Awaited<ReturnType<typeof startTestS3>>;
let store: RecordingStore;
let worker: http.Server;
let workerUrl: string;
let nodeKey: Awaited<ReturnType<typeof testNodeKey>>;
/** Another node of the fleet, which finishes what the dead node left when it stays away. */
const RESCUER_ID = "rescue-node";
let rescuerKey: Awaited<ReturnType<typeof testNodeKey>>;
/**
 * Recordings the Worker stand-in lets a node take to finish (`/rescue`), and which node took each: the Worker
 * lets one node have it. Recordings not in here answer 404 (a Worker that does not know the route).
 */
const holders = new Map<string, { takenBy?: string }>();
let workRoot: string;
/** Every report the Worker stand-in took, in order. */
const reports: { recordingId: string; signedBy: string | null; update: FleetRecordingUpdate }[] = [];
const processes: ChildProcess[] = [];
/** Work directories of this file, removed at the end. */
const tempDirs: string[] = [];

beforeAll(async () => {
  s3 = await startTestS3(0);
  store = new RecordingStore(s3.config.s3);
  // The Worker's `POST /api/fleet/recordings/:id`; registration and heartbeats are not needed here (404).
  worker = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", async () => {
      const signedBy = (await nodeKey.verify(request)) ?? (await rescuerKey.verify(request));
      // A node taking a recording to finish it: the first node to ask gets it, every other is refused.
      const claimed = /^\/api\/fleet\/recordings\/([^/]+)\/rescue$/.exec(request.url ?? "");
      if (request.method === "POST" && claimed && signedBy) {
        const recordingId = claimed[1]!;
        const holder = holders.get(recordingId);
        if (!holder) return void response.writeHead(404).end();
        if (holder.takenBy && holder.takenBy !== signedBy) return void response.writeHead(409).end('{"error":{"code":"CONFLICT"}}');
        holder.takenBy = signedBy;
        return void response
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ recording: { id: recordingId, classId: CLASS_ID, startedAt: 0 } }));
      }
      const match = /^\/api\/fleet\/recordings\/([^/]+)$/.exec(request.url ?? "");
      if (request.method !== "POST" || !match) return void response.writeHead(404).end();
      reports.push({ recordingId: match[1]!, signedBy, update: v.parse(FleetRecordingUpdateSchema, JSON.parse(body)) });
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => worker.listen(0, "127.0.0.1", resolve));
  workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
  nodeKey = await testNodeKey(NODE_ID, workerUrl);
  rescuerKey = await testNodeKey(RESCUER_ID, workerUrl);
  workRoot = await tempDir("crash");
  tempDirs.push(workRoot);
});

afterAll(async () => {
  for (const child of processes) killGroup(child, "SIGKILL");
  worker?.close();
  store?.close();
  await s3?.close();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

/** The node's settings, as its operator would set them; the same for the killed process and the restarted one. */
function nodeEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WORKER_URL: workerUrl,
    SFU_NODE_ID: NODE_ID,
    SFU_NODE_KEY: JSON.stringify(nodeKey.nodeKey),
    SFU_RECORDING_DIR: workRoot,
    S3_ENDPOINT: s3.config.s3.endpoint,
    S3_BUCKET: s3.config.s3.bucket,
    S3_ACCESS_KEY_ID: s3.config.s3.credentials!.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.config.s3.credentials!.secretAccessKey,
    FFMPEG_X264_PRESET: "ultrafast",
    SFU_LOG_LEVEL: "warn",
  };
}

/** Kills a process started detached and everything it started (its FFmpegs, its mediasoup workers): a node dying whole. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

/** A node process recording `recordingId` in class-crash; resolves when it records (the recording's start time). */
async function recordingNode(recordingId: string, silent: boolean): Promise<{ child: ChildProcess; startedAt: number }> {
  const args = ["--import", "tsx", "sfu-node/test/recording-crash-harness.ts", recordingId, String(HARNESS_RTC_BASE), String(HARNESS_RECORDING_PORTS)];
  const child = spawn(process.execPath, silent ? [...args, "silent"] : args, { detached: true, stdio: ["ignore", "pipe", "inherit"], env: nodeEnv() });
  processes.push(child);
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      if (line.startsWith("{")) resolve({ child, startedAt: (JSON.parse(line) as { startedAt: number }).startedAt });
    });
    child.once("exit", (code) => reject(new Error(`the recording node exited (${code}) before recording`)));
  });
}

/** sfu-node itself (`npm run sfu`'s entry point), restarted with the dead node's id, key and work directory. */
function restartedNode(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "sfu-node/src/main.ts"], {
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...nodeEnv(),
      SFU_LISTEN_HOST: "127.0.0.1",
      SFU_PORT: "47900",
      SFU_WEBRTC_SERVER_PORT: "47500",
      SFU_RTC_PORT_MIN: "47510",
      SFU_RTC_PORT_MAX: "47699",
      SFU_RECORDING_PORT_MIN: "47700",
      SFU_RECORDING_PORT_MAX: "47749",
      SFU_WORKERS: "1",
      // It keeps trying to register with the stand-in, which does not take registrations: that is not what is tested.
      SFU_LOG_LEVEL: "error",
    },
  });
  processes.push(child);
  return child;
}

async function stopNode(child: ChildProcess): Promise<void> {
  killGroup(child, "SIGTERM");
  await Promise.race([exitOf(child), sleep(20_000)]);
  killGroup(child, "SIGKILL");
}

/** Segment files (non-empty) in each track directory of a recording's local work directory. */
async function localSegments(recordingId: string): Promise<Map<string, string[]>> {
  const tracksDir = path.join(workRoot, recordingId, "tracks");
  const byTrack = new Map<string, string[]>();
  for (const track of await readdir(tracksDir)) {
    const names: string[] = [];
    for (const name of await readdir(path.join(tracksDir, track))) {
      if (/^run-\d+-\d+\.mkv$/.test(name) && (await stat(path.join(tracksDir, track, name))).size > 0) names.push(name);
    }
    byTrack.set(track, names.sort());
  }
  return byTrack;
}

/**
 * The reports on `recordingId`: every one signed by `nodeId`, through composing, uploading and packaging to a
 * `ready` carrying `note`; that last one.
 */
function publishedBy(recordingId: string, nodeId: string, note: string) {
  const mine = reports.filter((report) => report.recordingId === recordingId);
  expect(mine.every((report) => report.signedBy === nodeId)).toBe(true);
  expect(mine.map((report) => report.update.status)).toEqual(expect.arrayContaining(["composing", "uploading", "packaging", "ready"]));
  const ready = mine.at(-1)!.update;
  expect(ready).toMatchObject({ status: "ready", progress: 100, failureReason: note });
  return { mine, ready };
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

describe("segments in the store while a recording runs", () => {
  it("are there seconds after each closes, and deleted once the recording is published", { timeout: 180_000 }, async () => {
    const node = await startRecorderTestNode(48000);
    configureRecorder({ portMin: 48300, portMax: 48349 });
    const senders: ChildProcess[] = [];
    try {
      const room = await node.openRoom(CLASS_ID);
      const teacher = await ffmpegPeer(room, "teacher");
      senders.push(sendStream(await plainProducer(teacher, "video"), "video", await encodeStream("pattern", "video", PICTURES.testPattern(), 60)));
      senders.push(sendStream(await plainProducer(teacher, "audio"), "audio", await encodeStream("tone", "audio", SOUNDS.tone(), 60)));
      const normalRoot = await tempDir("crash-normal");
      tempDirs.push(normalRoot);
      const glue = createRecordingGlue({
        workerUrl,
        identity: nodeKey.identity,
        workRoot: normalRoot,
        publisher: createPublisher(s3.config),
      });
      const recordingId = "rec-normal";
      const prefix = segmentsPrefix(CLASS_ID, recordingId);
      await glue.start(room, { recordingId, userIds: ["teacher"] });
      // The first segments close 10 s after the first packets; they are in the store before the next ones do.
      await eventually(
        async () => (await store.listKeys(prefix)).filter((key) => key.endsWith("/run-0-00000.mkv")).length === 2,
        20_000,
        "both first segments stored",
      );
      await glue.stop(room, { recordingId });
      await eventually(() => reports.some((report) => report.recordingId === recordingId && report.update.status === "ready"), 120_000, "ready");
      const ready = reports.filter((report) => report.recordingId === recordingId).at(-1)!.update;
      // A recording stopped as usual carries no note.
      expect(ready.failureReason).toBeUndefined();
      await eventually(async () => (await store.listKeys(prefix)).length === 0, 30_000, "the segments deleted");
      expect((await store.listKeys(`classes/${CLASS_ID}/recordings/${recordingId}/`)).length).toBeGreaterThan(5);
    } finally {
      for (const sender of senders) sender.kill("SIGKILL");
      node.close();
    }
  });
});

describe("a node killed during a recording", () => {
  it("has every closed segment in the store; restarted, it publishes what it kept as a partial recording", { timeout: 300_000 }, async () => {
    const recordingId = "rec-crash";
    const { child, startedAt } = await recordingNode(recordingId, false);
    await sleep(25_000);
    killGroup(child, "SIGKILL");
    const killedAt = Date.now();
    await exitOf(child);

    const prefix = segmentsPrefix(CLASS_ID, recordingId);
    const keys = await store.listKeys(prefix);
    const local = await localSegments(recordingId);
    expect([...local.keys()]).toHaveLength(2);
    expect(keys).toContain(`${prefix}recording.json`);
    for (const [track, segments] of local) {
      const stored = keys.filter((key) => key.startsWith(`${prefix}tracks/${track}/`)).map((key) => key.slice(`${prefix}tracks/${track}/`.length));
      // Two 10-second segments had closed; the third was being written.
      expect(segments.length).toBeGreaterThanOrEqual(3);
      const missing = segments.filter((name) => !stored.includes(name));
      expect(missing.length, `${track}: missing ${missing.join(", ")}`).toBeLessThanOrEqual(1);
      if (missing.length === 1) expect(missing[0]).toBe(segments.at(-1));
      // With what places them on the wall clock and says whose they are.
      expect(stored).toEqual(expect.arrayContaining(["track.json", "run-0.json", "run-0.csv"]));
    }
    expect(reports.filter((report) => report.recordingId === recordingId)).toEqual([]);
    // The store alone places the segments on the wall clock as the node's own copy does: fetched into a fresh
    // directory, every stored segment of a track is found and starts where the local one does.
    const fromStore = await tempDir("crash-store");
    for (const key of keys) {
      const file = path.join(fromStore, key.slice(prefix.length));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, Buffer.from(await (await fetch(store.publicUrl(key))).arrayBuffer()));
    }
    for (const track of local.keys()) {
      const stored = await listSegments(path.join(fromStore, "tracks", track));
      const kept = await listSegments(path.join(workRoot, recordingId, "tracks", track));
      expect(stored.length).toBeGreaterThanOrEqual(2);
      for (const [index, segment] of stored.entries()) expect(segment.start).toBeCloseTo(kept[index]!.start, 2);
    }
    await rm(fromStore, { recursive: true, force: true });

    const node = restartedNode();
    try {
      await eventually(
        () => reports.some((report) => report.recordingId === recordingId && ["ready", "failed"].includes(report.update.status)),
        240_000,
        "the final report",
      );
      const { mine, ready } = publishedBy(recordingId, NODE_ID, ENDED_EARLY_NOTE);
      // It ends where the dead node's last segment ended: at the kill, less what the last cluster held.
      const recordedMs = killedAt - startedAt;
      expect(ready.durationMs).toBeGreaterThan(recordedMs - 2_500);
      expect(ready.durationMs).toBeLessThan(recordedMs + 500);
      expect(ready.dashManifestUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

      const sourceKey = mine.map((report) => report.update.sourceKey).find(Boolean)!;
      const source = store.publicUrl(sourceKey);
      const probe = await probeStreams(source);
      expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
      expect(Number(probe.format.duration)).toBeCloseTo(ready.durationMs! / 1000, 0);
      // The tone runs through the closed segments and the one being written when the node died.
      const seconds = ready.durationMs! / 1000;
      expect((await silences(source, 0.5)).filter(([start]) => start > 3 && start < seconds - 1.5)).toEqual([]);

      await eventually(async () => !(await exists(path.join(workRoot, recordingId))), 30_000, "the local directory removed");
      await eventually(async () => (await store.listKeys(prefix)).length === 0, 30_000, "the segments removed from the store");
    } finally {
      await stopNode(node);
    }
  });

  it("reports a recording failed, with its reason, when the node died before any of it was captured", { timeout: 180_000 }, async () => {
    const recordingId = "rec-crash-empty";
    const { child } = await recordingNode(recordingId, true);
    await sleep(3_000);
    killGroup(child, "SIGKILL");
    await exitOf(child);
    expect((await store.listKeys(segmentsPrefix(CLASS_ID, recordingId))).filter((key) => key.endsWith(".mkv"))).toEqual([]);

    const node = restartedNode();
    try {
      await eventually(() => reports.some((report) => report.recordingId === recordingId), 120_000, "a report");
      await sleep(1_000);
      const mine = reports.filter((report) => report.recordingId === recordingId);
      expect(mine.map((report) => [report.signedBy, report.update.status, report.update.failureReason])).toEqual([[NODE_ID, "failed", NOTHING_SAVED_REASON]]);
      await eventually(async () => !(await exists(path.join(workRoot, recordingId))), 30_000, "the local directory removed");
      await eventually(async () => (await store.listKeys(segmentsPrefix(CLASS_ID, recordingId))).length === 0, 30_000, "nothing left in the store");
    } finally {
      await stopNode(node);
    }
  });
});

describe("a node killed during a recording and never back", () => {
  it("leaves what it saved to another node, which publishes it; the dead node coming back later leaves it be", { timeout: 300_000 }, async () => {
    const recordingId = "rec-rescued";
    holders.set(recordingId, {});
    const { child, startedAt } = await recordingNode(recordingId, false);
    await sleep(25_000);
    killGroup(child, "SIGKILL");
    const killedAt = Date.now();
    await exitOf(child);

    // Another node of the fleet, with a work directory of its own and the same store, is offered the recording.
    const rescuerRoot = await tempDir("crash-rescuer");
    tempDirs.push(rescuerRoot);
    const rescuer = createRecordingGlue({ workerUrl, identity: rescuerKey.identity, workRoot: rescuerRoot, publisher: createPublisher(s3.config) });
    expect(await rescuer.rescue({ recordingId, classId: CLASS_ID })).toBe(true);
    await rescuer.reportsFlushed();
    const { mine, ready } = publishedBy(recordingId, RESCUER_ID, RESCUED_NOTE);
    // It ends at the last segment the dead node had closed: at most the one being written (10 s) is missing.
    const recordedMs = killedAt - startedAt;
    expect(ready.durationMs).toBeGreaterThan(recordedMs - 12_500);
    expect(ready.durationMs).toBeLessThan(recordedMs);
    const source = store.publicUrl(mine.map((report) => report.update.sourceKey).find(Boolean)!);
    const probe = await probeStreams(source);
    expect(probe.streams.map((stream) => `${stream.codec_type}:${stream.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
    expect(Number(probe.format.duration)).toBeCloseTo(ready.durationMs! / 1000, 0);
    const seconds = ready.durationMs! / 1000;
    expect((await silences(source, 0.5)).filter(([start]) => start > 3 && start < seconds - 1.5)).toEqual([]);
    expect(await store.listKeys(segmentsPrefix(CLASS_ID, recordingId))).toEqual([]);
    expect(await readdir(rescuerRoot)).toEqual([]);

    // The dead node's process comes back with the recording on its disk: the Worker says another node has it, so
    // it reports nothing and drops its copy (the recording is not published twice).
    const reportsBefore = reports.length;
    const node = restartedNode();
    try {
      await eventually(async () => !(await exists(path.join(workRoot, recordingId))), 120_000, "the dead node's copy removed");
      await sleep(1_000);
      expect(reports.slice(reportsBefore).filter((report) => report.recordingId === recordingId)).toEqual([]);
    } finally {
      await stopNode(node);
    }
  });
});
