/**
 * The environment of one more sfu-node started beside the stack's own (scripts/lib/services.sh starts that one): the
 * region nodes of `npm run start:regions` and the benchmarks, and the extra nodes of e2e tests. One place, so the
 * nodes' port layout and settings cannot drift apart.
 */

/** How the node signs: its private key as JSON, or a file holding it. */
export type NodeKeySetting = { json: string } | { file: string };

export interface NodeEnvSpec {
  nodeId: string;
  region: string;
  /** The Worker it registers with. */
  workerUrl: string;
  /** Its HTTP port (`/health`, `/metrics`, media signaling). */
  httpPort: number;
  /**
   * First port of its 200-port window: the WebRtcServer on the first, the pipe/plain-transport range from +10 to +119,
   * the recorder's loopback RTP ports from +120 to +199.
   */
  portWindow: number;
  recordingDir: string;
  key: NodeKeySetting;
  /** How long a drain (SIGTERM) waits for the class to move everyone away. */
  drainDeadlineMs: number;
  /** SFU_PIPE_DELAY_MS (what it adds to what it receives through pipes), e.g. `us-node=40,sg-node=110`. */
  pipeDelay?: string;
}

/**
 * This process's environment with the node's settings over it. Settings the node must not take from here (a key of
 * another node, the retired fleet credential, a pipe delay) are set empty, which the node reads as unset.
 */
export function nodeEnv(spec: NodeEnvSpec): NodeJS.ProcessEnv {
  const base = spec.portWindow;
  return {
    ...process.env,
    SFU_PORT: String(spec.httpPort),
    SFU_LISTEN_HOST: "127.0.0.1",
    SFU_REGION: spec.region,
    SFU_NODE_ID: spec.nodeId,
    SFU_WEBRTC_SERVER_PORT: String(base),
    SFU_RTC_PORT_MIN: String(base + 10),
    SFU_RTC_PORT_MAX: String(base + 119),
    SFU_RECORDING_PORT_MIN: String(base + 120),
    SFU_RECORDING_PORT_MAX: String(base + 199),
    SFU_RECORDING_DIR: spec.recordingDir,
    SFU_DRAIN_DEADLINE_MS: String(spec.drainDeadlineMs),
    SFU_PIPE_DELAY_MS: spec.pipeDelay ?? "",
    SFU_NODE_KEY: "json" in spec.key ? spec.key.json : "",
    SFU_NODE_KEY_FILE: "file" in spec.key ? spec.key.file : "",
    FLEET_CREDENTIAL: "",
    WORKER_URL: spec.workerUrl,
  };
}
