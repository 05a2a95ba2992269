/**
 * Class channel benchmark (prints figures; not a test).
 *
 *   npm run bench:classroom                 # 300 and 1,000 clients
 *   npm run bench:classroom -- 300          # only the sizes given
 *
 * Starts `wrangler dev` on port 8821 with its own state (/tmp/channel-state), seeds users and one class per size
 * straight into the local D1, signs class tokens with the Worker's key from .dev.vars (exactly what the join
 * route signs), and then for each size:
 *   1. joins N WebSocket clients (at most 100 opening at once) and times until every one has its snapshot;
 *   2. chats at 5 messages/s for 10 s, then at 50 messages/s for 10 s, from random students, and measures the
 *      delay from send to each receiver (p50/p99), deliveries per second, and deliveries lost.
 * Every loop is bounded; wrangler is stopped at the end.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { importJWK, type JWK, SignJWT } from "jose";
import WebSocket from "ws";
import { CLASS_TOKEN_AUDIENCE, CLASS_TOKEN_ISSUER } from "../schema/tokens/class-token";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = 8821;
const STATE_DIR = "/tmp/channel-state";
const BASE = `http://127.0.0.1:${PORT}`;
const OPEN_CONCURRENCY = 100;
const PHASE_SECONDS = 10;
/** After the last send, how long to wait for stragglers before counting losses. */
const DRAIN_MS = 5_000;
const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);

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

async function startWrangler(): Promise<ChildProcess> {
  const child = spawn("npx", ["wrangler", "dev", "--port", String(PORT), "--ip", "127.0.0.1", "--persist-to", STATE_DIR, "--test-scheduled=false"], {
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

function connect(classId: string, userId: string, token: string, collect: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${PORT}/parties/classroom/${classId}?token=${encodeURIComponent(token)}`);
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

async function benchSize(size: number, sign: Awaited<ReturnType<typeof tokenSigner>>): Promise<void> {
  const { classId, teacherId, studentIds } = seed(size);
  const people: [string, "teacher" | "student"][] = [[teacherId, "teacher"], ...studentIds.map((id) => [id, "student"] as [string, "student"])];
  const tokens = await Promise.all(people.map(([id, role]) => sign(classId, id, role)));
  const clients: Client[] = new Array(people.length);
  const joinStart = performance.now();
  // A sliding window: a new socket opens as soon as one of the OPEN_CONCURRENCY in flight has its snapshot.
  let next = 0;
  const opener = async () => {
    while (next < people.length) {
      const index = next++;
      clients[index] = await connect(classId, people[index]![0], tokens[index]!, true);
    }
  };
  await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, opener));
  const joinSeconds = (Math.max(...clients.map((c) => c.snapshotAt!)) - joinStart) / 1000;
  console.log(`\n${size} clients: all snapshots in ${joinSeconds.toFixed(2)} s`);
  const heartbeat = setInterval(() => {
    for (const c of clients) if (c.socket.readyState === WebSocket.OPEN) c.socket.send("ping");
  }, 20_000);
  await new Promise((r) => setTimeout(r, 1_500));
  for (const rate of [5, 50]) {
    const r = await chatPhase(clients, rate);
    console.log(
      `  chat ${rate}/s for ${PHASE_SECONDS} s: ${r.sent} messages, ${r.deliveries} deliveries, lost ${r.lost}, ` +
        `p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s`,
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
}

async function main(): Promise<void> {
  rmSync(STATE_DIR, { recursive: true, force: true });
  run("npx", ["tsx", "scripts/dev-vars.ts"]);
  run("mkdir", ["-p", "web/dist"]);
  run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR]);
  const sign = await tokenSigner();
  const wrangler = await startWrangler();
  try {
    console.log(`class channel benchmark against wrangler dev on ${BASE} (${new Date().toISOString()})`);
    for (const size of SIZES.length > 0 ? SIZES : [300, 1000]) await benchSize(size, sign);
  } finally {
    stopWrangler(wrangler);
  }
}

await main();
