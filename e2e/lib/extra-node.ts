/**
 * A second sfu-node beside the one `npm start` runs, for tests where a class must move between nodes: its own
 * key (generated here, enrolled with the Worker with the operators' secret from .dev.vars, as
 * scripts/lib/services.sh does for the first node), its own ports, registered with the same Worker. It runs as
 * its own process (not supervised), so a test can kill or stop it and know it stays down.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { enrolNodeKey, newNodeKey, untilRegistered } from "../../scripts/lib/fleet-node";
import { nodeEnv } from "../../scripts/lib/node-env";
import { freePort } from "./wrangler-dev";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const REGISTER_TIMEOUT_MS = 60_000;
/** Long enough for a drained node's class to move everyone away while a test watches. */
const DRAIN_DEADLINE_MS = 10_000;

export interface ExtraNode {
  nodeId: string;
  /** The sfu-node process (mediasoup workers are its children). */
  pid: number;
  /** Its HTTP base (`/health`, `/metrics`). */
  httpUrl: string;
  /** Rooms (classes) the node serves now, from its `/health`; null when it does not answer. */
  rooms(): Promise<number | null>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** SIGKILL if it still runs, and forget its state. */
  stop(): Promise<void>;
}

/** The stack's local recordings store (s3rver on the Worker's port + 50, scripts/lib/services.sh), for a node that records. */
export function stackStoreEnv(baseUrl: string): NodeJS.ProcessEnv {
  const endpoint = `http://127.0.0.1:${Number(new URL(baseUrl).port) + 50}`;
  const bucket = "insp-live-recordings";
  return {
    S3_ENDPOINT: endpoint,
    S3_REGION: "us-east-1",
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER",
    S3_PUBLIC_URL: `${endpoint}/${bucket}`,
  };
}

/** Rooms of the node at `httpUrl` (its `/health`), or null when it does not answer. */
export async function roomsOn(httpUrl: string): Promise<number | null> {
  try {
    const health = (await (await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { rooms: number };
    return health.rooms;
  } catch {
    return null;
  }
}

/**
 * Starts a node `nodeId` in `region` against the Worker at `baseUrl` and waits until it is registered. Its ports are
 * the 200 from `portWindow` (see {@link nodeEnv}). `env` adds settings (the recordings store: {@link stackStoreEnv}).
 */
export async function startExtraNode(baseUrl: string, nodeId: string, region = "local", portWindow = 50_000, env: NodeJS.ProcessEnv = {}): Promise<ExtraNode> {
  const key = await newNodeKey();
  await enrolNodeKey(baseUrl, nodeId, key);

  const port = await freePort();
  const recordings = mkdtempSync(path.join(tmpdir(), `insp-live-${nodeId}-`));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "sfu-node/src/main.ts"], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...nodeEnv({
        nodeId,
        region,
        workerUrl: baseUrl,
        httpPort: port,
        portWindow,
        recordingDir: recordings,
        key: { json: JSON.stringify(key) },
        drainDeadlineMs: DRAIN_DEADLINE_MS,
      }),
      ...env,
    },
  });
  // Its output goes to test-results/e2e-<node id>.log, beside the stack's.
  mkdirSync(path.join(repoRoot, "test-results"), { recursive: true });
  const log = createWriteStream(path.join(repoRoot, "test-results", `e2e-${nodeId}.log`));
  child.stdout!.pipe(log);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    log.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const httpUrl = `http://127.0.0.1:${port}`;
  const node: ExtraNode = {
    nodeId,
    pid: child.pid!,
    httpUrl,
    rooms: () => roomsOn(httpUrl),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      rmSync(recordings, { recursive: true, force: true });
    },
  };
  try {
    await untilRegistered(httpUrl, nodeId, REGISTER_TIMEOUT_MS, () => child.exitCode !== null);
  } catch (error) {
    await node.stop();
    throw new Error(`${(error as Error).message}:\n${stderr}`);
  }
  return node;
}
