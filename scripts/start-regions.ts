/**
 * `npm run start:regions`: the stack as `npm start` runs it (scripts/start.sh: the Worker, the local store and its
 * own sfu-node, region `local`) plus three sfu-nodes "in" three regions, each with its own id, HTTP port, port
 * window and key (scripts/lib/region-nodes.ts), supervised like the first node, and pipes between them that cost
 * a link delay (the test-only SFU_PIPE_DELAY_MS: each node holds what it receives from the other two):
 *
 *   eu-west ── 40 ms ── us-east ── 110 ms ── ap-southeast ── 85 ms ── eu-west     (one way, both directions)
 *
 *   npm run start:regions                 # until Ctrl-C
 *   npm run start:regions -- --no-delay   # the same nodes, pipes without added delay
 *
 * Place a browser in a region with `?region=` on the live page (local development only):
 * http://127.0.0.1:8787/classes/<classId>/live?region=ap-southeast. Settings as for `npm start` (PORT,
 * INSP_LIVE_STATE, …). The region nodes answer on PORT+41…43 and write their log lines to this console. Prints
 * `READY <url>` once every node is registered.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { pipeDelaySettings, type RegionNode, startRegionNode } from "./lib/region-nodes";

const repoRoot = path.resolve(import.meta.dirname, "..");
const port = Number(process.env.PORT ?? 8787);
const stateDir = path.resolve(repoRoot, process.env.INSP_LIVE_STATE ?? ".wrangler/state");
const withDelay = !process.argv.includes("--no-delay");

/** The three regions: node ids carry the stack's port, so two worlds on one machine do not share a node id. */
const REGIONS = ["eu-west", "us-east", "ap-southeast"] as const;
const nodeIdOf = (region: string) => `${region}-${port}`;
/** One-way link delays between the regions (ms), roughly what public clouds measure between them. */
const LINK_DELAYS_MS: Record<string, number> = {
  [`${nodeIdOf("eu-west")}|${nodeIdOf("us-east")}`]: 40,
  [`${nodeIdOf("us-east")}|${nodeIdOf("ap-southeast")}`]: 110,
  [`${nodeIdOf("ap-southeast")}|${nodeIdOf("eu-west")}`]: 85,
};
/**
 * 200 ports per node below 20000, where start.sh's own windows begin (20000 + (PORT % 400) × 100), and above 7000:
 * Chromium refuses port 6000 (X11) and 6665–6669 (IRC) for WebRTC as well.
 */
const portWindow = (index: number) => 7_000 + (port % 20) * 600 + index * 200;

const log = (line: string) => process.stderr.write(`[insp-live] ${line}\n`);

/** scripts/start.sh in its own process group; resolves with its URL at its `READY` line (which is not passed on). */
function startStack(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn("bash", ["scripts/start.sh"], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "inherit"], env: process.env });
  return new Promise((resolve, reject) => {
    let ready = false;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = /^READY (\S+)$/.exec(line);
      if (match && !ready) {
        ready = true;
        resolve({ url: match[1]!, child });
      } else process.stdout.write(`${line}\n`);
    });
    child.once("exit", (code) => {
      if (!ready) reject(new Error(`scripts/start.sh exited (code ${code}) before it was ready`));
    });
  });
}

const nodes: RegionNode[] = [];
let stack: ChildProcess | undefined;
let stopping = false;

/** Stops the region nodes, then the stack (its trap stops its services), and exits with `code`. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const node of nodes) await node.stop();
  if (stack && stack.exitCode === null && stack.signalCode === null) {
    const exited = new Promise<void>((resolve) => stack!.once("exit", () => resolve()));
    process.kill(-stack.pid!, "SIGTERM");
    await exited;
  }
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  process.on("SIGINT", () => void stop(130));
  process.on("SIGTERM", () => void stop(143));
  const started = await startStack();
  stack = started.child;
  const { url } = started;
  // The stack stops on its own when one of its services dies: then the region nodes go too.
  stack.once("exit", () => {
    if (stopping) return;
    log("the stack stopped; stopping the region nodes");
    void stop(1);
  });

  const delays = pipeDelaySettings(withDelay ? LINK_DELAYS_MS : {});
  for (const [index, region] of REGIONS.entries()) {
    const spec = { nodeId: nodeIdOf(region), region, httpPort: port + 41 + index, portWindow: portWindow(index), pipeDelay: delays.get(nodeIdOf(region)) };
    nodes.push(await startRegionNode(url, stateDir, spec));
    log(`sfu-node ${spec.nodeId} registered (region ${region}, http://127.0.0.1:${spec.httpPort}${spec.pipeDelay ? `, pipe delay ${spec.pipeDelay}` : ""})`);
  }
  log(`three regions: open a live page with ?region=${REGIONS.join(" | ?region=")} to place a browser (local development only)`);
  process.stdout.write(`READY ${url}\n`);
}

main().catch((error: unknown) => {
  log(`error: ${error instanceof Error ? error.message : String(error)}`);
  void stop(1);
});
