import * as v from "valibot";
import { FLEET_HEARTBEAT_INTERVAL_MS, FleetAckSchema, type FleetHeartbeat, type FleetLoad, type FleetRescueOffer } from "../../schema/protocol/fleet";
import type { SfuConfig } from "./config";
import type { NodeIdentity } from "./fleet-auth";
import { log } from "./log";
import { CpuSampler, nodeCounts } from "./metrics";
import type { MediaNode } from "./Node";

/** How soon a node that could not register tries again. */
const REGISTER_RETRY_MS = 2_000;

type LinkConfig = Pick<SfuConfig, "workerUrl" | "region" | "publicUrl" | "maxConsumers">;

/**
 * The node's entry in the Worker's fleet registry: it registers on start and heartbeats its load; when the
 * Worker does not know it (404: the registry was reset) it registers again. Each request is signed by the
 * node's own key ({@link NodeIdentity}); a key not (or no longer) enrolled is refused with 401, logged and tried
 * again on the next beat, so enrolling the key after the node started is enough. Failures are logged and
 * retried on the next beat, so a Worker outage never stops media.
 */
export class FleetLink {
  readonly #config: LinkConfig;
  readonly #identity: NodeIdentity;
  readonly #node: MediaNode;
  readonly #sampler: CpuSampler;
  #timer: NodeJS.Timeout | undefined;
  #registered = false;
  #intervalMs = FLEET_HEARTBEAT_INTERVAL_MS;
  #stopped = false;
  #draining = false;
  #drained: Promise<void> = Promise.resolve();

  readonly #onRescue: ((offer: FleetRescueOffer) => void) | undefined;

  /** `onRescue`: a recording a lost node left, offered in a heartbeat answer (the recording glue's `rescue`). */
  constructor(config: LinkConfig, identity: NodeIdentity, node: MediaNode, onRescue?: (offer: FleetRescueOffer) => void) {
    this.#config = config;
    this.#identity = identity;
    this.#node = node;
    this.#sampler = new CpuSampler(node);
    this.#onRescue = onRescue;
  }

  /** Whether the Worker's registry has this node now (it registers again after a 404). */
  get registered(): boolean {
    return this.#registered;
  }

  /** Registers now, then beats every interval the Worker asks for. */
  start(): void {
    void this.#beat();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /**
   * The node drains: says so in a heartbeat now (the registry then counts it full) and in every later one.
   * Resolves when that heartbeat has been answered or has failed, so a node about to exit can wait for it.
   */
  drain(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (!this.#draining) {
      this.#draining = true;
      clearTimeout(this.#timer);
      this.#drained = this.#beat();
    }
    return this.#drained;
  }

  async load(): Promise<FleetLoad> {
    const counts = nodeCounts(this.#node);
    // A draining node takes nobody new, also when it must register again.
    const maxConsumers = this.#draining ? 0 : this.#config.maxConsumers;
    return { cpu: await this.#sampler.sample(), transports: counts.transports, consumers: counts.consumers, maxConsumers };
  }

  async #beat(): Promise<void> {
    try {
      if (!this.#registered) await this.#register();
      else await this.#heartbeat();
    } catch (error) {
      log("warn", "fleet_link_failed", { registered: this.#registered, error: error instanceof Error ? error.message : String(error) });
    }
    if (!this.#stopped) {
      // Until registered, try again soon (the Worker may still be starting); then beat at the Worker's pace.
      this.#timer = setTimeout(() => void this.#beat(), this.#registered ? this.#intervalMs : Math.min(this.#intervalMs, REGISTER_RETRY_MS));
      this.#timer.unref();
    }
  }

  async #register(): Promise<void> {
    const ack = await this.#post("/api/fleet/register", {
      nodeId: this.#identity.nodeId,
      region: this.#config.region,
      publicUrl: this.#config.publicUrl,
      load: await this.load(),
    });
    this.#registered = true;
    // The Worker sets the pace; the floor keeps a misconfigured registry from turning this into a busy loop.
    this.#intervalMs = Math.max(100, ack.heartbeatIntervalMs);
    log("info", "fleet_registered", { nodeId: this.#identity.nodeId, kid: this.#identity.kid, region: this.#config.region });
  }

  async #heartbeat(): Promise<void> {
    try {
      const body: FleetHeartbeat = { nodeId: this.#identity.nodeId, load: await this.load() };
      if (this.#draining) body.draining = true;
      const ack = await this.#post("/api/fleet/heartbeat", body);
      for (const offer of ack.rescue ?? []) this.#onRescue?.(offer);
    } catch (error) {
      if (error instanceof FleetHttpError && error.status === 404) {
        this.#registered = false;
        await this.#register();
        return;
      }
      throw error;
    }
  }

  async #post(path: string, body: unknown): Promise<v.InferOutput<typeof FleetAckSchema>> {
    const url = `${this.#config.workerUrl}${path}`;
    const response = await this.#identity.post(url, body, 5_000);
    if (!response.ok) throw new FleetHttpError(response.status, `${path} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return v.parse(FleetAckSchema, await response.json());
  }
}

class FleetHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "FleetHttpError";
  }
}
