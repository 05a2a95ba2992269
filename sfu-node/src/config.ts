import { readFileSync } from "node:fs";
import os from "node:os";
import * as v from "valibot";
import { SfuNodeIdSchema, SfuRegionSchema } from "../../schema/protocol/fleet";
import { type NodePrivateJwk, NodePrivateJwkSchema } from "../../schema/tokens/node-token";
import type { PipeDelays } from "./delay-relay";

/** sfu-node settings, read once from the environment at start-up. */
export interface SfuConfig {
  /** Address the HTTP/WebSocket server and the RTC sockets bind to. */
  listenHost: string;
  /** HTTP port: `/media` (signaling WebSocket), `/metrics`, `/health`. */
  httpPort: number;
  /** Public IP or host name put in ICE candidates (the VM's public address behind NAT). */
  announcedAddress: string | undefined;
  /** RTC port range used when a worker's WebRtcServer cannot bind its fixed port. */
  rtcPortMin: number;
  rtcPortMax: number;
  /** Worker i's WebRtcServer listens on UDP and TCP port `webRtcServerPortBase + i`. */
  webRtcServerPortBase: number;
  region: string;
  nodeId: string;
  /** The Worker's origin: JWKS at `/.well-known/jwks.json`, fleet registry at `/api/fleet/*`. */
  workerUrl: string;
  /**
   * This node's private key (ES256, P-256 JWK) whose public half an operator enrolled for {@link nodeId}; it signs
   * every request to the Worker. Absent = the node runs without registering.
   */
  nodeKey: NodePrivateJwk | undefined;
  /** Number of mediasoup workers (default: one per CPU core). */
  workers: number;
  /** URL browsers use to reach this node (sent to the registry). */
  publicUrl: string;
  /** A router passing this many consumers gets new consumers on another router, fed by pipeToRouter. */
  consumersPerRouter: number;
  /** Consumers the node accepts before it reports itself full. */
  maxConsumers: number;
  /** On SIGTERM the node drains: it exits when its last peer left, or after this long (src/drain.ts). */
  drainDeadlineMs: number;
  /**
   * The address other sfu-nodes send this node's pipes to (SFU_PIPE_ANNOUNCED_ADDRESS; default the announced
   * address, else the listen address). The class object hands it to the other node as this node reported it,
   * so a private network address, or a relay in front of the node, can be given here.
   */
  pipeAnnouncedAddress: string;
  /**
   * TEST ONLY (SFU_PIPE_DELAY_MS): delay this node adds to what it receives through its pipes, so nodes on one
   * machine act as if they were regions apart (./delay-relay.ts). Undefined in production; refused unless the
   * node listens on loopback.
   */
  pipeDelays: PipeDelays | undefined;
}

/** A setting was missing or invalid; the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const Port = v.pipe(v.string(), v.regex(/^\d{1,5}$/, "must be a port number"), v.transform(Number), v.minValue(1), v.maxValue(65535));
const PositiveInt = v.pipe(v.string(), v.regex(/^\d+$/, "must be a whole number"), v.transform(Number), v.minValue(1));
const HttpUrl = v.pipe(v.string(), v.url("must be a URL"), v.regex(/^https?:\/\//, "must be http(s)"));

/** Most delay one pipe may be given: more than any link on Earth, less than would look like a dead pipe. */
const MAX_PIPE_DELAY_MS = 1_000;

/** `40` (every peer node) or `eu-node=40,sg-node=110` (per peer node), or both: `20,sg-node=110`. */
const PipeDelaysSetting = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const delays: { defaultMs: number; byPeer: Record<string, number> } = { defaultMs: 0, byPeer: {} };
    for (const item of dataset.value.split(",").map((part) => part.trim())) {
      const match = /^(?:([A-Za-z0-9._-]{1,64})=)?(\d{1,4})$/.exec(item);
      const ms = Number(match?.[2]);
      if (!match || ms > MAX_PIPE_DELAY_MS) {
        addIssue({ message: `must be milliseconds (0-${MAX_PIPE_DELAY_MS}) for every peer node, or <peer node id>=<ms> items separated by commas` });
        return NEVER;
      }
      if (match[1]) delays.byPeer[match[1]] = ms;
      else delays.defaultMs = ms;
    }
    return delays;
  }),
);

/** Only the loopback addresses: the delay relay exists to fake distance between nodes on one machine. */
const isLoopback = (host: string) => host.startsWith("127.") || host === "::1";

const SECRET_SETTINGS = new Set(["SFU_NODE_KEY", "FLEET_CREDENTIAL"]);

const EnvSchema = v.object({
  SFU_LISTEN_HOST: v.optional(v.pipe(v.string(), v.ip("must be an IP address")), "0.0.0.0"),
  SFU_PORT: v.optional(Port, "8840"),
  SFU_ANNOUNCED_ADDRESS: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(253))),
  SFU_PIPE_ANNOUNCED_ADDRESS: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(253))),
  SFU_RTC_PORT_MIN: v.optional(Port, "40000"),
  SFU_RTC_PORT_MAX: v.optional(Port, "49999"),
  SFU_WEBRTC_SERVER_PORT: v.optional(Port, "44444"),
  SFU_REGION: v.optional(SfuRegionSchema, "local"),
  SFU_NODE_ID: v.optional(SfuNodeIdSchema),
  WORKER_URL: HttpUrl,
  SFU_NODE_KEY: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return JSON.parse(dataset.value) as unknown;
        } catch {
          addIssue({ message: "must be a JSON Web Key (scripts/fleet-key.ts generate writes one)" });
          return NEVER;
        }
      }),
      v.pipe(
        v.unknown(),
        v.check((value) => v.is(NodePrivateJwkSchema, value), "must be an EC P-256 private JWK with x, y and d (scripts/fleet-key.ts generate writes one)"),
      ),
      v.transform((value) => v.parse(NodePrivateJwkSchema, value)),
    ),
  ),
  FLEET_CREDENTIAL: v.optional(v.never('is no longer used: each node signs with its own key; set SFU_NODE_KEY instead (README, "Fleet identity")')),
  SFU_WORKERS: v.optional(PositiveInt),
  SFU_PUBLIC_URL: v.optional(HttpUrl),
  SFU_CONSUMERS_PER_ROUTER: v.optional(PositiveInt, "400"),
  SFU_MAX_CONSUMERS: v.optional(PositiveInt),
  SFU_DRAIN_DEADLINE_MS: v.optional(PositiveInt, "30000"),
  SFU_PIPE_DELAY_MS: v.optional(PipeDelaysSetting),
});

/**
 * Parses and checks the settings. Throws {@link ConfigError} naming the first bad setting, so `main` can
 * stop with a message an operator can act on.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SfuConfig {
  const present: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  if (present.SFU_NODE_KEY_FILE) {
    if (present.SFU_NODE_KEY) throw new ConfigError("SFU_NODE_KEY_FILE: set either SFU_NODE_KEY or SFU_NODE_KEY_FILE, not both");
    try {
      present.SFU_NODE_KEY = readFileSync(present.SFU_NODE_KEY_FILE, "utf8").trim();
    } catch (error) {
      throw new ConfigError(`SFU_NODE_KEY_FILE: cannot read ${present.SFU_NODE_KEY_FILE} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    delete present.SFU_NODE_KEY_FILE;
  }
  const result = v.safeParse(EnvSchema, present);
  if (!result.success) {
    const issue = result.issues[0]!;
    const name = issue.path?.map((p) => String(p.key)).join(".") ?? "environment";
    if (issue.received === "undefined") throw new ConfigError(`${name} is required but not set`);
    // A key or secret is never echoed: the message ends up in logs.
    if (SECRET_SETTINGS.has(name)) throw new ConfigError(`${name}: ${issue.message}`);
    throw new ConfigError(`${name}: ${issue.message} (got ${issue.received})`);
  }
  const e = result.output;
  if (e.SFU_RTC_PORT_MIN > e.SFU_RTC_PORT_MAX)
    throw new ConfigError(`SFU_RTC_PORT_MIN (${e.SFU_RTC_PORT_MIN}) must not be above SFU_RTC_PORT_MAX (${e.SFU_RTC_PORT_MAX})`);
  const workers = e.SFU_WORKERS ?? os.availableParallelism();
  if (e.SFU_WEBRTC_SERVER_PORT + workers - 1 > 65535)
    throw new ConfigError(`SFU_WEBRTC_SERVER_PORT: ${workers} workers need ports up to ${e.SFU_WEBRTC_SERVER_PORT + workers - 1}`);
  const listensEverywhere = e.SFU_LISTEN_HOST === "0.0.0.0" || e.SFU_LISTEN_HOST === "::";
  if (listensEverywhere && !e.SFU_ANNOUNCED_ADDRESS)
    throw new ConfigError("SFU_ANNOUNCED_ADDRESS: required when SFU_LISTEN_HOST is a wildcard address (browsers need a reachable IP in ICE candidates)");
  const publicHost = e.SFU_ANNOUNCED_ADDRESS ?? e.SFU_LISTEN_HOST;
  if (e.SFU_PIPE_DELAY_MS && !isLoopback(e.SFU_LISTEN_HOST))
    throw new ConfigError(
      `SFU_PIPE_DELAY_MS: test only (fakes the distance between sfu-nodes on one machine); allowed only when SFU_LISTEN_HOST is a loopback address (got ${e.SFU_LISTEN_HOST})`,
    );
  return {
    listenHost: e.SFU_LISTEN_HOST,
    httpPort: e.SFU_PORT,
    announcedAddress: e.SFU_ANNOUNCED_ADDRESS,
    rtcPortMin: e.SFU_RTC_PORT_MIN,
    rtcPortMax: e.SFU_RTC_PORT_MAX,
    webRtcServerPortBase: e.SFU_WEBRTC_SERVER_PORT,
    region: e.SFU_REGION,
    nodeId:
      e.SFU_NODE_ID ??
      `${e.SFU_REGION}-${os
        .hostname()
        .replace(/[^A-Za-z0-9._-]/g, "-")
        .slice(0, 40)}`,
    workerUrl: e.WORKER_URL.replace(/\/+$/, ""),
    nodeKey: e.SFU_NODE_KEY,
    workers,
    publicUrl: (e.SFU_PUBLIC_URL ?? `http://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${e.SFU_PORT}`).replace(/\/+$/, ""),
    consumersPerRouter: e.SFU_CONSUMERS_PER_ROUTER,
    maxConsumers: e.SFU_MAX_CONSUMERS ?? workers * 500,
    drainDeadlineMs: e.SFU_DRAIN_DEADLINE_MS,
    pipeAnnouncedAddress: e.SFU_PIPE_ANNOUNCED_ADDRESS ?? publicHost,
    pipeDelays: e.SFU_PIPE_DELAY_MS,
  };
}
