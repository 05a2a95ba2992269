/**
 * What a stream piped to another node costs in mediasoup worker CPU, on the sending and on the receiving node, next
 * to what a local consumer of the same stream costs, in the same run (prints figures; not a test).
 *
 *   npm run bench:pipe-cost               # 100 streams, 3 rounds
 *   npm run bench:pipe-cost -- 200 5      # streams, rounds
 *
 * Two sfu-nodes in this process (MediaNode, one mediasoup worker each, its own process), their class links to a
 * stand-in for the Worker whose class object directs the pipes with the Classroom's own code
 * (sfu-node/test/class-object.ts: durable-objects/cascade.ts over real WebSockets). On node A, K senders, each
 * a plain transport and producer fed with the same FFmpeg VP8 stream (320×240, 15 fps, 300 kbps) through a relay
 * here. Each round has three phases of 15 s (after 4 s to settle), CPU read from /proc/<pid>/stat of each node's
 * worker:
 *   - idle: the K producers, no consumer (what receiving them costs A);
 *   - local: one consumer of each producer on A (a plain transport into a counting socket);
 *   - piped: one consumer of each producer on B instead, so each stream goes A → pipe → B → consumer.
 * Per stream (printed per 100 streams): local = (A local − A idle) / K; piped, sending = (A piped − A idle) / K;
 * piped, receiving = (B piped − B idle) / K (B's pipe producer and its consumer). Packets counted at the sinks show that each phase
 * delivered the same traffic.
 */
import "./lib/quiet-sfu-log";
import dgram from "node:dgram";
import os from "node:os";
import { cpuTicks } from "../e2e/lib/media-faults";
import type { Room } from "../sfu-node/src/Room";
import { startLinkedNodes } from "../sfu-node/test/class-object";
import { countingStudent, eventually, recordingConnection, startVp8Sender, VP8_SENDER } from "../sfu-node/test/helpers";

const numbers = process.argv.slice(2).filter((arg) => /^\d+$/.test(arg));
const STREAMS = Number(numbers[0] ?? 100);
const ROUNDS = Number(numbers[1] ?? 3);
const SETTLE_MS = 4_000;
const MEASURE_MS = 15_000;
const WORKER_PORT = 8872;
/** Node A's ports start here; node B's right after A's window. */
const RTC_BASE_A = 47_100;
const CLASS_ID = "pipe-cost";
const RELAY_GROUPS = 10;
/** 10 groups × 6 ms: spread over most of a 15 fps frame interval. */
const RELAY_GROUP_SPACING_MS = 6;
/** /proc/<pid>/stat counts CPU time in these (USER_HZ). */
const TICKS_PER_SECOND = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Phase {
  /** Worker CPU, % of one core. */
  a: number;
  b: number;
  /** Packets the sinks got per second. */
  packetsPerSecond: number;
  /** Of the packets FFmpeg sent meanwhile times the consumers, how many reached the sinks. */
  delivered: number;
}

/** CPU of each worker over `MEASURE_MS`, and the packets the `consumers` sinks got meanwhile. */
async function measure(pids: { a: number; b: number }, sent: () => number, received: () => number, consumers: number): Promise<Phase> {
  await sleep(SETTLE_MS);
  const before = { a: cpuTicks(pids.a), b: cpuTicks(pids.b), sent: sent(), received: received(), at: Date.now() };
  await sleep(MEASURE_MS);
  const seconds = (Date.now() - before.at) / 1000;
  const percent = (ticks: number) => (ticks / TICKS_PER_SECOND / seconds) * 100;
  const got = received() - before.received;
  return {
    a: percent(cpuTicks(pids.a) - before.a),
    b: percent(cpuTicks(pids.b) - before.b),
    packetsPerSecond: got / seconds,
    delivered: consumers === 0 ? 0 : got / ((sent() - before.sent) * consumers),
  };
}

/**
 * K producers on `room`, each a plain transport fed by one FFmpeg sender through a relay that copies every packet to
 * each; and how many RTP packets FFmpeg sent so far.
 */
async function senders(room: Room, count: number, cleanups: (() => void)[]): Promise<{ producerIds: string[]; sent(): number }> {
  const targets: { rtp: number; rtcp: number }[] = [];
  const producerIds: string[] = [];
  for (let index = 0; index < count; index++) {
    const peer = room.addPeer({
      userId: `sender-${index}`,
      role: "teacher",
      produce: ["video"],
      displayName: `sender-${index}`,
      connection: recordingConnection(),
    });
    const input = await peer.createPlainTransport("send", { comedia: true, rtcpMux: false });
    const producer = await peer.producePlain(input, "video", {
      kind: "video",
      rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: VP8_SENDER.payloadType, clockRate: 90000 }], encodings: [{ ssrc: VP8_SENDER.ssrc }] },
    });
    targets.push({ rtp: input.tuple.localPort, rtcp: input.rtcpTuple!.localPort });
    producerIds.push(producer.id);
  }
  const bind = async () => {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    cleanups.push(() => socket.close());
    return socket;
  };
  const [rtp, rtcp] = [await bind(), await bind()];
  // Copies go out in ten groups spread over a frame interval, as independent cameras' packets would: all K copies in
  // the same millisecond would arrive at B as one burst in the pipe's single socket and overflow its buffer.
  let sent = 0;
  rtp.on("message", (packet) => {
    sent += 1;
    for (let group = 0; group < RELAY_GROUPS; group++) {
      setTimeout(() => {
        for (let index = group; index < targets.length; index += RELAY_GROUPS) rtp.send(packet, targets[index]!.rtp, "127.0.0.1");
      }, group * RELAY_GROUP_SPACING_MS);
    }
  });
  rtcp.on("message", (packet) => {
    for (const target of targets) rtcp.send(packet, target.rtcp, "127.0.0.1");
  });
  // A key frame every second: FFmpeg ignores PLI, and every new consumer waits for one.
  const ffmpeg = startVp8Sender(rtp.address().port, rtcp.address().port, 15);
  cleanups.push(() => ffmpeg.kill("SIGKILL"));
  return { producerIds, sent: () => sent };
}

/** One consumer of each producer on `room`; closes them when the returned function is called. */
async function consumers(room: Room, producerIds: string[], label: string, cleanups: (() => void)[]): Promise<{ packets(): number; close(): void }> {
  const own: (() => void)[] = [];
  const students = await Promise.all(producerIds.map((producerId, index) => countingStudent(room, `${label}-${index}`, producerId, own)));
  await eventually(() => students.every((s) => s.counter.count() > 0), 30_000, `RTP at every consumer on ${label}`);
  const close = () => {
    for (const { student } of students) student.close();
    for (const cleanup of own.splice(0)) cleanup();
  };
  cleanups.push(close);
  return { packets: () => students.reduce((sum, s) => sum + s.counter.count(), 0), close };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Stops what this process started (FFmpeg, sockets, nodes) however it ends: an orphaned FFmpeg would run on. */
const cleanups: (() => void)[] = [];
process.once("exit", () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

async function main(): Promise<void> {
  console.log(`pipe cost benchmark: ${STREAMS} streams, ${ROUNDS} rounds of ${MEASURE_MS / 1000} s phases; load average ${os.loadavg()[0]!.toFixed(1)}`);
  let world: Awaited<ReturnType<typeof startLinkedNodes>> | undefined;
  try {
    // Room for the senders' two ports each and a consumer's one on A; B needs one per consumer and the pipe's.
    const portsA = STREAMS * 3 + 20;
    const pipes = { announcedAddress: "127.0.0.1", idleCloseMs: 1_000 };
    world = await startLinkedNodes(WORKER_PORT, [
      { nodeId: "node-a", rtcBase: RTC_BASE_A, ports: portsA, pipes },
      { nodeId: "node-b", rtcBase: RTC_BASE_A + portsA + 20, ports: STREAMS + 20, pipes },
    ]);
    const nodeA = world.nodes.get("node-a")!;
    const nodeB = world.nodes.get("node-b")!;
    const pids = { a: nodeA.slots[0]!.worker.pid, b: nodeB.slots[0]!.worker.pid };
    const roomA = await nodeA.openRoom(CLASS_ID);
    const roomB = await nodeB.openRoom(CLASS_ID);
    // Someone on B keeps its room (and so its class link) open between the phases.
    roomB.addPeer({ userId: "keeper", role: "student", produce: [], displayName: "keeper", connection: recordingConnection() });
    const { producerIds, sent } = await senders(roomA, STREAMS, cleanups);
    const object = world.worker.objectFor(CLASS_ID);
    await eventually(() => producerIds.every((id) => object.producers.has(id)), 30_000, "node A reports every producer");

    const rows: { idle: Phase; local: Phase; piped: Phase }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const idle = await measure(pids, sent, () => 0, 0);
      const local = await consumers(roomA, producerIds, `local-${round}`, cleanups);
      const localFigures = await measure(pids, sent, local.packets, STREAMS);
      local.close();
      const piped = await consumers(roomB, producerIds, `piped-${round}`, cleanups);
      const pipedFigures = await measure(pids, sent, piped.packets, STREAMS);
      piped.close();
      rows.push({ idle, local: localFigures, piped: pipedFigures });
      const f = (value: number) => value.toFixed(1);
      console.log(
        `round ${round}: worker CPU % A / B — idle ${f(idle.a)} / ${f(idle.b)}; local ${f(localFigures.a)} / ${f(localFigures.b)} ` +
          `(${Math.round(localFigures.packetsPerSecond)} pkt/s at the sinks, ${(localFigures.delivered * 100).toFixed(1)} % of what FFmpeg sent); ` +
          `piped ${f(pipedFigures.a)} / ${f(pipedFigures.b)} (${Math.round(pipedFigures.packetsPerSecond)} pkt/s, ${(pipedFigures.delivered * 100).toFixed(1)} %); ` +
          `load average ${os.loadavg()[0]!.toFixed(1)}`,
      );
      // B closes its idle copies after a second; let them go before the next idle phase.
      await sleep(3_000);
    }

    // Per 100 streams rather than per stream: a single stream's share of a core is a few hundredths of a percent.
    const perStream = (values: number[]) => `${((median(values) / STREAMS) * 100).toFixed(1)} %`;
    const localA = rows.map((r) => r.local.a - r.idle.a);
    const pipedA = rows.map((r) => r.piped.a - r.idle.a);
    const pipedB = rows.map((r) => r.piped.b - r.idle.b);
    console.log("");
    console.log(`| worker CPU per 100 streams (${STREAMS} measured, median of ${ROUNDS} rounds, % of one core) | node A (sender's) | node B | both |`);
    console.log("| --- | --- | --- | --- |");
    console.log(`| local consumer on A | ${perStream(localA)} | – | ${perStream(localA)} |`);
    console.log(`| piped to B, one consumer there | ${perStream(pipedA)} | ${perStream(pipedB)} | ${perStream(rows.map((_, i) => pipedA[i]! + pipedB[i]!))} |`);
    console.log(
      `packets per second per consumer: local ${Math.round(median(rows.map((r) => r.local.packetsPerSecond)) / STREAMS)}, ` +
        `piped ${Math.round(median(rows.map((r) => r.piped.packetsPerSecond)) / STREAMS)}; ` +
        `A idle with ${STREAMS} producers: ${median(rows.map((r) => r.idle.a)).toFixed(1)} %; load average now ${os.loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await world?.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
