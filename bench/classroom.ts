/**
 * Class channel benchmark (prints figures; not a test).
 *
 *   npm run bench:classroom                      # 300 and 1,000 clients, bare baseline and ours
 *   npm run bench:classroom -- 1000              # only the sizes given
 *   npm run bench:classroom -- 1000 --modes=bare,edge,ours
 *
 * Starts `wrangler dev` on port 8821 (BENCH_PORT) with its own state (/tmp/channel-state, BENCH_STATE_DIR) and a
 * bench-only entry (bench/bare-room/worker.ts: the real Worker plus a minimal broadcast-only partyserver room),
 * seeds users and one class per size straight into the local D1, signs class tokens with the Worker's key from
 * .dev.vars (exactly what the join route signs), and then for each size and mode:
 *   1. joins N WebSocket clients (at most 100 opening at once) and times until every one has its snapshot;
 *   2. chats at 5 messages/s for 10 s, then at 50 messages/s for 10 s, from random students, and measures the
 *      delay from send to each receiver (p50/p99), deliveries per second, and deliveries lost.
 * Modes, run one after the other in the same wrangler dev so a busy machine weighs on all of them alike:
 *   - `bare`: the bare room with no edge check (the runtime's floor: wrangler dev's proxy, sockets, one broadcast
 *     per message);
 *   - `edge`: the same bare room behind the real edge (class-token verification and D1 block check);
 *   - `ours`: the Classroom object through the real edge.
 * Every loop is bounded; wrangler is stopped at the end.
 */
import path from "node:path";
import WebSocket from "ws";
import { classTokenSigner, loadAverage, percentile, prepareState, repoRoot, seedClass, startBenchStack } from "./lib/bench-wrangler";
import { workerdCpuSeconds } from "./lib/process-tree";
import { startProfile } from "./profile";

const PORT = Number(process.env.BENCH_PORT ?? 8821);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/channel-state";
const BASE = `http://127.0.0.1:${PORT}`;
const OPEN_CONCURRENCY = 100;
const PHASE_SECONDS = 10;
/** After the last send, how long to wait for stragglers before counting losses. */
const DRAIN_MS = 5_000;
const SIZES = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const MODES = ["bare", "edge", "ours"] as const;
type Mode = (typeof MODES)[number];
const modesArg = process.argv.find((a) => a.startsWith("--modes="));
/** `--profile`: record a CPU profile of the Worker's isolate (edge and objects) while `ours` joins; see profile.ts. */
const PROFILE = process.argv.includes("--profile");
const INSPECTOR_PORT = PORT + 1;
/**
 * The bare room sends one broadcast per message, so at 50 msg/s to 1,000 sockets it falls minutes behind (the
 * issue's point) and its backlog would weigh on the next mode: the bare modes only chat at 5 msg/s.
 */
const RATES: Record<Mode, number[]> = { bare: [5], edge: [5], ours: [5, 50] };
const RUN_MODES: Mode[] = modesArg ? (modesArg.slice("--modes=".length).split(",") as Mode[]) : ["bare", "ours"];
for (const mode of RUN_MODES) if (!MODES.includes(mode)) throw new Error(`Unknown mode ${mode}: use ${MODES.join(", ")}`);

interface Client {
  socket: WebSocket;
  userId: string;
  snapshotAt: number | null;
  /** message body tag → receive time */
  received: Map<string, number>;
}

function socketUrl(mode: Mode, classId: string, token: string): string {
  switch (mode) {
    case "bare":
      return `ws://127.0.0.1:${PORT}/bench-bare/bare-room/${classId}`;
    case "edge":
      return `ws://127.0.0.1:${PORT}/parties/bare-room/${classId}?token=${encodeURIComponent(token)}`;
    case "ours":
      return `ws://127.0.0.1:${PORT}/parties/classroom/${classId}?token=${encodeURIComponent(token)}`;
  }
}

function connect(url: string, userId: string, collect: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const client: Client = { socket, userId, snapshotAt: null, received: new Map() };
    const timer = setTimeout(() => reject(new Error(`no snapshot for ${userId} within 60 s`)), 60_000);
    socket.on("message", (data) => {
      const now = performance.now();
      const text = data.toString();
      if (text === "pong") return;
      if (client.snapshotAt === null && text.startsWith('{"notification":"snapshot"')) {
        client.snapshotAt = now;
        clearTimeout(timer);
        resolve(client);
        return;
      }
      if (!collect || !text.startsWith('{"notification":"events"')) return;
      for (const event of (JSON.parse(text) as { data: { events: { type: string; message?: { body: string } }[] } }).data.events) {
        if (event.type === "chat.message" && event.message) client.received.set(event.message.body, now);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function chatPhase(clients: Client[], ratePerSecond: number) {
  const sent = new Map<string, number>();
  const intervalMs = 1000 / ratePerSecond;
  const total = ratePerSecond * PHASE_SECONDS;
  const students = clients.slice(1);
  const started = performance.now();
  for (let i = 0; i < total; i += 1) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sender = students[i % students.length]!;
    const body = `bench-${ratePerSecond}-${i}-${Math.random().toString(36).slice(2, 8)}`;
    sent.set(body, performance.now());
    sender.socket.send(JSON.stringify({ id: i + 1, method: "chat.send", data: { clientMessageId: body, body } }));
  }
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  const latencies: number[] = [];
  let lost = 0;
  let lastDelivery = started;
  for (const [body, at] of sent) {
    for (const client of clients) {
      const got = client.received.get(body);
      if (got === undefined) lost += 1;
      else {
        latencies.push(got - at);
        lastDelivery = Math.max(lastDelivery, got);
      }
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    sent: sent.size,
    deliveries: latencies.length,
    lost,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    deliveriesPerSecond: latencies.length / ((lastDelivery - started) / 1000),
  };
}

/** The wrangler dev process; its workerd descendants (the proxy and the Worker with its objects) are measured. */
let wranglerPid: number | undefined;

/**
 * CPU seconds (user + system) used so far by wrangler's workerd processes and by this process. On a shared,
 * busy machine wall-clock figures swing with everyone else's load; the CPU a phase costs the runtime does not,
 * so it is the steadier way to compare modes and changes.
 */
function cpuSeconds(): { workerd: number; bench: number } {
  const own = process.cpuUsage();
  return { workerd: wranglerPid === undefined ? 0 : workerdCpuSeconds(wranglerPid), bench: (own.user + own.system) / 1e6 };
}

function cpuSince(start: ReturnType<typeof cpuSeconds>): string {
  const now = cpuSeconds();
  return `CPU: workerd ${(now.workerd - start.workerd).toFixed(1)} s, bench client ${(now.bench - start.bench).toFixed(1)} s`;
}

interface ModeFigures {
  joinSeconds: number;
  joinWorkerdCpu: number;
  chat: Awaited<ReturnType<typeof chatPhase>>[];
}

async function benchMode(mode: Mode, size: number, sign: Awaited<ReturnType<typeof classTokenSigner>>): Promise<ModeFigures> {
  // A fresh class (and room) per mode, so no mode inherits another's sockets or state.
  const { classId, teacherId, studentIds } = seedClass(STATE_DIR, size);
  const people: [string, "teacher" | "student"][] = [[teacherId, "teacher"], ...studentIds.map((id) => [id, "student"] as [string, "student"])];
  const tokens = await Promise.all(people.map(([id, role]) => sign(classId, id, role)));
  const clients: Client[] = new Array(people.length);
  const profiler =
    PROFILE && mode === "ours"
      ? await startProfile(INSPECTOR_PORT).catch((error: unknown) => {
          console.log(`  (no CPU profile: ${String(error)})`);
          return null;
        })
      : null;
  const joinCpu = cpuSeconds();
  const joinStart = performance.now();
  // A sliding window: a new socket opens as soon as one of the OPEN_CONCURRENCY in flight has its snapshot.
  let next = 0;
  const opener = async () => {
    while (next < people.length) {
      const index = next++;
      clients[index] = await connect(socketUrl(mode, classId, tokens[index]!), people[index]![0], true);
    }
  };
  await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, opener));
  const joinSeconds = (Math.max(...clients.map((c) => c.snapshotAt!)) - joinStart) / 1000;
  const joinWorkerdCpu = cpuSeconds().workerd - joinCpu.workerd;
  const joinCpuText = cpuSince(joinCpu);
  if (profiler) await profiler.stop(path.join(STATE_DIR, `join-${size}.cpuprofile`));
  console.log(`\n${size} clients, ${mode}: all snapshots in ${joinSeconds.toFixed(2)} s (load average ${loadAverage()}; ${joinCpuText})`);
  const heartbeat = setInterval(() => {
    for (const c of clients) if (c.socket.readyState === WebSocket.OPEN) c.socket.send("ping");
  }, 20_000);
  await new Promise((r) => setTimeout(r, 1_500));
  const chat: ModeFigures["chat"] = [];
  for (const rate of RATES[mode]) {
    const phaseCpu = cpuSeconds();
    const r = await chatPhase(clients, rate);
    chat.push(r);
    console.log(
      `  chat ${rate}/s for ${PHASE_SECONDS} s: ${r.sent} messages, ${r.deliveries} deliveries, lost ${r.lost}, ` +
        `p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s (load average ${loadAverage()}; ${cpuSince(phaseCpu)} incl. ${DRAIN_MS / 1000} s drain)`,
    );
  }
  clearInterval(heartbeat);
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.socket.once("close", () => resolve());
          c.socket.close(1000, "bench done");
          setTimeout(resolve, 2_000);
        }),
    ),
  );
  return { joinSeconds, joinWorkerdCpu, chat };
}

/** Ours against the bare room measured minutes earlier on the same machine: how much the channel adds. */
function printRatios(size: number, figures: Partial<Record<Mode, ModeFigures>>): void {
  const bare = figures.bare;
  if (!bare) return;
  for (const mode of ["edge", "ours"] as const) {
    const f = figures[mode];
    if (!f) continue;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `  ${size} clients, ${mode} / bare: joins ×${ratio(f.joinSeconds, bare.joinSeconds)} (workerd CPU ×${ratio(f.joinWorkerdCpu, bare.joinWorkerdCpu)}), ` +
        f.chat.flatMap((c, i) => (bare.chat[i] ? [`${c.sent / PHASE_SECONDS} msg/s p99 ×${ratio(c.p99, bare.chat[i]!.p99)}`] : [])).join(", "),
    );
  }
}

async function benchSize(size: number, sign: Awaited<ReturnType<typeof classTokenSigner>>): Promise<void> {
  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const mode of RUN_MODES) figures[mode] = await benchMode(mode, size, sign);
  printRatios(size, figures);
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
    for (const size of SIZES.length > 0 ? SIZES : [300, 1000]) await benchSize(size, sign);
  } finally {
    stack.stop();
  }
}

await main();
