/**
 * The stack the class-channel and board benchmarks run against: `wrangler dev` with a state directory of its own,
 * the Worker bundled once into that directory and run with `--no-bundle` (wrangler would otherwise rebuild and
 * restart, dropping every socket, whenever someone edits a source file or rebuilds `web/dist` mid-run), users and
 * classes seeded straight into the local D1, and class tokens signed with the Worker's key from .dev.vars (what
 * `POST /api/classes/:id/join` signs).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { importJWK, type JWK, SignJWT } from "jose";
import { CLASS_TOKEN_AUDIENCE, CLASS_TOKEN_ISSUER } from "../../schema/tokens/class-token";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
const QUIET_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** Runs a command in the repository, its output hidden (errors still shown). */
export function runQuiet(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...QUIET_ENV } });
}

function devVar(name: string): string {
  const line = readFileSync(path.join(repoRoot, ".dev.vars"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`${name} is missing from .dev.vars`);
  return line.slice(name.length + 1).replace(/^(['"])(.*)\1$/, "$2");
}

/** A fresh state directory with .dev.vars made and the D1 migrations applied. */
export function prepareState(stateDir: string): void {
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  runQuiet("npx", ["tsx", "scripts/dev-vars.ts"]);
  runQuiet("mkdir", ["-p", "web/dist"]);
  runQuiet("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir]);
}

export interface BenchStackOptions {
  port: number;
  stateDir: string;
  /** The Worker's entry (default: wrangler.toml's `main`). */
  main?: string;
  /** TOML appended to the config (extra bindings of a bench-only entry). */
  extraConfig?: string;
  /** Static assets to serve, copied into the state directory (default: none, an empty directory). */
  assetsFrom?: string;
  /** workerd's debugger port (for CPU profiles). */
  inspectorPort?: number;
}

/**
 * wrangler.toml rewritten into the state directory (paths made absolute, with a copy of .dev.vars, which wrangler
 * reads next to its config), the Worker bundled once, and the config pointed at that bundle.
 */
function writeBenchConfig(options: BenchStackOptions): string {
  const { stateDir } = options;
  const assets = path.join(stateDir, "assets");
  rmSync(assets, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });
  // A copy of its own: wrangler dev restarts when the assets directory changes (someone building web/).
  if (options.assetsFrom) cpSync(options.assetsFrom, assets, { recursive: true });
  let entry = options.main ?? "";
  const config = readFileSync(path.join(repoRoot, "wrangler.toml"), "utf8")
    .replace(/^directory = "(.*)"$/m, `directory = "${assets}"`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, dir: string) => `migrations_dir = "${path.join(repoRoot, dir)}"`)
    .replace(/^main = "(.*)"$/m, (_, main: string) => `main = "${(entry ||= path.join(repoRoot, main))}"`);
  const file = path.join(stateDir, "wrangler.toml");
  writeFileSync(file, `${config}\n${options.extraConfig ?? ""}`);
  copyFileSync(path.join(repoRoot, ".dev.vars"), path.join(stateDir, ".dev.vars"));
  const bundleDir = path.join(stateDir, "bundle");
  runQuiet("npx", ["wrangler", "deploy", "--dry-run", "--config", file, "--outdir", bundleDir]);
  writeFileSync(
    file,
    readFileSync(file, "utf8").replace(/^main = .*$/m, `main = "${path.join(bundleDir, `${path.basename(entry, path.extname(entry))}.js`)}"`),
  );
  return file;
}

export interface BenchStack {
  /** e.g. http://127.0.0.1:8821 */
  readonly url: string;
  /** The `wrangler dev` process (its workerd processes are its descendants). */
  readonly pid: number;
  stop(): void;
}

/** Starts `wrangler dev` on `options.port` and waits (up to 120 s) until /api/health answers. */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const url = `http://127.0.0.1:${options.port}`;
  const args = [
    "wrangler",
    "dev",
    "--config",
    writeBenchConfig(options),
    "--port",
    String(options.port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    options.stateDir,
  ];
  args.push("--test-scheduled=false", "--no-bundle", "--var", `PUBLIC_URL:${url}`, "--show-interactive-dev-session=false");
  if (options.inspectorPort) args.push("--inspector-port", String(options.inspectorPort));
  const child: ChildProcess = spawn("npx", args, {
    cwd: repoRoot,
    // Its own process group, so stopping it reaches workerd too.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...QUIET_ENV },
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (/error/i.test(text) && !/outbox/.test(text)) process.stderr.write(`[wrangler] ${text}`);
  });
  child.stdout!.resume();
  const stop = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  };
  // Ctrl-C or a kill of the benchmark must not leave workerd running (it is in a process group of its own).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, pid: child.pid!, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  stop();
  throw new Error(`wrangler dev did not answer ${url}/api/health within 120 s`);
}

export interface SeededClass {
  classId: string;
  teacherId: string;
  studentIds: string[];
}

/** A teacher, `size - 1` enrolled students and a class with an occurrence on now: one SQL file into the local D1. */
export function seedClass(stateDir: string, size: number, label = "bench"): SeededClass {
  const now = Date.now();
  const classId = `${label}-class-${size}-${now}`;
  const teacherId = `${label}-teacher-${size}-${now}`;
  const studentIds = Array.from({ length: size - 1 }, (_, i) => `${label}-student-${size}-${now}-${i}`);
  const user = (id: string, role: string) => `('${id}','${id}@bench.test','${id}','${role}','UTC',1,0,'${id}-secret',${now},${now})`;
  const users = [user(teacherId, "teacher"), ...studentIds.map((id) => user(id, "student"))];
  const statements: string[] = [];
  // SQLite refuses very long statements: insert in chunks.
  for (let i = 0; i < users.length; i += 200) {
    statements.push(
      `INSERT INTO users (id,email,display_name,role,timezone,remind_by_email,remind_by_sms,calendar_secret,created_at,updated_at) VALUES ${users.slice(i, i + 200).join(",")};`,
    );
  }
  statements.push(`INSERT INTO classes (id,title,teacher_id,created_at,updated_at) VALUES ('${classId}','Bench ${size}','${teacherId}',${now},${now});`);
  statements.push(
    `INSERT INTO occurrences (id,class_id,starts_at,ends_at,timezone,created_at,updated_at) VALUES ('${classId}-o','${classId}',${now - 60_000},${now + 3_600_000},'UTC',${now},${now});`,
  );
  for (let i = 0; i < studentIds.length; i += 200) {
    statements.push(
      `INSERT INTO enrollments (class_id,user_id,created_at) VALUES ${studentIds
        .slice(i, i + 200)
        .map((id) => `('${classId}','${id}',${now})`)
        .join(",")};`,
    );
  }
  const file = path.join(stateDir, `seed-${label}-${size}.sql`);
  writeFileSync(file, statements.join("\n"));
  runQuiet("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", stateDir, "--file", file]);
  return { classId, teacherId, studentIds };
}

/** `fanOut`: the number of fan-out objects the token names, as the join route signs it for a large class. */
export type ClassTokenSigner = (classId: string, userId: string, role: "student" | "teacher", fanOut?: number) => Promise<string>;

/** Signs class tokens as the join route does, with the Worker's key from .dev.vars. */
export async function classTokenSigner(): Promise<ClassTokenSigner> {
  const jwk = JSON.parse(devVar("WORKER_SIGNING_KEY")) as JWK;
  const key = await importJWK({ ...jwk, alg: "ES256" }, "ES256");
  return (classId, userId, role, fanOut) =>
    new SignJWT({ classId, displayName: userId.slice(-12), role, occurrenceId: `${classId}-o`, ...(fanOut ? { fanOut } : {}) })
      .setProtectedHeader({ alg: "ES256", kid: jwk.kid ?? "worker-key", typ: "JWT" })
      .setIssuer(CLASS_TOKEN_ISSUER)
      .setAudience(CLASS_TOKEN_AUDIENCE)
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(key);
}

/** The class channel's socket address for a signed token. */
export function classSocketUrl(baseUrl: string, classId: string, token: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/parties/classroom/${classId}?token=${encodeURIComponent(token)}`;
}

/** The value at percentile `p` (0…100) of an ascending list (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function loadAverage(): string {
  return os.loadavg()[0]!.toFixed(1);
}
