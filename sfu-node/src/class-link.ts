import * as v from "valibot";
import WebSocket from "ws";
import { describeFrameIssues, type ErrorBody } from "../../schema/errors";
import {
  CLASS_LINK_CLOSE_CODES,
  CLASS_LINK_COMMANDS,
  CLASS_LINK_MAX_FRAME_BYTES,
  CLASS_LINK_NODE_HEADER,
  type ClassLinkCommand,
  type ClassLinkCommandData,
  ClassLinkCommandFrameSchema,
  type ClassLinkNotification,
  classLinkPath,
  type LinkProducer,
} from "../../schema/protocol/class-link";
import { readRequestId } from "../../schema/protocol/envelope";
import type { MediaSource } from "../../schema/tokens/media-token";
import { MediaError } from "./errors";
import type { NodeIdentity } from "./fleet-auth";
import { log } from "./log";
import type { MediaNode } from "./Node";
import { RoomPipes, type RoomPipesOptions } from "./pipes";
import type { Room } from "./Room";
import { errorBody } from "./signaling";

/** Reconnect delays: doubling from the first to the last, then staying there while the room lives. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 10_000;
/** The class object closes links that stay silent for 90 s; its runtime answers `ping` without waking it. */
const PING_INTERVAL_MS = 30_000;
/** How often users' network quality is computed; only changes are sent. */
const QUALITY_INTERVAL_MS = 2_000;

/** Recording commands, wired by the recording part of the node; without it they are refused as UNAVAILABLE. */
export interface RecordingCommands {
  start(room: Room, data: ClassLinkCommandData<"recording.start">): Promise<void>;
  stop(room: Room, data: ClassLinkCommandData<"recording.stop">): Promise<void>;
  include(room: Room, data: ClassLinkCommandData<"recording.include">): Promise<void>;
  /** The class's recordings this process holds (capturing, or composing and publishing), for the link's `recordings`. */
  heldFor(classId: string): RecordingHeld[];
}

export type RecordingHeld = Extract<ClassLinkNotification, { notification: "recordings" }>["data"]["recordings"][number];

export interface ClassLinkOptions {
  workerUrl: string;
  /** Signs each link upgrade; the Worker takes the node id from the key, not from the request. */
  identity: NodeIdentity;
  recording?: RecordingCommands;
  /** Pipes to other nodes: the address they reach this node at, and (tests) shorter waits. */
  pipes?: Omit<RoomPipesOptions, "notify">;
}

/**
 * The node's class links: for each room (class) it serves, one WebSocket to that class's Durable Object
 * (schema/protocol/class-link.ts), opened when the room opens and kept, reconnecting with backoff, until
 * the room closes. Over it the node reports producers, who left and network quality, and takes commands.
 */
export class ClassLinks {
  readonly #options: ClassLinkOptions;
  readonly #node: MediaNode;
  readonly #links = new Set<ClassLink>();
  readonly #onRoomOpened = (room: Room) => this.#open(room);
  /** When the node exits if peers stay (epoch ms), once it drains. */
  #drainingUntil: number | null = null;

  constructor(options: ClassLinkOptions, node: MediaNode) {
    this.#options = options;
    this.#node = node;
  }

  /** Links every room open now and every room that opens later. */
  start(): void {
    this.#node.on("roomOpened", this.#onRoomOpened);
    for (const room of this.#node.rooms.values()) this.#open(room);
  }

  /** The node drains and exits by `exitsAt` (epoch ms): every class object hears it now, and again on each reconnect. */
  drain(exitsAt: number): void {
    this.#drainingUntil = exitsAt;
    for (const link of this.#links) link.announceDraining();
  }

  stop(): void {
    this.#node.off("roomOpened", this.#onRoomOpened);
    for (const link of [...this.#links]) link.close();
  }

  #open(room: Room): void {
    const link = new ClassLink(
      room,
      this.#node,
      this.#options,
      () => this.#links.delete(link),
      () => this.#drainingUntil,
    );
    this.#links.add(link);
  }
}

type CommandHandler<M extends ClassLinkCommand> = (link: ClassLink, data: ClassLinkCommandData<M>) => unknown;

const COMMANDS: { [M in ClassLinkCommand]: CommandHandler<M> } = {
  setGrant: (link, data) => link.setGrant(data.userId, data.produce),
  pauseProducer: (link, data) => link.room.producer(data.producerId).producer.pause(),
  closeProducer: (link, data) => link.room.producer(data.producerId).producer.close(),
  disconnectPeer: (link, data) => link.disconnect(data.userId),
  "recording.start": (link, data) => link.recording("start").start(link.room, data),
  "recording.stop": (link, data) => link.recording("stop").stop(link.room, data),
  "recording.include": (link, data) => link.recording("include").include(link.room, data),
  pipeOpen: (link, data) => link.pipes.open(data),
  pipeConnect: (link, data) => link.pipes.connect(data),
  pipeConsume: (link, data) => link.pipes.consume(data),
  pipeProduce: (link, data) => link.pipes.produce(data),
  pipePause: (link, data) => link.pipes.pause(data),
  pipeDrop: (link, data) => link.pipes.drop(data),
  pipeUnconsume: (link, data) => link.pipes.unconsume(data),
  pipeUnavailable: (link, data) => link.pipes.unavailable(data),
  pipeClose: (link, data) => link.pipes.closePeer(data),
};

/** One room's link. */
class ClassLink {
  readonly room: Room;
  /** The room's pipes to the class's other nodes: driven only by this link's commands. */
  readonly pipes: RoomPipes;
  readonly #node: MediaNode;
  readonly #options: ClassLinkOptions;
  readonly #onClosed: () => void;
  readonly #drainingUntil: () => number | null;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #pingTimer: NodeJS.Timeout;
  readonly #qualityTimer: NodeJS.Timeout;
  readonly #quality = new Map<string, number>();
  #closed = false;

  constructor(room: Room, node: MediaNode, options: ClassLinkOptions, onClosed: () => void, drainingUntil: () => number | null) {
    this.room = room;
    this.#drainingUntil = drainingUntil;
    this.#node = node;
    this.#options = options;
    this.#onClosed = onClosed;
    this.pipes = new RoomPipes(room, { ...options.pipes, notify: (notification) => this.#send(notification) });
    room.cascade = this.pipes;
    room.on("producer", (producer, peer, source) => {
      const report = (): LinkProducer => ({ producerId: producer.id, userId: peer.userId, kind: producer.kind, source, paused: producer.paused });
      this.#notify({ notification: "producerAdded", data: report() });
      producer.observer.on("pause", () => this.#notify({ notification: "producerPaused", data: { producerId: producer.id, paused: true } }));
      producer.observer.on("resume", () => this.#notify({ notification: "producerPaused", data: { producerId: producer.id, paused: false } }));
      producer.observer.once("close", () => this.#notify({ notification: "producerRemoved", data: { producerId: producer.id } }));
    });
    room.on("peerLeft", (userId) => {
      this.#quality.delete(userId);
      this.#notify({ notification: "peerLeft", data: { userId } });
    });
    room.once("close", () => {
      // Its recordings stop with the room: said before the link closes, so the class object ends them as
      // stopped (this node composes them) rather than waiting for a node that seems gone.
      const held = this.#options.recording?.heldFor(room.classId) ?? [];
      if (held.length > 0) this.#send({ notification: "recordings", data: { recordings: held.map((recording) => ({ ...recording, capturing: false })) } });
      this.close();
    });
    this.#pingTimer = setInterval(() => {
      if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send("ping");
    }, PING_INTERVAL_MS);
    this.#pingTimer.unref();
    this.#qualityTimer = setInterval(() => this.#reportQuality(), QUALITY_INTERVAL_MS);
    this.#qualityTimer.unref();
    void this.#connect();
  }

  /** Ends the link for good (the room closed, or the node stops). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    clearInterval(this.#qualityTimer);
    clearTimeout(this.#reconnectTimer);
    this.#socket?.close(1000, "room closed");
    this.#onClosed();
  }

  /** Tells the class object the node drains (when it does), so it moves this room's people elsewhere. */
  announceDraining(): void {
    const until = this.#drainingUntil();
    if (until !== null) this.#send({ notification: "draining", data: { exitsInMs: Math.max(0, Math.round(until - Date.now())) } });
  }

  /** The class changed what `userId` may send; it holds for their later reconnects too. */
  setGrant(userId: string, produce: readonly MediaSource[]): void {
    this.#node.overrides.set(this.room.classId, userId, produce);
    this.room.peers.get(userId)?.setGrant(produce);
  }

  /** The class removed `userId`: their media closes now, and their current token no longer gets them in. */
  disconnect(userId: string): void {
    this.#node.overrides.set(this.room.classId, userId, null);
    this.room.peers.get(userId)?.disconnect();
  }

  recording<K extends keyof RecordingCommands>(kind: K): Pick<RecordingCommands, K> {
    const recording = this.#options.recording;
    if (!recording) throw new MediaError("UNAVAILABLE", `This node cannot ${kind} recordings`);
    return recording;
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const url = new URL(classLinkPath(this.room.classId), this.#options.workerUrl);
    const { identity } = this.#options;
    let authorization: string;
    try {
      // A fresh single-use token per attempt: the Worker refuses one it has seen.
      authorization = await identity.authorization("GET", url);
    } catch (error) {
      log("error", "class_link_not_signed", { classId: this.room.classId, error: String(error) });
      this.#reconnectLater();
      return;
    }
    if (this.#closed) return;
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url, {
      headers: { authorization, [CLASS_LINK_NODE_HEADER]: identity.nodeId },
      maxPayload: CLASS_LINK_MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
    });
    this.#socket = socket;
    socket.on("open", () => {
      this.#attempt = 0;
      this.#quality.clear();
      log("info", "class_link_open", { classId: this.room.classId });
      this.#send(this.#sync());
      // Without it the class object could not tell a node that lost its recordings (a restarted process) from one that kept them.
      this.#send({ notification: "recordings", data: { recordings: this.#options.recording?.heldFor(this.room.classId) ?? [] } });
      this.announceDraining();
      this.pipes.askAgain();
    });
    socket.on("message", (raw, isBinary) => {
      if (!isBinary) void this.#onCommand(raw.toString());
    });
    socket.on("unexpected-response", (_request, response) => {
      log("warn", "class_link_refused", { classId: this.room.classId, status: response.statusCode });
      socket.terminate();
    });
    socket.on("error", (error) => log("warn", "class_link_error", { classId: this.room.classId, error: error.message }));
    socket.on("close", (code) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#closed) return;
      if (code === CLASS_LINK_CLOSE_CODES.ended) {
        // The class ended: everyone's media in it stops, and the room closes with its last peer.
        log("info", "class_link_ended", { classId: this.room.classId });
        for (const peer of [...this.room.peers.values()]) this.disconnect(peer.userId);
        this.close();
        return;
      }
      this.#reconnectLater();
    });
  }

  #reconnectLater(): void {
    if (this.#closed) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
    this.#reconnectTimer.unref();
  }

  /** Everything the class object must know about this room after a (re)connect. */
  #sync(): ClassLinkNotification {
    const producers: LinkProducer[] = [];
    for (const peer of this.room.peers.values()) {
      for (const { producer, source } of peer.producers.values()) {
        producers.push({ producerId: producer.id, userId: peer.userId, kind: producer.kind, source, paused: producer.paused });
      }
    }
    return { notification: "sync", data: { nodeId: this.#options.identity.nodeId, producers, users: [...this.room.peers.keys()] } };
  }

  async #onCommand(text: string): Promise<void> {
    if (text === "pong") return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.#answer(null, { code: "INVALID_MESSAGE", message: "The frame is not valid JSON" });
    }
    const frame = v.safeParse(ClassLinkCommandFrameSchema, json);
    if (!frame.success) return this.#answer(readRequestId(json), { code: "INVALID_MESSAGE", message: describeFrameIssues(frame.issues) });
    const { id, method } = frame.output;
    const data = v.safeParse(CLASS_LINK_COMMANDS[method], frame.output.data ?? {});
    if (!data.success) return this.#answer(id, { code: "INVALID_MESSAGE", message: `data: ${describeFrameIssues(data.issues)}` });
    try {
      const answer = await (COMMANDS[method] as CommandHandler<ClassLinkCommand>)(this, data.output as ClassLinkCommandData<ClassLinkCommand>);
      log("info", "class_link_command", { classId: this.room.classId, method });
      this.#send({ id, ok: true, data: answer ?? {} });
    } catch (error) {
      const body = errorBody(error);
      if (body.code === "INTERNAL")
        log("error", "class_link_command_failed", { classId: this.room.classId, method, error: String(error instanceof Error ? error.stack : error) });
      this.#answer(id, body);
    }
  }

  #answer(id: number | null, error: ErrorBody): void {
    this.#send({ id, ok: false, error });
  }

  #notify(notification: ClassLinkNotification): void {
    // While disconnected, reports are dropped: the `sync` after the reconnect carries the state.
    this.#send(notification);
  }

  #send(frame: unknown): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }

  /**
   * Each user's network quality, 0–10: the worst of their producers (the mean score of its encodings: how
   * well their uplink delivers) and the mean score of their consumers (how well their downlink receives).
   */
  #reportQuality(): void {
    const changed: Record<string, number> = {};
    for (const peer of this.room.peers.values()) {
      const scores: number[] = [];
      for (const { producer } of peer.producers.values()) {
        if (producer.paused || producer.score.length === 0) continue;
        scores.push(mean(producer.score.map((s) => s.score)));
      }
      const consumerScores = [...peer.consumers.values()]
        .filter(({ consumer }) => !consumer.paused && !consumer.producerPaused)
        .map(({ consumer }) => consumer.score.score);
      if (consumerScores.length > 0) scores.push(mean(consumerScores));
      if (scores.length === 0) continue;
      const quality = Math.round(Math.min(...scores));
      if (this.#quality.get(peer.userId) === quality) continue;
      this.#quality.set(peer.userId, quality);
      changed[peer.userId] = quality;
    }
    if (Object.keys(changed).length > 0) this.#notify({ notification: "quality", data: { quality: changed } });
  }
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}
