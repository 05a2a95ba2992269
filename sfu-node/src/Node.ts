import { EventEmitter } from "node:events";
import * as mediasoup from "mediasoup";
import type { types } from "mediasoup";
import { followActiveSpeaker } from "./active-speaker";
import type { SfuConfig } from "./config";
import { GrantOverrides } from "./grant-overrides";
import { log } from "./log";
import { Room } from "./Room";

/** The codecs every router offers: Opus; VP8 and VP9 (simulcast/SVC); H264 for Safari. */
export const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2 },
  // A start bitrate keeps Chromium from holding the top simulcast layer back for seconds after joining.
  { kind: "video", mimeType: "video/VP8", clockRate: 90000, parameters: { "x-google-start-bitrate": 1000 } },
  { kind: "video", mimeType: "video/VP9", clockRate: 90000, parameters: { "profile-id": 0, "x-google-start-bitrate": 1000 } },
  {
    kind: "video",
    mimeType: "video/H264",
    clockRate: 90000,
    parameters: { "packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1 },
  },
  {
    kind: "video",
    mimeType: "video/H264",
    clockRate: 90000,
    parameters: { "packetization-mode": 1, "profile-level-id": "4d0032", "level-asymmetry-allowed": 1 },
  },
];

/**
 * One mediasoup worker and how its transports listen: through the worker's WebRtcServer (one UDP and one
 * TCP port, firewall-friendly) or, when that port could not be bound, on ports from this worker's share of
 * the RTC port range.
 */
export interface WorkerSlot {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer | undefined;
  /** Used when there is no WebRtcServer, and for plain transports (recording, tests). */
  readonly listenInfos: types.TransportListenInfo[];
}

export interface MediaNodeEvents {
  /** The worker in `slot` died and was replaced; rooms on it have already told their peers to reconnect. */
  workerReplaced: [slot: WorkerSlot, previousPid: number];
  /** A room opened (the class link connects for it). */
  roomOpened: [room: Room];
}

/** Creation options that are not operator settings (tests use them to pin a worker log level). */
export interface MediaNodeOptions {
  logLevel?: types.WorkerLogLevel;
}

type NodeConfig = Pick<
  SfuConfig,
  "listenHost" | "announcedAddress" | "rtcPortMin" | "rtcPortMax" | "webRtcServerPortBase" | "workers" | "consumersPerRouter" | "nodeId"
>;

/**
 * The media side of one sfu-node: its mediasoup workers (one per core) and the rooms (classes) it serves.
 * A worker that dies is replaced in its slot, and every room that had a router on it is told, so its peers
 * reconnect.
 */
export class MediaNode extends EventEmitter<MediaNodeEvents> {
  readonly #config: NodeConfig;
  readonly #options: MediaNodeOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #rooms = new Map<string, Room>();
  readonly #roomsOpening = new Map<string, Promise<Room>>();
  /** What classes decided about their participants after signing their tokens (see GrantOverrides). */
  readonly overrides = new GrantOverrides();
  #closed = false;

  private constructor(config: NodeConfig, options: MediaNodeOptions) {
    super();
    this.#config = config;
    this.#options = options;
  }

  /** Starts `config.workers` mediasoup workers, each with its WebRtcServer. */
  static async create(config: NodeConfig, options: MediaNodeOptions = {}): Promise<MediaNode> {
    const node = new MediaNode(config, options);
    try {
      for (let index = 0; index < config.workers; index++) node.#slots.push(await node.#startSlot(index));
    } catch (error) {
      node.close();
      throw error;
    }
    return node;
  }

  get nodeId(): string {
    return this.#config.nodeId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** Rooms currently open on this node, by class id. */
  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  /** The room for `classId`, opened on first use. Concurrent callers share one opening (no duplicate rooms). */
  async openRoom(classId: string): Promise<Room> {
    if (this.#closed) throw new Error("The media node is closed");
    const existing = this.#rooms.get(classId);
    if (existing && !existing.closed) return existing;
    const opening = this.#roomsOpening.get(classId);
    if (opening) return opening;
    const promise = Room.open({ classId, node: this, consumersPerRouter: this.#config.consumersPerRouter }).then((room) => {
      this.#rooms.set(classId, room);
      room.once("close", () => {
        if (this.#rooms.get(classId) === room) this.#rooms.delete(classId);
      });
      followActiveSpeaker(room);
      this.emit("roomOpened", room);
      return room;
    });
    this.#roomsOpening.set(classId, promise);
    try {
      return await promise;
    } finally {
      this.#roomsOpening.delete(classId);
    }
  }

  /** A new router on the worker in `slot`. */
  createRouter(slot: WorkerSlot, appData: types.AppData): Promise<types.Router> {
    return slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData });
  }

  /** Closes every room and worker. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of [...this.#rooms.values()]) room.close("closed-by-server");
    for (const slot of this.#slots) slot.worker.close();
  }

  async #startSlot(index: number): Promise<WorkerSlot> {
    const worker = await mediasoup.createWorker({ logLevel: this.#options.logLevel ?? "warn", appData: { index } });
    const listenInfos = this.#rangeListenInfos(index);
    let webRtcServer: types.WebRtcServer | undefined;
    const port = this.#config.webRtcServerPortBase + index;
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { protocol: "udp", ip: this.#config.listenHost, announcedAddress: this.#config.announcedAddress, port },
          { protocol: "tcp", ip: this.#config.listenHost, announcedAddress: this.#config.announcedAddress, port },
        ],
      });
    } catch (error) {
      // A taken port must not keep the node down: this worker's transports get ports from the range instead.
      log("warn", "webrtc_server_fallback", { worker: index, port, error: String(error) });
    }
    const slot: WorkerSlot = { index, worker, webRtcServer, listenInfos };
    worker.once("died", (error) => this.#onWorkerDied(slot, error));
    log("info", "worker_started", { worker: index, pid: worker.pid, webRtcServerPort: webRtcServer ? port : null });
    return slot;
  }

  /** Worker i gets the i-th equal share of [rtcPortMin, rtcPortMax], so workers never race for a port. */
  #rangeListenInfos(index: number): types.TransportListenInfo[] {
    const { rtcPortMin, rtcPortMax, workers } = this.#config;
    const share = Math.max(1, Math.floor((rtcPortMax - rtcPortMin + 1) / workers));
    const min = Math.min(rtcPortMax, rtcPortMin + share * index);
    const max = Math.min(rtcPortMax, min + share - 1);
    const common = { ip: this.#config.listenHost, announcedAddress: this.#config.announcedAddress, portRange: { min, max } };
    return [
      { protocol: "udp", ...common },
      { protocol: "tcp", ...common },
    ];
  }

  async #onWorkerDied(dead: WorkerSlot, error: Error): Promise<void> {
    log("error", "worker_died", { worker: dead.index, pid: dead.worker.pid, error: error.message });
    if (this.#closed) return;
    // Rooms have already reacted: mediasoup closed the worker's routers, and their peers were told to rejoin.
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        const replacement = await this.#startSlot(dead.index);
        if (this.#closed) {
          replacement.worker.close();
          return;
        }
        this.#slots[dead.index] = replacement;
        this.emit("workerReplaced", replacement, dead.worker.pid);
        return;
      } catch (startError) {
        log("error", "worker_restart_failed", { worker: dead.index, attempt, error: String(startError) });
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)));
      }
    }
  }
}
