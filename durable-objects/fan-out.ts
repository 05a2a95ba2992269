import { CLASSROOM_CLOSE_CODES } from "../schema/protocol/classroom";
import { type FanOutDelivery, type FanOutItem, type FanOutReceipt, SOCKET_TAG } from "../schema/protocol/fan-out";
import { AUDIENCE_TAGS, type Recipient, USER_TAG } from "./broadcaster";
import type { RoomStorage } from "./storage";

/** The part of a fan-out object the class object calls (durable-objects/ClassroomShard.ts). */
export interface FanOutTarget {
  deliver(delivery: FanOutDelivery): Promise<FanOutReceipt>;
}

/** Waits between attempts to reach a fan-out object that did not answer: doubling, spread, at most 2 s. */
const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 2_000;
/**
 * A fan-out object out of reach this long (or with this many items queued for it) is given up on: its sockets
 * count as gone, and what queued for them is replaced by one close each (the browsers reconnect and get a fresh
 * snapshot), so a queue for an object that does not answer cannot grow without end.
 */
export const FAN_OUT_GIVE_UP = { afterMs: 15_000, items: 10_000 };

/** The close a fan-out object's socket gets once the class object gave up on reaching it: the browser reconnects. */
export const GAVE_UP_CLOSE = { code: CLASSROOM_CLOSE_CODES.tryAgain, reason: "The class could not reach this connection for a while; reconnecting" } as const;

interface RelayedRow extends Record<string, string | number | null> {
  id: string;
  shard: string;
  user_id: string;
  moderator: number;
  state: string | null;
}

/**
 * A browser socket held by a fan-out object, as the class object sees it: the same few things the class object
 * uses of its own sockets (id, state, send, close, readyState), so a socket through a fan-out object is admitted,
 * authorized and counted by the very code that handles a direct one. What it sends goes to its fan-out object in
 * order with everything else the class sends there.
 */
export class RelayedConnection<State = unknown> {
  readyState: number = WebSocket.OPEN;

  constructor(
    readonly id: string,
    readonly shard: string,
    readonly userId: string,
    readonly moderator: boolean,
    private current: State | null,
    private readonly fanOut: FanOut,
  ) {}

  get state(): State | null {
    return this.current;
  }

  setState(state: State | null): State | null {
    this.current = state;
    this.fanOut.saveState(this.id, state);
    return state;
  }

  send(frame: string): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.fanOut.enqueue(this.shard, { kind: "send", to: SOCKET_TAG(this.id), frame });
  }

  /** Asks its fan-out object to close the socket; the fan-out object reports the close back (see {@link FanOut.closed}). */
  close(code = 1000, reason = ""): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.readyState = WebSocket.CLOSING;
    this.fanOut.enqueue(this.shard, { kind: "close", socketId: this.id, code, reason });
  }
}

/**
 * The class object's side of fan-out: which sockets each fan-out object holds (kept in the object's SQLite, so a
 * restart of the class object still knows them), and one ordered delivery channel per fan-out object.
 */
export class FanOut {
  private readonly connections = new Map<string, RelayedConnection>();
  private readonly byUser = new Map<string, Set<RelayedConnection>>();
  private readonly channels = new Map<string, DeliveryChannel>();
  /** This instance of the class object: a fan-out object takes batch numbers per epoch. */
  private readonly epoch = Date.now();

  constructor(
    private readonly store: RoomStorage,
    private readonly target: (shard: string) => FanOutTarget,
    /** A socket its fan-out object no longer holds (found after that object restarted): handle it as a close. */
    private readonly lost: (connection: RelayedConnection) => void,
  ) {
    store.run(`CREATE TABLE IF NOT EXISTS fan_out_sockets (
      id TEXT PRIMARY KEY, shard TEXT NOT NULL, user_id TEXT NOT NULL, moderator INTEGER NOT NULL, state TEXT)`);
    for (const row of store.all<RelayedRow>(`SELECT * FROM fan_out_sockets`)) {
      this.remember(new RelayedConnection(row.id, row.shard, row.user_id, row.moderator === 1, row.state === null ? null : JSON.parse(row.state), this));
    }
  }

  /** A fan-out object took a socket: it is known from now on (its state comes with the class object's admission). */
  opened(id: string, shard: string, userId: string, moderator: boolean): RelayedConnection {
    const known = this.connections.get(id);
    if (known) return known;
    const connection = new RelayedConnection(id, shard, userId, moderator, null, this);
    this.store.run(`INSERT INTO fan_out_sockets (id, shard, user_id, moderator) VALUES (?, ?, ?, ?)`, id, shard, userId, moderator ? 1 : 0);
    this.remember(connection);
    return connection;
  }

  /** The socket is gone; returns its connection (closed) if it was known. */
  closed(id: string): RelayedConnection | null {
    const connection = this.connections.get(id);
    if (!connection) return null;
    connection.readyState = WebSocket.CLOSED;
    this.connections.delete(id);
    const mine = this.byUser.get(connection.userId);
    mine?.delete(connection);
    if (mine?.size === 0) this.byUser.delete(connection.userId);
    this.store.run(`DELETE FROM fan_out_sockets WHERE id = ?`, id);
    return connection;
  }

  get(id: string): RelayedConnection | null {
    return this.connections.get(id) ?? null;
  }

  /** The relayed sockets with `tag` (every one without a tag), as the class object's own would be listed. */
  sockets(tag?: string): RelayedConnection[] {
    if (tag === undefined) return [...this.connections.values()];
    if (tag.startsWith(USER_TAG(""))) return [...(this.byUser.get(tag.slice(USER_TAG("").length)) ?? [])];
    if (tag === AUDIENCE_TAGS.moderators) return [...this.connections.values()].filter((c) => c.moderator);
    if (tag === AUDIENCE_TAGS.students) return [...this.connections.values()].filter((c) => !c.moderator);
    return [];
  }

  /**
   * One recipient per fan-out object that holds a socket with `tag`: a frame for an audience or a user is sent to
   * each such object once, and it relays the frame to its own sockets with that tag.
   */
  relays(tag: string): Recipient[] {
    const shards = new Set(this.sockets(tag).map((c) => c.shard));
    return [...shards].map((shard) => ({ send: (frame: string) => this.enqueue(shard, { kind: "send", to: tag, frame }) }));
  }

  /** The most sockets any one fan-out object holds (0 without fan-out). */
  busiest(): number {
    const counts = new Map<string, number>();
    let most = 0;
    for (const { shard } of this.connections.values()) {
      const count = (counts.get(shard) ?? 0) + 1;
      counts.set(shard, count);
      most = Math.max(most, count);
    }
    return most;
  }

  saveState(id: string, state: unknown): void {
    this.store.run(`UPDATE fan_out_sockets SET state = ? WHERE id = ?`, state === null ? null : JSON.stringify(state), id);
  }

  enqueue(shard: string, item: FanOutItem): void {
    let channel = this.channels.get(shard);
    if (!channel) {
      channel = new DeliveryChannel(this.epoch, () => this.target(shard), {
        restarted: (sockets) => this.reconcile(shard, sockets),
        givenUp: () => this.giveUp(shard),
      });
      this.channels.set(shard, channel);
    }
    channel.push(item);
  }

  /**
   * The fan-out object has not answered for long: its sockets count as gone (their people leave like on a close),
   * and all it gets once it answers again is a close for each of them, so they reconnect and start afresh.
   */
  private giveUp(shard: string): FanOutItem[] {
    // All of them first: what their leaving sends then goes to the class's other sockets only.
    const gone = [...this.connections.values()].filter((connection) => connection.shard === shard);
    for (const connection of gone) this.closed(connection.id);
    for (const connection of gone) this.lost(connection);
    console.warn(JSON.stringify({ event: "fan_out_given_up", shard, sockets: gone.length }));
    return gone.map(({ id }) => ({ kind: "close", socketId: id, code: GAVE_UP_CLOSE.code, reason: GAVE_UP_CLOSE.reason }));
  }

  /** A fan-out object restarted and holds `held`: every socket it no longer holds is handled as closed. */
  private reconcile(shard: string, held: string[]): void {
    const holds = new Set(held);
    for (const connection of [...this.connections.values()]) {
      if (connection.shard !== shard || holds.has(connection.id)) continue;
      this.closed(connection.id);
      this.lost(connection);
    }
  }

  private remember(connection: RelayedConnection): void {
    this.connections.set(connection.id, connection);
    let mine = this.byUser.get(connection.userId);
    if (!mine) {
      mine = new Set();
      this.byUser.set(connection.userId, mine);
    }
    mine.add(connection);
  }
}

/** What a delivery channel tells its owner. */
export interface DeliveryEvents {
  /** The fan-out object restarted and holds these sockets only. */
  restarted(sockets: string[]): void;
  /** It has not answered for {@link FAN_OUT_GIVE_UP}: what it gets instead of everything queued for it. */
  givenUp(): FanOutItem[];
}

/**
 * Everything for one fan-out object, in order: items queue while a batch is on its way; a batch that fails is
 * sent again, the same batch with the same number, until it is taken (the fan-out object may be restarting), and
 * only then the next one, which carries everything that queued meanwhile. An object out of reach for
 * {@link FAN_OUT_GIVE_UP} (in time or in items queued) is given up on: the queue becomes what
 * {@link DeliveryEvents.givenUp} answers, and items for it queue again from there.
 */
export class DeliveryChannel {
  private pending: FanOutItem[] = [];
  private unacknowledged: FanOutDelivery | null = null;
  private nextBatch = 1;
  private busy = false;
  private attempts = 0;
  /** When the current run of failed attempts began (null while deliveries go through). */
  private failingSince: number | null = null;
  private stub: FanOutTarget | null = null;

  constructor(
    private readonly epoch: number,
    private readonly connect: () => FanOutTarget,
    private readonly events: DeliveryEvents,
    private readonly giveUpAfter: { afterMs: number; items: number } = FAN_OUT_GIVE_UP,
  ) {}

  /** Items waiting for the fan-out object (the batch on its way not counted). */
  get queued(): number {
    return this.pending.length;
  }

  push(item: FanOutItem): void {
    this.pending.push(item);
    if (this.failingSince !== null && this.pending.length > this.giveUpAfter.items) this.giveUp();
    // Everything one flush sends (each audience's frame) leaves in one batch: start after this turn.
    if (!this.busy && this.pending.length === 1 && !this.unacknowledged) queueMicrotask(() => void this.pump());
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    if (!this.unacknowledged) {
      if (this.pending.length === 0) return;
      this.unacknowledged = { epoch: this.epoch, batch: this.nextBatch++, items: this.pending };
      this.pending = [];
    }
    this.busy = true;
    try {
      this.stub ??= this.connect();
      const receipt = await this.stub.deliver(this.unacknowledged);
      this.unacknowledged = null;
      this.attempts = 0;
      this.failingSince = null;
      if (receipt.sockets) this.events.restarted(receipt.sockets);
    } catch (error) {
      // A stub that threw may stay broken: the next attempt makes a new one.
      this.stub = null;
      this.attempts += 1;
      this.failingSince ??= Date.now();
      if (Date.now() - this.failingSince >= this.giveUpAfter.afterMs) this.giveUp();
      const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** this.attempts) * (0.5 + Math.random() / 2);
      console.warn(JSON.stringify({ event: "fan_out_delivery_failed", attempt: this.attempts, error: String(error) }));
      this.busy = false;
      setTimeout(() => void this.pump(), wait);
      return;
    }
    this.busy = false;
    if (this.pending.length > 0) void this.pump();
  }

  /**
   * Stops piling up for an object that does not answer: the queue becomes the closes for its sockets. The batch
   * on its way stays (the object takes each batch number once, so it is still sent first), and a new run of
   * attempts begins, so it is given up on again only if more piles up.
   */
  private giveUp(): void {
    this.pending = this.events.givenUp();
    this.failingSince = Date.now();
  }
}
