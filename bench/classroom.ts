/**
 * Class channel benchmark (prints figures; not a test).
 *
 *   npm run bench:classroom                      # 300, 1,000 and 3,000 clients, bare baseline and ours
 *   npm run bench:classroom -- 1000              # only the sizes given
 *   npm run bench:classroom -- 1000 --modes=bare,edge,ours,sharded
 *
 * Starts `wrangler dev` on port 8821 (BENCH_PORT) with its own state (/tmp/channel-state, BENCH_STATE_DIR) and a
 * bench-only entry (bench/bare-room/worker.ts: the real Worker plus a minimal broadcast-only partyserver room),
 * seeds users and one class per size straight into the local D1, signs class tokens with the Worker's key from
 * .dev.vars (exactly what the join route signs), and then for each size and mode:
 *   1. joins N WebSocket clients (at most 100 opening at once) and times until every one has its snapshot;
 *   2. chats at 5 messages/s for 10 s, then at 50 messages/s for 10 s, from random students, and measures the
 *      delay from send to each receiver (p50/p99), deliveries per second, and deliveries lost.
 * The sockets live in BENCH_HERDS child processes (default 4, bench/lib/chat-herd.ts), not in this one, so the
 * client's own event loop is not what is measured; their CPU is printed as "bench client" next to workerd's.
 * Modes, run one after the other in the same wrangler dev so a busy machine weighs on all of them alike:
 *   - `bare`: the bare room with no edge check (the runtime's floor: wrangler dev's proxy, sockets, one broadcast
 *     per message);
 *   - `edge`: the same bare room behind the real edge (class-token verification and D1 block check);
 *   - `ours`: the Classroom object through the real edge;
 *   - `sharded`: the same class spread over fan-out objects (durable-objects/ClassroomShard.ts), one per
 *     BENCH_FAN_OUT_SOCKETS clients (default 1000, as CLASS_FAN_OUT_SOCKETS): the tokens name them, as the join route signs them for a
 *     class above CLASS_FAN_OUT_ABOVE enrolled students.
 * Every loop is bounded; wrangler is stopped at the end.
 */
import path from "node:path";
import { type ChatHerd, forkChatHerd, type JoinTraffic, wallNow } from "./lib/chat-herd";
import { classTokenSigner, loadAverage, percentile, prepareState, repoRoot, seedClass, startBenchStack } from "./lib/bench-wrangler";
import { processTree, workerdCpuSeconds } from "./lib/process-tree";
import { startProfile } from "./profile";
import { MAX_FAN_OUT } from "../schema/protocol/fan-out";

const PORT = Number(process.env.BENCH_PORT ?? 8821);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/channel-state";
const BASE = `http://127.0.0.1:${PORT}`;
const OPEN_CONCURRENCY = 100;
/** Child processes holding the sockets (bench/lib/chat-herd.ts). */
const HERDS = Math.max(1, Number(process.env.BENCH_HERDS ?? 4));
const PHASE_SECONDS = 10;
/** After the last send, how long to wait for stragglers before counting losses. */
const DRAIN_MS = 5_000;
const DEFAULT_SIZES = [300, 1000, 3000];
/** Between the last snapshot and the first chat message (BENCH_QUIET_MS). */
const QUIET_BEFORE_CHAT_MS = Number(process.env.BENCH_QUIET_MS ?? 1_500);
const SIZES = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const MODES = ["bare", "edge", "ours", "sharded"] as const;
/** Clients per fan-out object in the `sharded` mode. */
const FAN_OUT_SOCKETS = Math.max(1, Number(process.env.BENCH_FAN_OUT_SOCKETS ?? 1000));
type Mode = (typeof MODES)[number];
const modesArg = process.argv.find((a) => a.startsWith("--modes="));
/** `--profile`: record a CPU profile of the Worker's isolate (edge and objects) while `ours` joins; see profile.ts. */
const PROFILE = process.argv.includes("--profile");
const INSPECTOR_PORT = PORT + 1;
/**
 * The bare room sends one broadcast per message, so at 50 msg/s to 1,000 sockets it falls minutes behind (the
 * issue's point) and its backlog would weigh on the next mode: the bare modes only chat at 5 msg/s.
 */
const RATES: Record<Mode, number[]> = { bare: [5], edge: [5], ours: [5, 50], sharded: [5, 50] };
const RUN_MODES: Mode[] = modesArg ? (modesArg.slice("--modes=".length).split(",") as Mode[]) : ["bare", "ours", "sharded"];
for (const mode of RUN_MODES) if (!MODES.includes(mode)) throw new Error(`Unknown mode ${mode}: use ${MODES.join(", ")}`);

/** Where a participant's socket lives: which herd, and its index there. */
interface Seat {
  herd: number;
  socket: number;
}

function socketUrl(mode: Mode, classId: string, token: string): string {
  switch (mode) {
    case "bare":
      return `ws://127.0.0.1:${PORT}/bench-bare/bare-room/${classId}`;
    case "edge":
      return `ws://127.0.0.1:${PORT}/parties/bare-room/${classId}?token=${encodeURIComponent(token)}`;
    case "ours":
    case "sharded":
      return `ws://127.0.0.1:${PORT}/parties/classroom/${classId}?token=${encodeURIComponent(token)}`;
  }
}

/** Chat from random students at `ratePerSecond` for {@link PHASE_SECONDS}; latency from send to each receipt. */
async function chatPhase(herds: ChatHerd[], people: Seat[], ratePerSecond: number) {
  const intervalMs = 1000 / ratePerSecond;
  const total = ratePerSecond * PHASE_SECONDS;
  const students = people.slice(1);
  const started = performance.now();
  const startedWall = wallNow();
  for (let i = 0; i < total; i += 1) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sender = students[i % students.length]!;
    herds[sender.herd]!.send(sender.socket, `bench-${ratePerSecond}-${i}-${Math.random().toString(36).slice(2, 8)}`, i + 1);
  }
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  const collected = await Promise.all(herds.map((herd) => herd.collect()));
  const sent = new Map<string, number>();
  for (const c of collected) for (const [body, at] of Object.entries(c.sent)) sent.set(body, at);
  const latencies: number[] = [];
  /** Latencies by the second of the phase in which the message was sent: shows whether slow deliveries cluster. */
  const bySecond: number[][] = Array.from({ length: PHASE_SECONDS }, () => []);
  let deliveries = 0;
  let lastDelivery = startedWall;
  for (const c of collected) {
    for (const [body, times] of Object.entries(c.received)) {
      const at = sent.get(body);
      if (at === undefined) continue;
      const second = bySecond[Math.min(PHASE_SECONDS - 1, Math.floor((at - startedWall) / 1000))]!;
      for (const got of times) {
        latencies.push(got - at);
        second.push(got - at);
        lastDelivery = Math.max(lastDelivery, got);
      }
      deliveries += times.length;
    }
  }
  latencies.sort((a, b) => a - b);
  for (const second of bySecond) second.sort((a, b) => a - b);
  const replies = collected.flatMap((c) => c.replyMs).sort((a, b) => a - b);
  return {
    sent: sent.size,
    deliveries,
    lost: sent.size * people.length - deliveries,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p99BySecond: bySecond.map((second) => percentile(second, 99)),
    /** From a send to its sender's reply: the object's own delay, before any fan-out. */
    reply: { p50: percentile(replies, 50), p99: percentile(replies, 99) },
    deliveriesPerSecond: deliveries / ((lastDelivery - startedWall) / 1000),
  };
}

/** The wrangler dev process; its workerd descendants (the proxy and the Worker with its objects) are measured. */
let wranglerPid: number | undefined;

/**
 * CPU seconds (user + system) used so far by wrangler's workerd processes and by the bench client (this process
 * and its socket herds). On a shared, busy machine wall-clock figures swing with everyone else's load; the CPU a
 * phase costs the runtime does not, so it is the steadier way to compare modes and changes.
 */
function cpuSeconds(): { workerd: number; bench: number } {
  const own = process.cpuUsage();
  return { workerd: wranglerPid === undefined ? 0 : workerdCpuSeconds(wranglerPid), bench: (own.user + own.system) / 1e6 + herdCpuSeconds() };
}

/** CPU seconds of the live socket herds (child processes running bench/lib/chat-herd.ts). */
function herdCpuSeconds(): number {
  return processTree(process.pid)
    .filter((child) => child.cmdline.includes("chat-herd"))
    .reduce((sum, child) => sum + child.cpuSeconds, 0);
}

function cpuSince(start: ReturnType<typeof cpuSeconds>): string {
  const now = cpuSeconds();
  return `CPU: workerd ${(now.workerd - start.workerd).toFixed(1)} s, bench client ${(now.bench - start.bench).toFixed(1)} s`;
}

interface ModeFigures {
  joinSeconds: number;
  joinWorkerdCpu: number;
  joinBenchCpu: number;
  joinLoad: string;
  /** The teacher's snapshot and the largest student snapshot, in bytes. */
  snapshotBytes: { teacher: number; student: number };
  chat: (Awaited<ReturnType<typeof chatPhase>> & { rate: number; workerdCpu: number; benchCpu: number; load: string })[];
}

/** The teacher's snapshot (herd 0, socket 0) and the largest student's, from what the herds counted. */
function snapshotSizes(traffic: JoinTraffic[]): ModeFigures["snapshotBytes"] {
  let student = 0;
  traffic.forEach((t, herd) => {
    t.snapshotBytes.forEach((bytes, socket) => {
      if (herd !== 0 || socket !== 0) student = Math.max(student, bytes);
    });
  });
  return { teacher: traffic[0]?.snapshotBytes[0] ?? 0, student };
}

async function benchMode(mode: Mode, size: number, sign: Awaited<ReturnType<typeof classTokenSigner>>): Promise<ModeFigures> {
  // A fresh class (and room) per mode, so no mode inherits another's sockets or state.
  const { classId, teacherId, studentIds } = seedClass(STATE_DIR, size);
  const people: [string, "teacher" | "student"][] = [[teacherId, "teacher"], ...studentIds.map((id) => [id, "student"] as [string, "student"])];
  const fanOut = mode === "sharded" ? Math.min(MAX_FAN_OUT, Math.ceil(people.length / FAN_OUT_SOCKETS)) : undefined;
  const tokens = await Promise.all(people.map(([id, role]) => sign(classId, id, role, fanOut)));
  // Everyone gets a seat in one of the herds, round robin (the teacher in the first).
  const herds = Array.from({ length: HERDS }, () => forkChatHerd());
  // Wait until every herd answers (tsx has compiled it), so its start-up is not counted as the joins' CPU.
  await Promise.all(herds.map((herd) => herd.collect()));
  const seats: Seat[] = people.map((_, index) => ({ herd: index % HERDS, socket: Math.floor(index / HERDS) }));
  const urls = herds.map((_, herd) => people.flatMap((_, index) => (index % HERDS === herd ? [socketUrl(mode, classId, tokens[index]!)] : [])));
  const profiler =
    PROFILE && (mode === "ours" || mode === "sharded")
      ? await startProfile(INSPECTOR_PORT).catch((error: unknown) => {
          console.log(`  (no CPU profile: ${String(error)})`);
          return null;
        })
      : null;
  const joinCpu = cpuSeconds();
  const joinStart = wallNow();
  const opened = await Promise.all(herds.map((herd, index) => herd.open(urls[index]!, Math.ceil(OPEN_CONCURRENCY / HERDS))));
  // What the herds received while joining is not chat: start the count from here.
  await Promise.all(herds.map((herd) => herd.collect()));
  const joinSeconds = (Math.max(...opened.flatMap((o) => o.snapshotAts)) - joinStart) / 1000;
  const joinEnd = cpuSeconds();
  const joinLoad = loadAverage();
  const traffic = opened.map((o) => o.traffic);
  const snapshotBytes = snapshotSizes(traffic);
  const otherFrames = traffic.reduce((sum, t) => sum + t.otherFrames, 0);
  const joinMegabytes = traffic.reduce((sum, t) => sum + t.bytes, 0) / 1e6;
  if (profiler) await profiler.stop(path.join(STATE_DIR, `join-${size}-${mode}.cpuprofile`));
  console.log(
    `\n${size} clients, ${mode}${fanOut ? ` (${fanOut} fan-out object${fanOut === 1 ? "" : "s"})` : ""}: all snapshots in ${joinSeconds.toFixed(2)} s (load average ${joinLoad}; ${cpuSince(joinCpu)}); ` +
      `snapshot ${snapshotBytes.teacher} bytes for the teacher, at most ${snapshotBytes.student} for a student; ` +
      `${otherFrames} other frames and ${joinMegabytes.toFixed(1)} MB in all reached the clients while they joined`,
  );
  await new Promise((r) => setTimeout(r, QUIET_BEFORE_CHAT_MS));
  const chat: ModeFigures["chat"] = [];
  for (const rate of RATES[mode]) {
    const phaseCpu = cpuSeconds();
    const r = await chatPhase(herds, seats, rate);
    const phaseEnd = cpuSeconds();
    const load = loadAverage();
    chat.push({ ...r, rate, workerdCpu: phaseEnd.workerd - phaseCpu.workerd, benchCpu: phaseEnd.bench - phaseCpu.bench, load });
    console.log(
      `  chat ${rate}/s for ${PHASE_SECONDS} s: ${r.sent} messages, ${r.deliveries} deliveries, lost ${r.lost}, ` +
        `p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s (load average ${load}; ${cpuSince(phaseCpu)} incl. ${DRAIN_MS / 1000} s drain)\n` +
        `    p99 by second of sending: ${r.p99BySecond.map((ms) => ms.toFixed(0)).join(", ")} ms; the sender's reply p50 ${r.reply.p50.toFixed(0)} ms, p99 ${r.reply.p99.toFixed(0)} ms`,
    );
  }
  for (const herd of herds) herd.close();
  await new Promise((r) => setTimeout(r, 2_000));
  return {
    joinSeconds,
    joinWorkerdCpu: joinEnd.workerd - joinCpu.workerd,
    joinBenchCpu: joinEnd.bench - joinCpu.bench,
    joinLoad,
    snapshotBytes,
    chat,
  };
}

/** Ours against the bare room measured minutes earlier on the same machine: how much the channel adds. */
function printRatios(size: number, figures: Partial<Record<Mode, ModeFigures>>): void {
  const bare = figures.bare;
  if (!bare) return;
  for (const mode of ["edge", "ours", "sharded"] as const) {
    const f = figures[mode];
    if (!f) continue;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `  ${size} clients, ${mode} / bare: joins ×${ratio(f.joinSeconds, bare.joinSeconds)} (workerd CPU ×${ratio(f.joinWorkerdCpu, bare.joinWorkerdCpu)}), ` +
        f.chat.flatMap((c, i) => (bare.chat[i] ? [`${c.sent / PHASE_SECONDS} msg/s p99 ×${ratio(c.p99, bare.chat[i]!.p99)}`] : [])).join(", "),
    );
  }
}

async function benchSize(size: number, sign: Awaited<ReturnType<typeof classTokenSigner>>): Promise<Partial<Record<Mode, ModeFigures>>> {
  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const mode of RUN_MODES) figures[mode] = await benchMode(mode, size, sign);
  printRatios(size, figures);
  return figures;
}

/** Every figure of the run as one Markdown table, the shape README's table takes. */
function printTable(results: Map<number, Partial<Record<Mode, ModeFigures>>>): void {
  const ms = (n: number) => `${Math.round(n).toLocaleString("en")}`;
  const chatCell = (f: ModeFigures, rate: number) => {
    const c = f.chat.find((phase) => phase.rate === rate);
    return c ? `${ms(c.p50)} / ${ms(c.p99)} ms` : "not run";
  };
  const rows = [
    "| clients | mode | all snapshots | workerd CPU / client CPU (joins) | snapshot bytes (teacher / student) | 5 msg/s p50 / p99 | 50 msg/s p50 / p99 | lost | deliveries/s at the highest rate | load average (joins, chat) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [size, figures] of results) {
    for (const mode of RUN_MODES) {
      const f = figures[mode];
      if (!f) continue;
      const last = f.chat[f.chat.length - 1];
      rows.push(
        `| ${size.toLocaleString("en")} | ${mode} | ${f.joinSeconds.toFixed(2)} s | ${f.joinWorkerdCpu.toFixed(1)} s / ${f.joinBenchCpu.toFixed(1)} s | ` +
          `${f.snapshotBytes.teacher.toLocaleString("en")} / ${f.snapshotBytes.student.toLocaleString("en")} | ${chatCell(f, 5)} | ${chatCell(f, 50)} | ` +
          `${f.chat.map((c) => c.lost).join(" / ")} | ${last ? `${ms(last.deliveriesPerSecond)} (${last.rate} msg/s)` : ""} | ${f.joinLoad}, ${f.chat.map((c) => c.load).join(", ")} |`,
      );
    }
  }
  console.log(`\nAll figures (${new Date().toISOString()}, ${HERDS} herds):\n${rows.join("\n")}`);
}

async function main(): Promise<void> {
  prepareState(STATE_DIR);
  const sign = await classTokenSigner();
  const stack = await startBenchStack({
    port: PORT,
    stateDir: STATE_DIR,
    main: path.join(repoRoot, "bench/bare-room/worker.ts"),
    extraConfig: `[[durable_objects.bindings]]\nname = "BARE_ROOM"\nclass_name = "BareRoom"\n\n[[migrations]]\ntag = "bench-bare"\nnew_sqlite_classes = ["BareRoom"]\n`,
    inspectorPort: INSPECTOR_PORT,
  });
  wranglerPid = stack.pid;
  try {
    console.log(`class channel benchmark against wrangler dev on ${BASE} (${new Date().toISOString()}; modes ${RUN_MODES.join(", ")})`);
    const results = new Map<number, Partial<Record<Mode, ModeFigures>>>();
    for (const size of SIZES.length > 0 ? SIZES : DEFAULT_SIZES) results.set(size, await benchSize(size, sign));
    printTable(results);
  } finally {
    stack.stop();
  }
}

await main();
