import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "..", "..");

export interface StackOptions {
  port: number;
  /** INSP_LIVE_STATE: the stack's D1, R2 and Durable Object state. */
  stateDir: string;
  /** Where the stack's output goes. */
  logPath: string;
  timeoutMs: number;
}

/**
 * Starts the stack as `npm start` does (scripts/start.sh, without installing: the caller did) in its own process
 * group, and resolves with its URL once it prints `READY <url>`.
 */
export function startStack({ port, stateDir, logPath, timeoutMs }: StackOptions): Promise<{ url: string; child: ChildProcess }> {
  mkdirSync(path.dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  const child = spawn("bash", ["scripts/start.sh"], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      START_SKIP_INSTALL: "1",
      PORT: String(port),
      INSP_LIVE_STATE: stateDir,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
    },
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      signalGroup(child, "SIGTERM");
      reject(new Error(`the stack was not READY within ${timeoutMs / 1000} s (see ${logPath})`));
    }, timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const ready = /^READY (\S+)$/m.exec(buffered);
      if (ready) {
        clearTimeout(timer);
        resolve({ url: ready[1]!, child });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`scripts/start.sh exited (code ${code}) before READY (see ${logPath})`));
    });
  });
}

/** Stops the stack (its whole process group), killing it if it has not exited 15 s after the TERM. */
export async function stopStack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Signals the stack's process group; one already gone is fine. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}
