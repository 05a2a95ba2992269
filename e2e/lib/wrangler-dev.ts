/**
 * A `wrangler dev` of its own for a test that must kill it: the same command line as scripts/start.sh starts
 * (the Worker, its Durable Objects, D1 and R2 persisted under one state directory), on a port of its own, so
 * killing it does not take down the stack the rest of the suite uses. Requires what start.sh made first
 * (.dev.vars, the built web app), which the suite's global setup guarantees.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const QUIET_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Applies the D1 migrations to the local D1 under `stateDir`, as start.sh does. */
export async function applyMigrations(stateDir: string): Promise<void> {
  await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
    cwd: repoRoot,
    env: { ...process.env, ...QUIET_ENV },
  });
}

/** Rows of one SQL query against the local D1 under `stateDir` (what the Worker's D1 holds). */
export async function d1Query<T>(stateDir: string, sql: string): Promise<T[]> {
  const { stdout } = await run("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", stateDir, "--json", "--command", sql], {
    cwd: repoRoot,
    env: { ...process.env, ...QUIET_ENV },
    maxBuffer: 64 * 1024 * 1024,
  });
  return (JSON.parse(stdout) as { results: T[] }[])[0]!.results;
}

export interface WranglerDev {
  readonly url: string;
  /** SIGKILL to the whole process group (wrangler and its workerd): no shutdown, no flush, nothing saved. */
  kill(): Promise<void>;
}

/** Starts `wrangler dev` on `port` with its state in `stateDir` and waits until /api/health answers. */
export async function startWranglerDev(options: { port: number; stateDir: string; logPath: string; timeoutMs?: number }): Promise<WranglerDev> {
  const url = `http://127.0.0.1:${options.port}`;
  const log = createWriteStream(options.logPath, { flags: "a" });
  const child: ChildProcess = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--persist-to",
      options.stateDir,
      "--var",
      `PUBLIC_URL:${url}`,
      "--show-interactive-dev-session=false",
      "--inspector-port",
      String(await freePort()),
    ],
    // Its own process group, so a kill reaches workerd too.
    { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...QUIET_ENV } },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const kill = async () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    await closed;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, kill };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await kill();
  const tail = readFileSync(options.logPath, "utf8").split("\n").slice(-30).join("\n");
  throw new Error(`wrangler dev on ${url} did not answer /api/health:\n${tail}`);
}
