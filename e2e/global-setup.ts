/**
 * Starts the stack once for the whole e2e run exactly as `npm start` does — scripts/start.sh, with a free port
 * and a fresh state directory — waits for its `READY <url>` line, and stops it afterwards. The stack's output
 * goes to test-results/e2e-stack.log (and its tail into the error when it fails to start).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { freePort } from "./lib/wrangler-dev";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the stack answers, e.g. http://127.0.0.1:40123 */
    baseUrl: string;
  }
}

const repoRoot = path.resolve(import.meta.dirname, "..");
const logPath = path.join(repoRoot, "test-results", "e2e-stack.log");
const START_TIMEOUT_MS = 240_000;
const STOP_TIMEOUT_MS = 15_000;

/** WebRTC between Chromium and the stack only works when loopback is the sole interface (see loopback-netns.sh). */
function assertLoopbackOnlyNetwork(): void {
  const interfaces = readFileSync("/proc/net/dev", "utf8")
    .split("\n")
    .slice(2)
    .map((line) => line.split(":")[0]!.trim())
    .filter(Boolean);
  const others = interfaces.filter((name) => name !== "lo");
  if (others.length > 0) {
    throw new Error(`the e2e suite must run in a loopback-only network namespace (found ${others.join(", ")}): use \`npm run test:e2e\``);
  }
}

function logTail(): string {
  try {
    return readFileSync(logPath, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

function waitForReady(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`the stack was not READY within ${START_TIMEOUT_MS / 1000} s:\n${logTail()}`)), START_TIMEOUT_MS);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const ready = /^READY (\S+)$/m.exec(buffered);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`scripts/start.sh exited (${signal ?? `code ${code}`}) before READY:\n${logTail()}`));
    });
  });
}

/**
 * Stops start.sh with TERM (its trap stops every service) and waits until its output is closed, i.e. every
 * service that shared it is gone too and the log is complete; KILLs the group if it hangs.
 */
async function stopStack(child: ChildProcess, closed: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return closed;
  process.kill(-child.pid!, "SIGTERM");
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), STOP_TIMEOUT_MS);
  await closed;
  clearTimeout(timer);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertLoopbackOnlyNetwork();
  mkdirSync(path.dirname(logPath), { recursive: true });
  const stateDir = mkdtempSync(path.join(tmpdir(), "insp-live-e2e-"));
  const port = await freePort();
  const log = createWriteStream(logPath);
  const child = spawn("bash", ["scripts/start.sh"], {
    cwd: repoRoot,
    // Its own process group, so a hung start can be killed with everything it started.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, START_SKIP_INSTALL: "1", PORT: String(port), INSP_LIVE_STATE: stateDir },
  });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });

  const teardown = async () => {
    await stopStack(child, closed);
    log.end();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    project.provide("baseUrl", await waitForReady(child));
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
