/**
 * Forwarding capacity of one sfu-node on this machine (prints figures; not a test).
 *
 *   npm run bench:sfu                      # N = 100, 300, 600, 1,000 receivers
 *   npm run bench:sfu -- 300 600           # only the sizes given
 *   npm run bench:sfu -- --sinks=3         # spread the counting sockets over 3 processes (default 2)
 *
 * One teacher sends a VP8 camera in three simulcast layers (180p/360p/720p at 20 fps, the top one about
 * 1.4 Mbps), Opus audio and a VP8 screen share, made by FFmpeg from pre-encoded loops (bench/lib/teacher-media.ts)
 * into one plain transport. N receivers each get a plain receive transport with three consumers (camera, audio,
 * screen) whose RTP goes to counting UDP sockets in separate sink processes (bench/lib/rtp-sink.ts).
 *
 * For every N, two modes run one after the other on their own pair of mediasoup workers:
 *   - ours: the sfu-node's MediaNode → Room → Peer code path (receivers placed by Room.routerForReceiving,
 *     producers piped with pipeToRouter once a router passes the consumer threshold of 400);
 *   - bare: plain mediasoup, two routers on two workers joined by pipeToRouter, receivers split evenly.
 * Each phase warms up for 4 s (consumers reach the 720p layer) and measures for 10 s: CPU per worker
 * (getResourceUsage deltas), packets delivered per second at the sinks, loss from sequence gaps at the sinks and
 * the part of it already lost at the producers' ingress, the CPU the rest of the machine used meanwhile, and
 * receivers (and consumers) per core at 80 % CPU, extrapolated linearly from the workers' CPU per delivered
 * packet. No transport-cc: the sinks send no feedback, so its estimator would hold consumers on low layers.
 * Ports: sinks 48600-48699, relay 48700, RTC 47000-48599.
 */
import "./lib/quiet-sfu-log";
import { readFileSync } from "node:fs";
import os from "node:os";
import * as mediasoup from "mediasoup";
import type { types } from "mediasoup";
import { MEDIA_CODECS, MediaNode } from "../sfu-node/src/Node";
import type { PeerConnection } from "../sfu-node/src/Peer";
import { startRtpSinks, type RtpSinks, type SinkCounters } from "./lib/rtp-sink";
import {
  CAMERA_LAYERS,
  prepareTeacherMedia,
  PRODUCER_PARAMETERS,
  RECEIVED_SSRCS,
  RECEIVED_STREAMS,
  RECEIVER_RTP_CAPABILITIES,
  startTeacherMedia,
  type TeacherMedia,
} from "./lib/teacher-media";

const DEFAULT_SIZES = [100, 300, 600, 1000];
const WARMUP_MS = 4_000;
const MEASURE_MS = 10_000;
/** The sfu-node's default (SFU_CONSUMERS_PER_ROUTER). */
const CONSUMERS_PER_ROUTER = 400;
const WORKERS = 2;
const RTC_BASE = 47_000;
const RTC_RANGE = { min: RTC_BASE + 10, max: 48_599 };
const SINK_FIRST_PORT = 48_600;
const SINK_SOCKETS = 100;
const RELAY_PORT = 48_700;
/** Receivers joining at once, as real joins overlap (placement then sees consumer counts a few joins late). */
const JOIN_CONCURRENCY = 20;
const CPU_TARGET = 0.8;
const TARGET_RATIO = 0.9;
const TARGET_BARE_PER_CORE = "580–730";
const SOURCES = ["video", "audio", "screen"] as const;

const args = process.argv.slice(2);
const sizes = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
const sinkProcesses = Number(args.find((arg) => arg.startsWith("--sinks="))?.slice("--sinks=".length) ?? 2);
if (!Number.isInteger(sinkProcesses) || sinkProcesses < 1 || sinkProcesses > SINK_SOCKETS)
  throw new Error(`--sinks must be a whole number from 1 to ${SINK_SOCKETS}`);

type Mode = "ours" | "bare";

/** One mode set up for N receivers: the workers to watch and the camera consumers (to check their layer). */
interface Phase {
  workers: types.Worker[];
  /** The teacher's producers on their home router (their stats count what reached mediasoup). */
  producers: types.Producer[];
  cameraConsumers: types.Consumer[];
  /** Receivers per worker index, to show where the code path put them. */
  receiversPerWorker: number[];
  close(): void;
}

/**
 * Counters read at the end of a window. Each source has its own clock reading, because a starved worker may
 * answer seconds late: every rate is taken over its own source's window.
 */
interface Snapshot {
  workersAt: number;
  workerCpuMs: number[];
  /** Packets that reached the producers (of the streams a receiver gets), and the producers' count of lost ones. */
  producerPackets: number;
  producerLost: number;
  sinksAt: number;
  sinks: SinkCounters;
  localAt: number;
  mainCpuMs: number;
  ffmpegCpuMs: number;
  machine: { busy: number; total: number };
  /** RTP packets FFmpeg sent of the streams a receiver gets (counted at the relay). */
  sentPackets: number;
  /** UDP datagrams the kernel dropped for a full receive buffer (whole network namespace). */
  udpReceiveBufferErrors: number;
}

interface Result {
  mode: Mode;
  receivers: number;
  workerCores: number[];
  receiversPerWorker: number[];
  sinkCores: number;
  /** CPU the rest of the machine (other processes, not this benchmark) used meanwhile. */
  otherCores: number;
  deliveredPerSecond: number;
  /** Sequence gaps at the sinks, over all consumers. */
  lossPercent: number;
  /** The part already lost before mediasoup forwarded anything (relay → producer). */
  ingressLossPercent: number;
  udpReceiveBufferErrors: number;
  topLayerPercent: number;
  /**
   * Receivers one core serves at 80 % CPU: from the workers' CPU per packet delivered to the sinks and the
   * packets one receiver gets when nothing is lost (so loss does not flatter a phase).
   */
  receiversPerCore: number;
  consumersPerCore: number;
}

const silentConnection: PeerConnection = { notify: () => undefined, close: () => undefined };

/** Runs `task` for 0…count-1 with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(lanes);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3]! + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU time of a process from /proc (utime + stime are fields 14 and 15, in clock ticks of 10 ms). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const afterName = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(afterName[11]) + Number(afterName[12])) * 10;
  } catch {
    return 0;
  }
}

function udpReceiveBufferErrors(): number {
  const lines = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((line) => line.startsWith("Udp:"));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf("RcvbufErrors")]);
}

async function snapshot(phase: Phase, sinks: RtpSinks, media: TeacherMedia): Promise<Snapshot> {
  const main = process.cpuUsage();
  const local = {
    localAt: performance.now(),
    mainCpuMs: (main.user + main.system) / 1000,
    ffmpegCpuMs: processCpuMs(media.ffmpeg.pid),
    machine: machineCpu(),
    sentPackets: media
      .counters()
      .filter((stream) => RECEIVED_STREAMS.has(stream.name))
      .reduce((sum, stream) => sum + stream.packets, 0),
    udpReceiveBufferErrors: udpReceiveBufferErrors(),
  };
  const [workers, sinkSide] = await Promise.all([
    Promise.all([
      Promise.all(phase.workers.map((worker) => worker.getResourceUsage())),
      Promise.all(phase.producers.map((producer) => producer.getStats())),
    ]).then(([usages, stats]) => ({
      workersAt: performance.now(),
      workerCpuMs: usages.map((usage) => usage.ru_utime + usage.ru_stime),
      producerStats: stats.flat().filter((entry) => RECEIVED_SSRCS.has(entry.ssrc)),
    })),
    sinks.snapshot().then((counters) => ({ sinksAt: performance.now(), sinks: counters })),
  ]);
  return {
    ...local,
    ...sinkSide,
    workersAt: workers.workersAt,
    workerCpuMs: workers.workerCpuMs,
    producerPackets: workers.producerStats.reduce((sum, stats) => sum + stats.packetCount, 0),
    producerLost: workers.producerStats.reduce((sum, stats) => sum + stats.packetsLost, 0),
  };
}

/** Our code path: a Room on a MediaNode, the teacher and every receiver as Peers. */
async function setUpOurs(node: MediaNode, receivers: number, sinks: RtpSinks, media: TeacherMedia): Promise<Phase> {
  const room = await node.openRoom(`bench-${receivers}`);
  const teacher = room.addPeer({ userId: "teacher", role: "teacher", produce: [...SOURCES], displayName: "Teacher", connection: silentConnection });
  const input = await teacher.createPlainTransport("send", { comedia: true, rtcpMux: true });
  const producers: types.Producer[] = [];
  for (const source of SOURCES) producers.push(await teacher.producePlain(input, source, PRODUCER_PARAMETERS[source]));
  media.target(input.tuple.localPort);
  const cameraConsumers: types.Consumer[] = [];
  const receiversPerWorker = Array.from({ length: node.slots.length }, () => 0);
  await pool(receivers, JOIN_CONCURRENCY, async (index) => {
    const student = room.addPeer({ userId: `student-${index}`, role: "student", produce: [], displayName: undefined, connection: silentConnection });
    const output = await student.createPlainTransport("recv");
    await output.connect({ ip: "127.0.0.1", port: sinks.ports[index % sinks.ports.length]! });
    for (const producer of producers) {
      const { consumerId } = await student.consume({
        transportId: output.id,
        producerId: producer.id,
        rtpCapabilities: RECEIVER_RTP_CAPABILITIES,
        paused: false,
      });
      const entry = student.consumers.get(consumerId)!;
      if (producer === producers[0]) {
        cameraConsumers.push(entry.consumer);
        receiversPerWorker[entry.home.slotIndex]! += 1;
      }
    }
  });
  return {
    workers: node.slots.map((slot) => slot.worker),
    producers,
    cameraConsumers,
    receiversPerWorker,
    close: () => {
      media.target(null);
      room.close("closed-by-server");
    },
  };
}

/** Plain mediasoup: producers on router 0, piped to router 1; receivers alternate between the two. */
async function setUpBare(workers: types.Worker[], receivers: number, sinks: RtpSinks, media: TeacherMedia): Promise<Phase> {
  const routers = await Promise.all(workers.map((worker) => worker.createRouter({ mediaCodecs: MEDIA_CODECS })));
  const listenInfo = (index: number): types.TransportListenInfo => {
    const share = Math.floor((RTC_RANGE.max - RTC_RANGE.min + 1) / workers.length);
    return { protocol: "udp", ip: "127.0.0.1", portRange: { min: RTC_RANGE.min + share * index, max: RTC_RANGE.min + share * (index + 1) - 1 } };
  };
  const input = await routers[0]!.createPlainTransport({ listenInfo: listenInfo(0), comedia: true, rtcpMux: true });
  const producers: types.Producer[] = [];
  for (const source of SOURCES) {
    const producer = await input.produce(PRODUCER_PARAMETERS[source]);
    for (const router of routers.slice(1)) await routers[0]!.pipeToRouter({ producerId: producer.id, router });
    producers.push(producer);
  }
  media.target(input.tuple.localPort);
  const cameraConsumers: types.Consumer[] = [];
  const receiversPerWorker = workers.map(() => 0);
  await pool(receivers, JOIN_CONCURRENCY, async (index) => {
    const routerIndex = index % routers.length;
    const output = await routers[routerIndex]!.createPlainTransport({ listenInfo: listenInfo(routerIndex), rtcpMux: true, comedia: false });
    await output.connect({ ip: "127.0.0.1", port: sinks.ports[index % sinks.ports.length]! });
    for (const producer of producers) {
      const consumer = await output.consume({ producerId: producer.id, rtpCapabilities: RECEIVER_RTP_CAPABILITIES, paused: false });
      if (producer === producers[0]) cameraConsumers.push(consumer);
    }
    receiversPerWorker[routerIndex]! += 1;
  });
  return {
    workers,
    producers,
    cameraConsumers,
    receiversPerWorker,
    close: () => {
      media.target(null);
      for (const router of routers) router.close();
    },
  };
}

async function measure(mode: Mode, receivers: number, phase: Phase, sinks: RtpSinks, media: TeacherMedia): Promise<Result> {
  await sleep(WARMUP_MS);
  const before = await snapshot(phase, sinks, media);
  await sleep(MEASURE_MS);
  const after = await snapshot(phase, sinks, media);
  const workersMs = after.workersAt - before.workersAt;
  const sinksMs = after.sinksAt - before.sinksAt;
  const localMs = after.localAt - before.localAt;
  const workerCores = after.workerCpuMs.map((ms, index) => (ms - before.workerCpuMs[index]!) / workersMs);
  const totalWorkerCores = workerCores.reduce((a, b) => a + b, 0);
  const sinkCores = (after.sinks.cpuMs - before.sinks.cpuMs) / sinksMs;
  const machineCores = ((after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total)) * os.availableParallelism();
  const benchmarkCores = totalWorkerCores + sinkCores + (after.mainCpuMs - before.mainCpuMs + after.ffmpegCpuMs - before.ffmpegCpuMs) / localMs;
  const sentPerSecond = ((after.sentPackets - before.sentPackets) / localMs) * 1000;
  const reachedProducers = after.producerPackets - before.producerPackets;
  const lostAtIngress = after.producerLost - before.producerLost;
  const delivered = after.sinks.packets - before.sinks.packets;
  const expected = after.sinks.expected - before.sinks.expected;
  const ingressLoss = lostAtIngress / Math.max(1, reachedProducers + lostAtIngress);
  const deliveredPerSecond = (delivered / sinksMs) * 1000;
  const onTopLayer = phase.cameraConsumers.filter((consumer) => consumer.currentLayers?.spatialLayer === CAMERA_LAYERS.length - 1).length;
  // Packets lost before a worker read them cost it nothing, and those lost after it sent them are not counted:
  // CPU per delivered packet is an upper bound of the cost of forwarding one.
  const receiversPerCore = (CPU_TARGET * deliveredPerSecond) / totalWorkerCores / sentPerSecond;
  return {
    mode,
    receivers,
    workerCores,
    receiversPerWorker: phase.receiversPerWorker,
    sinkCores,
    otherCores: Math.max(0, machineCores - benchmarkCores),
    deliveredPerSecond,
    lossPercent: expected > 0 ? (Math.max(0, expected - delivered) / expected) * 100 : 0,
    ingressLossPercent: ingressLoss * 100,
    udpReceiveBufferErrors: after.udpReceiveBufferErrors - before.udpReceiveBufferErrors,
    topLayerPercent: (onTopLayer / Math.max(1, phase.cameraConsumers.length)) * 100,
    receiversPerCore,
    consumersPerCore: receiversPerCore * SOURCES.length,
  };
}

const pct = (cores: number) => `${(cores * 100).toFixed(0)} %`;
const int = (value: number) => Math.round(value).toLocaleString("en-US");

const HEADER = "mode |     N | CPU w0 / w1 | recv/wkr |  sink | others |     pkt/s |    loss | ingress | rcvbuf | 720p | recv/core | cons/core | ours/bare";

/** One row; a bare row also says what ours reached as a share of it. */
function printResult(result: Result, ours?: Result): void {
  const ratio = ours ? `${((ours.receiversPerCore / result.receiversPerCore) * 100).toFixed(0)} %` : "";
  console.log(
    [
      result.mode.padEnd(4),
      String(result.receivers).padStart(5),
      result.workerCores.map(pct).join(" / ").padStart(11),
      result.receiversPerWorker.join("/").padStart(8),
      pct(result.sinkCores).padStart(5),
      pct(result.otherCores).padStart(6),
      int(result.deliveredPerSecond).padStart(9),
      `${result.lossPercent.toFixed(1)} %`.padStart(7),
      `${result.ingressLossPercent.toFixed(1)} %`.padStart(7),
      int(result.udpReceiveBufferErrors).padStart(6),
      `${result.topLayerPercent.toFixed(0)} %`.padStart(4),
      int(result.receiversPerCore).padStart(9),
      int(result.consumersPerCore).padStart(9),
      ratio.padStart(9),
    ].join(" | "),
  );
}

async function runPhase(mode: Mode, receivers: number, setUp: () => Promise<Phase>, sinks: RtpSinks, media: TeacherMedia): Promise<Result> {
  const startedAt = performance.now();
  const phase = await setUp();
  const setupMs = performance.now() - startedAt;
  try {
    const result = await measure(mode, receivers, phase, sinks, media);
    if (setupMs > 5_000) console.log(`  (${mode} ${receivers}: setting up the receivers took ${(setupMs / 1000).toFixed(1)} s)`);
    return result;
  } finally {
    phase.close();
    // Let the closed transports' last packets drain before the next phase counts.
    await sleep(500);
  }
}

async function main(): Promise<void> {
  if (!process.env.MEDIASOUP_WORKER_BIN) console.log("(MEDIASOUP_WORKER_BIN is not set; using mediasoup's own worker build)");
  const started = performance.now();
  prepareTeacherMedia();
  const sinks = await startRtpSinks({ processes: sinkProcesses, firstPort: SINK_FIRST_PORT, sockets: SINK_SOCKETS });
  const media = await startTeacherMedia(RELAY_PORT);
  const node = await MediaNode.create(
    {
      nodeId: "bench-node",
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: RTC_BASE,
      rtcPortMin: RTC_RANGE.min,
      rtcPortMax: RTC_RANGE.max,
      workers: WORKERS,
      consumersPerRouter: CONSUMERS_PER_ROUTER,
    },
    { logLevel: "error" },
  );
  const bareWorkers: types.Worker[] = [];
  const cleanUp = () => {
    node.close();
    for (const worker of bareWorkers) worker.close();
    media.close();
    sinks.close();
  };
  // FFmpeg outlives a killed parent; stop it (and the workers and sinks) on Ctrl-C or a kill too.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      cleanUp();
      process.exit(130);
    });
  }
  try {
    for (let index = 0; index < WORKERS; index++) bareWorkers.push(await mediasoup.createWorker({ logLevel: "error" }));
    // The teacher's ingress, measured on the relay before any phase (FFmpeg paces the loops in real time).
    const ingressBefore = media.counters();
    await sleep(3_000);
    const ingress = media
      .counters()
      .map((stream, index) => ({ ...stream, packets: stream.packets - ingressBefore[index]!.packets, bytes: stream.bytes - ingressBefore[index]!.bytes }));
    console.log(`teacher ingress: ${ingress.map((s) => `${s.name} ${int(s.packets / 3)} pkt/s ${int((s.bytes * 8) / 3 / 1000)} kbps`).join(", ")}`);
    if (ingress.some((stream) => stream.packets === 0)) throw new Error("FFmpeg is not sending every stream; see its errors above");
    console.log(
      `${WORKERS} workers per mode, ${sinkProcesses} sink processes, ${SOURCES.length} consumers per receiver, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per phase, ${os.availableParallelism()} cores`,
    );
    console.log(HEADER);
    const results: Result[] = [];
    for (const receivers of sizes.length > 0 ? sizes : DEFAULT_SIZES) {
      // Each row is printed as soon as it is measured, so a run cut short still leaves its figures.
      const ours = await runPhase("ours", receivers, () => setUpOurs(node, receivers, sinks, media), sinks, media);
      printResult(ours);
      const bare = await runPhase("bare", receivers, () => setUpBare(bareWorkers, receivers, sinks, media), sinks, media);
      printResult(bare, ours);
      results.push(ours, bare);
    }
    const bare = results.filter((r) => r.mode === "bare").map((r) => r.receiversPerCore);
    const ratios = results
      .filter((r) => r.mode === "ours")
      .map((r) => r.receiversPerCore / results.find((b) => b.mode === "bare" && b.receivers === r.receivers)!.receiversPerCore);
    console.log(
      `targets: ours within ${TARGET_RATIO * 100} % of bare → ${ratios.map((r) => `${(r * 100).toFixed(0)} %`).join(", ")} (${ratios.every((r) => r >= TARGET_RATIO) ? "met" : "not met at every N"}); ` +
        `bare ≈ ${TARGET_BARE_PER_CORE} per core at 80 % CPU → ${int(Math.min(...bare))}–${int(Math.max(...bare))} receivers (${int(Math.min(...bare) * SOURCES.length)}–${int(Math.max(...bare) * SOURCES.length)} consumers)`,
    );
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    cleanUp();
  }
}

await main();
