/**
 * Reminders benchmark (prints figures; not a test).
 *
 *   npm run bench:reminders             # a class with 1,000 enrolled students
 *   npm run bench:reminders -- 5000     # another class size
 *
 * Starts the SendGrid look-alike of worker/test/global/provider-servers.ts as a capture server and `wrangler dev`
 * on port 8823 with its own state (/tmp/reminders-bench-state), pointed at it through SENDGRID_BASE_URL. Seeds a
 * teacher, N students (e-mail reminders on) and one occurrence whose 60-minute window has just opened, straight
 * into the local D1, then fires the Cron Trigger (miniflare's /cdn-cgi/local/scheduled) and measures:
 *   - tick → queued: until the cron run has created and enqueued every reminder (the Worker logs when it is done);
 *   - tick → sent:   until the capture server has accepted every e-mail (each one went through the real Queue,
 *                    the consumer's claim, the message builder and the SendGrid client).
 * Every wait is bounded; wrangler and the capture server are stopped at the end. Wrangler's output is kept in
 * /tmp/reminders-bench-state/wrangler.log.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROVIDER_TEST_CREDENTIALS, startSendGridServer } from "../worker/test/global/provider-servers";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = 8823;
const STATE_DIR = "/tmp/reminders-bench-state";
const BASE = `http://127.0.0.1:${PORT}`;
const SEND_TIMEOUT_MS = Number(process.env.BENCH_SEND_TIMEOUT_MS ?? 180_000);
const STUDENTS = Number(process.argv[2] ?? 1000);
const wranglerEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

function run(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"], env: wranglerEnv });
}

interface CronLog {
  created: number;
  queuedAt: number;
}

function startWrangler(sendgridUrl: string, onCronLog: (log: CronLog) => void): ChildProcess {
  const vars = {
    SENDGRID_API_KEY: PROVIDER_TEST_CREDENTIALS.sendgridApiKey,
    SENDGRID_FROM: PROVIDER_TEST_CREDENTIALS.sendgridFrom,
    SENDGRID_BASE_URL: sendgridUrl,
    PUBLIC_URL: BASE,
  };
  const child = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--port",
      String(PORT),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      STATE_DIR,
      ...Object.entries(vars).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
    ],
    { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: wranglerEnv },
  );
  let buffered = "";
  const logFile = path.join(STATE_DIR, "wrangler.log");
  child.stdout!.on("data", (chunk: Buffer) => {
    appendFileSync(logFile, chunk);
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const start = line.indexOf('{"event":"reminders_cron"');
      if (start >= 0) onCronLog(JSON.parse(line.slice(start)) as CronLog);
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    appendFileSync(logFile, chunk);
    const text = chunk.toString();
    if (/error/i.test(text)) process.stderr.write(`[wrangler] ${text}`);
  });
  return child;
}

async function waitForHealth(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${BASE}/api/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("wrangler dev did not answer /api/health within 120 s");
}

function stopWrangler(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // already gone
  }
}

/** A teacher, `students` students and an occurrence whose 60-minute reminder window opened 30 s ago. */
function seed(students: number): void {
  const now = Date.now();
  const user = (id: string, role: string) => `('${id}','${id}@bench.test','${id}','${role}','UTC',1,0,'${id}-secret',${now},${now})`;
  const studentIds = Array.from({ length: students }, (_, i) => `bench-student-${i}`);
  // SQLite refuses very long statements, so rows go in 200 at a time.
  const chunks = <T>(items: T[]) => Array.from({ length: Math.ceil(items.length / 200) }, (_, i) => items.slice(i * 200, i * 200 + 200));
  const userRows = [user("bench-teacher", "teacher"), ...studentIds.map((id) => user(id, "student"))];
  const statements = [
    ...chunks(userRows).map(
      (rows) =>
        `INSERT INTO users (id,email,display_name,role,timezone,remind_by_email,remind_by_sms,calendar_secret,created_at,updated_at) VALUES ${rows.join(",")};`,
    ),
    `INSERT INTO classes (id,title,teacher_id,created_at,updated_at) VALUES ('bench-class','Benchmark class','bench-teacher',${now},${now});`,
    `INSERT INTO occurrences (id,class_id,starts_at,ends_at,timezone,created_at,updated_at) VALUES ('bench-occurrence','bench-class',${now + 59.5 * 60_000},${now + 119.5 * 60_000},'UTC',${now},${now});`,
    ...chunks(studentIds).map(
      (ids) => `INSERT INTO enrollments (class_id,user_id,created_at) VALUES ${ids.map((id) => `('bench-class','${id}',${now})`).join(",")};`,
    ),
  ];
  const file = path.join(STATE_DIR, "seed.sql");
  writeFileSync(file, statements.join("\n"));
  run("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", STATE_DIR, "--file", file]);
}

async function main(): Promise<void> {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  run("npx", ["tsx", "scripts/dev-vars.ts"]);
  run("mkdir", ["-p", "web/dist"]);
  run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR]);

  const capture = await startSendGridServer({ captureBodies: false });
  let cronLog: CronLog | null = null;
  const wrangler = startWrangler(capture.url, (log) => {
    cronLog = log;
  });
  try {
    await waitForHealth();
    seed(STUDENTS);
    const expected = STUDENTS + 1;
    console.log(`reminders benchmark: ${STUDENTS} students + 1 teacher, e-mail, wrangler dev on ${BASE} (${new Date().toISOString()})`);

    const tick = Date.now();
    const response = await fetch(`${BASE}/cdn-cgi/local/scheduled?cron=*+*+*+*+*`);
    if (!response.ok) throw new Error(`/cdn-cgi/local/scheduled answered ${response.status}`);
    const deadline = Date.now() + SEND_TIMEOUT_MS;
    while (capture.state.accepted < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const log = cronLog as CronLog | null;

    const queuedMs = log ? log.queuedAt - tick : Number.NaN;
    const sentMs = (capture.state.lastAt ?? Number.NaN) - tick;
    console.log(`  reminders created by the cron run: ${log?.created ?? "no cron log seen"}`);
    console.log(`  tick → all queued:  ${(queuedMs / 1000).toFixed(2)} s  (target ≤ 10 s)`);
    console.log(
      `  tick → all sent:    ${capture.state.accepted >= expected ? `${(sentMs / 1000).toFixed(2)} s` : `incomplete: ${capture.state.accepted}/${expected} after ${SEND_TIMEOUT_MS / 1000} s`}`,
    );
    console.log(
      `  first e-mail after: ${(((capture.state.firstAt ?? Number.NaN) - tick) / 1000).toFixed(2)} s; throughput ${(capture.state.accepted / (sentMs / 1000)).toFixed(0)} e-mails/s`,
    );
    console.log(`  e-mails accepted by the capture server: ${capture.state.accepted} (expected ${expected}; more would mean a duplicate)`);
  } finally {
    stopWrangler(wrangler);
    await capture.close();
  }
}

await main();
