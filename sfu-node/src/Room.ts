import { EventEmitter } from "node:events";
import type { types } from "mediasoup";
import type { MediaNotification } from "../../schema/protocol/media";
import type { MediaRole, MediaSource } from "../../schema/tokens/media-token";
import { MediaError } from "./errors";
import { log } from "./log";
import type { MediaNode, WorkerSlot } from "./Node";
import { Peer, type PeerConnection } from "./Peer";
import type { RoomPipes } from "./pipes";

/** One router of a room, on one worker; `consumers` drives where new receive transports go. */
export interface RouterEntry {
  readonly slotIndex: number;
  readonly router: types.Router;
  consumers: number;
}

interface ProducerEntry {
  readonly producer: types.Producer;
  /** Its sender on this node; undefined for a producer piped here from another node (./pipes.ts). */
  readonly peer: Peer | undefined;
  readonly userId: string;
  readonly source: MediaSource;
  readonly home: RouterEntry;
}

export interface RoomEvents {
  close: [];
  /** A producer was added (the recorder follows these). */
  producer: [producer: types.Producer, peer: Peer, source: MediaSource];
  /** A producer of another node was piped here (the recorder follows these too: a stage on several nodes). */
  pipedProducer: [producer: types.Producer, userId: string, source: MediaSource];
  /** A participant here consumes a producer (a piped one stays open while it has consumers). */
  consumer: [consumer: types.Consumer];
  /** A participant's media connection ended (the class link reports it). */
  peerLeft: [userId: string];
  /** The worker under one of the room's routers died; everything on that router is closed already. */
  routerLost: [slotIndex: number];
}

export type CloseReason = "closed-by-server" | "worker-died";

/** Who joins: everything comes from the verified media token, never from a message. */
export interface PeerInit {
  userId: string;
  role: MediaRole;
  produce: readonly MediaSource[];
  displayName: string | undefined;
  connection: PeerConnection;
  /** When the media token was issued (ms): decisions the class made later win over its grant. */
  issuedAt?: number;
}

/**
 * A class on this node. It owns its routers (at most one per worker); senders' transports live on the first
 * router, and receivers are spread: a new receive transport goes to the first router still under
 * `consumersPerRouter` consumers, or to a new router on another worker once all are past it. A producer is
 * piped (`pipeToRouter`) to each router that has a consumer for it. The last peer out closes the room.
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly classId: string;
  readonly #node: MediaNode;
  readonly #consumersPerRouter: number;
  readonly #routers = new Map<number, RouterEntry>();
  readonly #routersOpening = new Map<number, Promise<RouterEntry>>();
  readonly #peers = new Map<string, Peer>();
  readonly #producers = new Map<string, ProducerEntry>();
  readonly #pipes = new Map<string, Promise<void>>();
  /** Pipes to the class's other nodes, set by the room's class link; without one, only local producers are consumable. */
  cascade: RoomPipes | undefined;
  #closed = false;

  private constructor(classId: string, node: MediaNode, consumersPerRouter: number) {
    super();
    this.classId = classId;
    this.#node = node;
    this.#consumersPerRouter = consumersPerRouter;
  }

  /** Opens a room with its first router on the node's least used worker (use {@link MediaNode.openRoom}). */
  static async open(options: { classId: string; node: MediaNode; consumersPerRouter: number }): Promise<Room> {
    const room = new Room(options.classId, options.node, options.consumersPerRouter);
    await room.#openRouter(room.#leastUsedSlot(new Set()));
    log("info", "room_opened", { classId: room.classId });
    return room;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  get routers(): ReadonlyMap<number, RouterEntry> {
    return this.#routers;
  }

  /** The codecs peers load into their Device (every router of the room has the same ones). */
  async rtpCapabilities(): Promise<types.RtpCapabilities> {
    return (await this.routerForSending()).router.rtpCapabilities;
  }

  /** Joins a peer; an older connection of the same user is closed first (a reload or a second tab). */
  addPeer(init: PeerInit): Peer {
    if (this.#closed) throw new MediaError("UNAVAILABLE", "This class was just closed on this node; join again");
    // Checked again although the upgrade checked it (to refuse before the socket opens): the room opens
    // asynchronously in between, and a removal the class object sends in that gap must still keep them out.
    const produce = this.#node.overrides.admit(this.classId, init.userId, init.issuedAt, init.produce);
    const previous = this.#peers.get(init.userId);
    const peer = new Peer(this, { ...init, produce });
    // The new peer takes the seat first, so the old one leaving does not empty (and close) the room.
    this.#peers.set(init.userId, peer);
    previous?.replace();
    log("info", "peer_joined", { classId: this.classId, userId: init.userId, role: init.role });
    return peer;
  }

  /** Called by a peer when it closes; the last one out closes the room. */
  removePeer(peer: Peer): void {
    if (this.#peers.get(peer.userId) !== peer) return;
    this.#peers.delete(peer.userId);
    log("info", "peer_left", { classId: this.classId, userId: peer.userId });
    this.emit("peerLeft", peer.userId);
    if (this.#peers.size === 0) this.close("closed-by-server");
  }

  /** Where send transports go: the room's first router (re-created if its worker died). */
  async routerForSending(): Promise<RouterEntry> {
    const first = this.#routers.values().next();
    if (!first.done) return first.value;
    return this.#openRouter(this.#leastUsedSlot(new Set()));
  }

  /** Where a new receive transport goes (see the class comment). */
  async routerForReceiving(): Promise<RouterEntry> {
    for (const entry of this.#routers.values()) if (entry.consumers < this.#consumersPerRouter) return entry;
    const used = new Set(this.#routers.keys());
    // A worker that just died has no place for a router until it is replaced; the routers left take the load.
    if (this.#node.slots.some((slot) => !used.has(slot.index) && running(slot))) return this.#openRouter(this.#leastUsedSlot(used));
    const entries = [...this.#routers.values()];
    if (entries.length === 0) return this.routerForSending();
    return entries.reduce((least, entry) => (entry.consumers < least.consumers ? entry : least));
  }

  /** The worker slot a router entry lives on. */
  slotOf(entry: RouterEntry): WorkerSlot {
    const slot = this.#node.slots[entry.slotIndex];
    if (!slot) throw new Error(`No worker slot ${entry.slotIndex}`);
    return slot;
  }

  /** Records a new producer and tells the other peers. */
  addProducer(peer: Peer, producer: types.Producer, source: MediaSource, home: RouterEntry): void {
    this.#register({ producer, peer, userId: peer.userId, source, home });
    this.emit("producer", producer, peer, source);
  }

  /**
   * Records a producer piped here from another node (./pipes.ts): local participants consume it like any other,
   * but it is not this node's to report. A recording here captures it like a local one (`pipedProducer`).
   */
  addPipedProducer(producer: types.Producer, userId: string, source: MediaSource, home: RouterEntry): void {
    this.#register({ producer, peer: undefined, userId, source, home });
    this.emit("pipedProducer", producer, userId, source);
  }

  /** Every producer consumable here, local and piped from other nodes, with whose and of what it is. */
  allProducers(): { producer: types.Producer; userId: string; source: MediaSource }[] {
    return [...this.#producers.values()].map(({ producer, userId, source }) => ({ producer, userId, source }));
  }

  #register(entry: ProducerEntry): void {
    const { producer, peer, userId, source } = entry;
    this.#producers.set(producer.id, entry);
    producer.observer.once("close", () => {
      this.#producers.delete(producer.id);
      for (const key of this.#pipes.keys()) if (key.startsWith(`${producer.id}@`)) this.#pipes.delete(key);
      this.broadcast({ notification: "producerRemoved", data: { producerId: producer.id, userId } }, peer);
    });
    producer.observer.on("pause", () => this.broadcast({ notification: "producerPaused", data: { producerId: producer.id, paused: true } }));
    producer.observer.on("resume", () => this.broadcast({ notification: "producerPaused", data: { producerId: producer.id, paused: false } }));
    this.broadcast({ notification: "producerAdded", data: { producerId: producer.id, userId, kind: producer.kind, source, paused: producer.paused } }, peer);
  }

  /** The producer and its source, or NOT_FOUND. `owner` is undefined for a producer piped from another node. */
  producer(producerId: string): { producer: types.Producer; source: MediaSource; owner: Peer | undefined } {
    const entry = this.#producers.get(producerId);
    if (!entry) throw new MediaError("NOT_FOUND", `No producer ${producerId} in this class on this node`);
    return { producer: entry.producer, source: entry.source, owner: entry.peer };
  }

  /** Like {@link producer}, but a producer of the class on another node is first piped here (asked of the class object). */
  async producerForConsuming(producerId: string): Promise<{ producer: types.Producer; source: MediaSource; owner: Peer | undefined }> {
    if (!this.#producers.has(producerId) && this.cascade) await this.cascade.want(producerId);
    return this.producer(producerId);
  }

  /** Makes `producerId` consumable on `target`: piped there once (later callers wait for the same pipe). */
  async bringProducerTo(producerId: string, target: RouterEntry): Promise<void> {
    const entry = this.#producers.get(producerId);
    if (!entry) throw new MediaError("NOT_FOUND", `No producer ${producerId} in this class on this node`);
    if (entry.home === target) return;
    const key = `${producerId}@${target.slotIndex}`;
    let pipe = this.#pipes.get(key);
    if (!pipe) {
      pipe = entry.home.router.pipeToRouter({ producerId, router: target.router }).then(() => {
        log("debug", "producer_piped", { classId: this.classId, producerId, from: entry.home.slotIndex, to: target.slotIndex });
      });
      this.#pipes.set(key, pipe);
      pipe.catch(() => this.#pipes.delete(key));
    }
    await pipe;
  }

  /** Sends a notification to every peer but `except`. */
  broadcast(notification: MediaNotification, except?: Peer): void {
    for (const peer of this.#peers.values()) if (peer !== except) peer.notify(notification);
  }

  /**
   * The worker under one of our routers died. By now mediasoup has closed that router and everything on it:
   * peers with a transport there were told to reconnect (see Peer), and consumers elsewhere of producers
   * that lived there were closed. What is left is forgetting the router, so new transports go elsewhere.
   */
  #onRouterLost(slotIndex: number): void {
    if (!this.#routers.delete(slotIndex)) return;
    for (const key of this.#pipes.keys()) if (key.endsWith(`@${slotIndex}`)) this.#pipes.delete(key);
    log("warn", "room_lost_router", { classId: this.classId, worker: slotIndex });
    this.emit("routerLost", slotIndex);
  }

  /** Counts for /metrics and the fleet load report. */
  counts(): { transports: number; producers: number; consumers: number } {
    let transports = 0;
    let consumers = 0;
    for (const peer of this.#peers.values()) {
      transports += peer.transports.size;
      consumers += peer.consumers.size;
    }
    let producers = 0;
    for (const entry of this.#producers.values()) if (entry.peer) producers += 1;
    return { transports, producers, consumers };
  }

  /** Closes every peer (asking them to reconnect) and every router, then leaves the node's registry. Safe twice. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    // Peers still here lose their media without having left: they must rejoin (here or on another node).
    for (const peer of [...this.#peers.values()]) peer.closeForReconnect(reason);
    this.#peers.clear();
    for (const entry of this.#routers.values()) entry.router.close();
    this.#routers.clear();
    this.#pipes.clear();
    log("info", "room_closed", { classId: this.classId, reason });
    this.emit("close");
  }

  #leastUsedSlot(exclude: ReadonlySet<number>): WorkerSlot {
    const routersPerSlot = new Map<number, number>();
    for (const room of this.#node.rooms.values()) for (const index of room.routers.keys()) routersPerSlot.set(index, (routersPerSlot.get(index) ?? 0) + 1);
    const candidates = this.#node.slots.filter((slot) => !exclude.has(slot.index) && running(slot));
    if (candidates.length === 0) throw new MediaError("UNAVAILABLE", "No media worker is available on this node");
    return candidates.reduce((best, slot) => ((routersPerSlot.get(slot.index) ?? 0) < (routersPerSlot.get(best.index) ?? 0) ? slot : best));
  }

  #openRouter(slot: WorkerSlot): Promise<RouterEntry> {
    const existing = this.#routers.get(slot.index);
    if (existing) return Promise.resolve(existing);
    let opening = this.#routersOpening.get(slot.index);
    if (!opening) {
      opening = this.#node.createRouter(slot, { classId: this.classId }).then((router) => {
        this.#routersOpening.delete(slot.index);
        if (this.#closed) {
          router.close();
          throw new MediaError("UNAVAILABLE", "This class was just closed on this node; join again");
        }
        const entry: RouterEntry = { slotIndex: slot.index, router, consumers: 0 };
        this.#routers.set(slot.index, entry);
        router.once("workerclose", () => this.#onRouterLost(slot.index));
        return entry;
      });
      this.#routersOpening.set(slot.index, opening);
      opening.catch(() => this.#routersOpening.delete(slot.index));
    }
    return opening;
  }
}

function running(slot: WorkerSlot): boolean {
  return !slot.worker.died && !slot.worker.closed;
}
