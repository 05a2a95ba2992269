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
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { importJWK, type JWK, SignJWT } from "jose";
import WebSocket from "ws";
import { CLASS_TOKEN_AUDIENCE, CLASS_TOKEN_ISSUER } from "../schema/tokens/class-token";
import { startProfile } from "./profile";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = Number(process.env.BENCH_PORT ?? 8821);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/channel-state";
const BASE = `http://127.0.0.1:${PORT}`;
const OPEN_CONCURRENCY = 100;
const PHASE_SECONDS = 10;
/** After the last send, how long to wait for stragglers before counting losses. */
const DRAIN_MS = 5_000;
const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
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

function run(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } });
}

function devVar(name: string): string {
  const line = readFileSync(path.join(repoRoot, ".dev.vars"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`${name} is missing from .dev.vars`);
  return line.slice(name.length + 1).replace(/^(['"])(.*)\1$/, "$2");
}

/**
 * wrangler.toml with bench/bare-room/worker.ts as `main` and the bare room's binding added, written into the state
 * directory (with a copy of .dev.vars, which wrangler reads next to its config); paths made absolute. The Worker
 * is bundled once into the state directory and `wrangler dev` runs that bundle (`--no-bundle`): it would
 * otherwise rebuild and restart, dropping every socket, whenever someone edits a source file mid-run.
 */
function writeBenchConfig(): string {
  const config = readFileSync(path.join(repoRoot, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = "${path.join(repoRoot, "bench/bare-room/worker.ts")}"`)
    // An empty assets directory of its own: wrangler dev restarts when the assets change (someone building web/).
    .replace(/^directory = "(.*)"$/m, `directory = "${path.join(STATE_DIR, "assets")}"`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, dir: string) => `migrations_dir = "${path.join(repoRoot, dir)}"`)
    .replace(/^run_worker_first = \[/m, `run_worker_first = ["/bench-bare/*", `);
  const file = path.join(STATE_DIR, "wrangler.toml");
  writeFileSync(
    file,
    `${config}\n[[durable_objects.bindings]]\nname = "BARE_ROOM"\nclass_name = "BareRoom"\n\n[[migrations]]\ntag = "bench-bare"\nnew_sqlite_classes = ["BareRoom"]\n`,
  );
  mkdirSync(path.join(STATE_DIR, "assets"), { recursive: true });
  copyFileSync(path.join(repoRoot, ".dev.vars"), path.join(STATE_DIR, ".dev.vars"));
  const bundleDir = path.join(STATE_DIR, "bundle");
  run("npx", ["wrangler", "deploy", "--dry-run", "--config", file, "--outdir", bundleDir]);
  writeFileSync(file, readFileSync(file, "utf8").replace(/^main = .*$/m, `main = "${path.join(bundleDir, "worker.js")}"`));
  return file;
}

async function startWrangler(): Promise<ChildProcess> {
  const child = spawn("npx", ["wrangler", "dev", "--config", writeBenchConfig(), "--port", String(PORT), "--ip", "127.0.0.1", "--persist-to", STATE_DIR, "--test-scheduled=false", "--no-bundle", "--inspector-port", String(INSPECTOR_PORT)], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (/error/i.test(text) && !/outbox/.test(text)) process.stderr.write(`[wrangler] ${text}`);
  });
  child.stdout!.resume();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${BASE}/api/health`)).ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  stopWrangler(child);
  throw new Error("wrangler dev did not answer /api/health within 120 s");
}

function stopWrangler(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // already gone
  }
}

/** Users, a class with an occurrence on now, and enrollments: one SQL file into the local D1. */
function seed(size: number): { classId: string; teacherId: string; studentIds: string[] } {
  const now = Date.now();
  const classId = `bench-class-${size}-${now}`;
  const teacherId = `bench-teacher-${size}-${now}`;
  const studentIds = Array.from({ length: size - 1 }, (_, i) => `bench-student-${size}-${now}-${i}`);
  const user = (id: string, role: string) =>
    `('${id}','${id}@bench.test','${id}','${role}','UTC',1,0,'${id}-secret',${now},${now})`;
  const users = [user(teacherId, "teacher"), ...studentIds.map((id) => user(id, "student"))];
  const statements: string[] = [];
  // SQLite refuses very long statements: insert in chunks.
  for (let i = 0; i < users.length; i += 200) {
    statements.push(`INSERT INTO users (id,email,display_name,role,timezone,remind_by_email,remind_by_sms,calendar_secret,created_at,updated_at) VALUES ${users.slice(i, i + 200).join(",")};`);
  }
  statements.push(`INSERT INTO classes (id,title,teacher_id,created_at,updated_at) VALUES ('${classId}','Bench ${size}','${teacherId}',${now},${now});`);
  statements.push(`INSERT INTO occurrences (id,class_id,starts_at,ends_at,timezone,created_at,updated_at) VALUES ('${classId}-o','${classId}',${now - 60_000},${now + 3_600_000},'UTC',${now},${now});`);
  for (let i = 0; i < studentIds.length; i += 200) {
    statements.push(`INSERT INTO enrollments (class_id,user_id,created_at) VALUES ${studentIds.slice(i, i + 200).map((id) => `('${classId}','${id}',${now})`).join(",")};`);
  }
  const file = path.join(STATE_DIR, `seed-${size}.sql`);
  writeFileSync(file, statements.join("\n"));
  run("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", STATE_DIR, "--file", file]);
  return { classId, teacherId, studentIds };
}

async function tokenSigner() {
  const jwk = JSON.parse(devVar("WORKER_SIGNING_KEY")) as JWK;
  const key = await importJWK({ ...jwk, alg: "ES256" }, "ES256");
  return (classId: string, userId: string, role: "student" | "teacher") =>
    new SignJWT({ classId, displayName: userId.slice(-12), role, occurrenceId: `${classId}-o` })
      .setProtectedHeader({ alg: "ES256", kid: jwk.kid ?? "worker-key", typ: "JWT" })
      .setIssuer(CLASS_TOKEN_ISSUER)
      .setAudience(CLASS_TOKEN_AUDIENCE)
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(key);
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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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
  const children = new Map<number, number[]>();
  const comm = new Map<number, string>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command: state ppid … utime(14) stime(15).
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      comm.set(pid, stat.slice(stat.indexOf("(") + 1, close));
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // The process ended while we looked.
    }
  }
  let workerdTicks = 0;
  const walk = (pid: number) => {
    if (comm.get(pid) === "workerd") workerdTicks += ticks.get(pid) ?? 0;
    for (const child of children.get(pid) ?? []) walk(child);
  };
  if (wranglerPid !== undefined) walk(wranglerPid);
  const own = process.cpuUsage();
  return { workerd: workerdTicks / CLOCK_TICKS_PER_SECOND, bench: (own.user + own.system) / 1e6 };
}

/** Linux's USER_HZ for /proc/<pid>/stat times. */
const CLOCK_TICKS_PER_SECOND = 100;

function cpuSince(start: ReturnType<typeof cpuSeconds>): string {
  const now = cpuSeconds();
  return `CPU: workerd ${(now.workerd - start.workerd).toFixed(1)} s, bench client ${(now.bench - start.bench).toFixed(1)} s`;
}

interface ModeFigures {
  joinSeconds: number;
  joinWorkerdCpu: number;
  chat: Awaited<ReturnType<typeof chatPhase>>[];
}

async function benchMode(mode: Mode, size: number, sign: Awaited<ReturnType<typeof tokenSigner>>): Promise<ModeFigures> {
  // A fresh class (and room) per mode, so no mode inherits another's sockets or state.
  const { classId, teacherId, studentIds } = seed(size);
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

function loadAverage(): string {
  return os.loadavg()[0]!.toFixed(1);
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
        f.chat
          .flatMap((c, i) => (bare.chat[i] ? [`${c.sent / PHASE_SECONDS} msg/s p99 ×${ratio(c.p99, bare.chat[i]!.p99)}`] : []))
          .join(", "),
    );
  }
}

async function benchSize(size: number, sign: Awaited<ReturnType<typeof tokenSigner>>): Promise<void> {
  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const mode of RUN_MODES) figures[mode] = await benchMode(mode, size, sign);
  printRatios(size, figures);
}

async function main(): Promise<void> {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  run("npx", ["tsx", "scripts/dev-vars.ts"]);
  run("mkdir", ["-p", "web/dist"]);
  run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR]);
  const sign = await tokenSigner();
  const wrangler = await startWrangler();
  wranglerPid = wrangler.pid;
  try {
    console.log(`class channel benchmark against wrangler dev on ${BASE} (${new Date().toISOString()}; modes ${RUN_MODES.join(", ")})`);
    for (const size of SIZES.length > 0 ? SIZES : [300, 1000]) await benchSize(size, sign);
  } finally {
    stopWrangler(wrangler);
  }
}

await main();
