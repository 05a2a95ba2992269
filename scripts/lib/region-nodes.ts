/**
 * More sfu-nodes beside the one `npm start` runs, each "in" a region of its own, for the local multi-region world
 * (`npm run start:regions`) and the glass-to-glass benchmark: its own id, region, HTTP port and port window, its
 * own key (kept in the state directory, enrolled with the Worker with the operators' secret from .dev.vars, as
 * scripts/lib/services.sh does for the first node), supervised like that node (scripts/lib/supervise.sh), and
 * optionally the test-only delay on its pipes (SFU_PIPE_DELAY_MS) so a pipe between "regions" costs its link delay.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as v from "valibot";
import { NodePrivateJwkSchema } from "../../schema/tokens/node-token";
import { enrolNodeKey, newNodeKey, untilRegistered } from "./fleet-node";
import { type NodeEnvSpec, nodeEnv } from "./node-env";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const REGISTER_TIMEOUT_MS = 90_000;
/** As the stack's own node (scripts/lib/services.sh): a local world stops quickly. */
const DRAIN_DEADLINE_MS = 2_000;

export interface RegionNodeSpec {
  nodeId: string;
  region: string;
  httpPort: number;
  /** First port of its 200-port window (see {@link NodeEnvSpec}). */
  portWindow: number;
  /** SFU_PIPE_DELAY_MS for it (what it adds to what it receives through pipes), e.g. `us-node=40,sg-node=110`. */
  pipeDelay?: string;
}

export interface RegionNode {
  spec: RegionNodeSpec;
  httpUrl: string;
  /** A sample of its Prometheus `/metrics` by full name with labels (0 when absent, NaN when it does not answer). */
  metric(sample: string): Promise<number>;
  /** TERM to its process group (the node drains for up to 2 s), KILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * The delay each node adds to what it receives from each other node, from a symmetric table of one-way link
 * delays between node ids: `{ "a|b": 40 }` gives a `b=40` and b `a=40`.
 */
export function pipeDelaySettings(links: Record<string, number>): Map<string, string> {
  const byNode = new Map<string, string[]>();
  for (const [pair, ms] of Object.entries(links)) {
    const [a, b] = pair.split("|") as [string, string];
    byNode.set(a, [...(byNode.get(a) ?? []), `${b}=${ms}`]);
    byNode.set(b, [...(byNode.get(b) ?? []), `${a}=${ms}`]);
  }
  return new Map([...byNode].map(([node, items]) => [node, items.join(",")]));
}

/** The node's key from the state directory (made on first use) and enrolled with the Worker at `baseUrl`. */
async function enrolledKeyFile(baseUrl: string, stateDir: string, nodeId: string): Promise<string> {
  const keyFile = path.join(stateDir, `sfu-node-${nodeId}.key.json`);
  if (!existsSync(keyFile)) writeFileSync(keyFile, JSON.stringify(await newNodeKey()), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  await enrolNodeKey(baseUrl, nodeId, v.parse(NodePrivateJwkSchema, JSON.parse(readFileSync(keyFile, "utf8"))));
  return keyFile;
}

/**
 * Starts a supervised node against the Worker at `baseUrl` and resolves once it is registered (only then does
 * the Worker send anyone to it). Its output goes to `output` (a file, or this process's stderr when undefined).
 */
export async function startRegionNode(baseUrl: string, stateDir: string, spec: RegionNodeSpec, output?: string): Promise<RegionNode> {
  const keyFile = await enrolledKeyFile(baseUrl, stateDir, spec.nodeId);
  const recordings = path.join(stateDir, `recordings-${spec.nodeId}`);
  mkdirSync(recordings, { recursive: true });
  const env = nodeEnv({
    ...spec,
    workerUrl: baseUrl,
    recordingDir: recordings,
    key: { file: keyFile },
    drainDeadlineMs: DRAIN_DEADLINE_MS,
  });
  const stdio = output ? (["ignore", "pipe", "pipe"] as const) : (["ignore", "inherit", "inherit"] as const);
  // Its own process group (detached), so stopping it stops the supervisor, npm, tsx, Node and the mediasoup workers.
  const child: ChildProcess = spawn("bash", ["scripts/lib/supervise.sh", `sfu-node ${spec.nodeId}`, "npm", "run", "--silent", "sfu"], {
    cwd: repoRoot,
    detached: true,
    stdio: [...stdio],
    env,
  });
  if (output) {
    const log = createWriteStream(output);
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const httpUrl = `http://127.0.0.1:${spec.httpPort}`;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const node: RegionNode = {
    spec,
    httpUrl,
    metric: async (sample) => {
      try {
        const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
        const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
        return line ? Number(line.slice(sample.length + 1)) : 0;
      } catch {
        return Number.NaN;
      }
    },
    stop: async () => {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      // The supervisor is gone; anything of the group still alive goes too.
      signalGroup("SIGKILL");
    },
  };
  try {
    await untilRegistered(httpUrl, spec.nodeId, REGISTER_TIMEOUT_MS, () => child.exitCode !== null);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}
