import type { types } from "mediasoup";
import type { ClassLinkCommandData, ClassLinkNotification, PipeEnd, PipedStream, PipeOpenAnswer } from "../../schema/protocol/class-link";
import type { MediaSource } from "../../schema/tokens/media-token";
import { PipeDelayRelay, type PipeDelays, pipeDelayFor } from "./delay-relay";
import { MediaError } from "./errors";
import { log } from "./log";
import type { Room, RouterEntry } from "./Room";

/** A piped producer nobody here consumed for this long is closed (its node then stops sending it). */
export const PIPE_IDLE_CLOSE_MS = 30_000;
/** How long a participant's `consume` waits for the class object to pipe a producer of another node here. */
export const PIPE_WAIT_MS = 10_000;

export interface RoomPipesOptions {
  /** The address other nodes send this node's pipes to (SFU_PIPE_ANNOUNCED_ADDRESS); the listen address when unset. */
  announcedAddress?: string;
  idleCloseMs?: number;
  waitMs?: number;
  /** TEST ONLY (SFU_PIPE_DELAY_MS): delay added to what this node receives through its pipes (./delay-relay.ts). */
  delays?: PipeDelays;
  /** Sends a notification to the class object over the room's class link (dropped while the link is down). */
  notify(notification: ClassLinkNotification): void;
}

/** This room's end of the pipe towards one other node. */
interface PipeEndEntry {
  readonly peerNodeId: string;
  readonly transport: types.PipeTransport;
  readonly home: RouterEntry;
  /** Test only: the delay relay between the transport and the peer (undefined in production). */
  readonly relay: PipeDelayRelay | undefined;
  remote: PipeEnd | undefined;
}

/** A producer of this node sent to another node. */
interface Outgoing {
  readonly consumer: types.Consumer;
}

/** A producer of another node received here, consumed by this node's participants as if it were local. */
interface Incoming {
  readonly producer: types.Producer;
  readonly fromNodeId: string;
  consumers: number;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Waiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

export interface PipeCounts {
  /** Per other node: pipe transports (0 or 1), producers sent there, producers received from there. */
  byPeer: Map<string, { transports: number; sent: number; received: number; transport: types.PipeTransport }>;
}

/**
 * A room's pipes to the class's other nodes (mediasoup PipeTransports with SRTP and RTX/NACK), all opened,
 * connected, fed and closed on the class object's commands over the room's authenticated class link: one
 * transport pair per node pair, one pipe consumer per producer and peer node here on the sending side, one
 * piped producer (same id as on its node) shared by every local consumer on the receiving side, closed
 * {@link PIPE_IDLE_CLOSE_MS} after its last local consumer leaves. Keyframe requests and NACKs of the local
 * consumers travel upstream through the pipe (mediasoup does that for pipe consumers); pause and close do not
 * (no signalling crosses a pipe), so the object relays them (`pipePause`, `pipeDrop`).
 */
export class RoomPipes {
  readonly #room: Room;
  readonly #options: RoomPipesOptions;
  readonly #ends = new Map<string, PipeEndEntry>();
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #incoming = new Map<string, Incoming>();
  readonly #waiting = new Map<string, Waiter>();
  #closed = false;

  constructor(room: Room, options: RoomPipesOptions) {
    this.#room = room;
    this.#options = options;
    room.on("consumer", (consumer) => this.#countConsumer(consumer));
    room.once("close", () => this.close());
  }

  /** `pipeOpen`: this room's end towards `peerNodeId` (made on first use), and the peer end it is connected to. */
  async open({ peerNodeId }: ClassLinkCommandData<"pipeOpen">): Promise<PipeOpenAnswer> {
    const existing = this.#ends.get(peerNodeId);
    if (existing && !existing.transport.closed) return this.#answer(existing);
    const home = await this.#room.routerForSending();
    const udp = this.#room.slotOf(home).listenInfos.find((info) => info.protocol === "udp");
    if (!udp) throw new MediaError("UNAVAILABLE", "This node has no UDP port range for pipes");
    const transport = await home.router.createPipeTransport({
      listenInfo: { ...udp, announcedAddress: this.#options.announcedAddress ?? udp.announcedAddress },
      enableSrtp: true,
      enableRtx: true,
      appData: { peerNodeId },
    });
    const delayMs = pipeDelayFor(this.#options.delays, peerNodeId);
    let relay: PipeDelayRelay | undefined;
    if (delayMs > 0) {
      try {
        relay = await PipeDelayRelay.open(udp.ip, { address: transport.tuple.localIp, port: transport.tuple.localPort }, delayMs, {
          classId: this.#room.classId,
          peerNodeId,
        });
      } catch (error) {
        transport.close();
        throw error;
      }
    }
    const entry: PipeEndEntry = { peerNodeId, transport, home, relay, remote: undefined };
    transport.observer.once("close", () => {
      relay?.close();
      if (this.#ends.get(peerNodeId) === entry) this.#ends.delete(peerNodeId);
    });
    // A race with a second `pipeOpen` keeps one end.
    const raced = this.#ends.get(peerNodeId);
    if (raced && !raced.transport.closed) {
      transport.close();
      return this.#answer(raced);
    }
    this.#ends.set(peerNodeId, entry);
    log("info", "pipe_opened", { classId: this.#room.classId, peerNodeId, port: transport.tuple.localPort, ...(relay ? { addedDelayMs: delayMs } : {}) });
    return this.#answer(entry);
  }

  /** `pipeConnect`: the peer node's end, as the class object relays it; only to an end the object opened. */
  async connect({ peerNodeId, remote }: ClassLinkCommandData<"pipeConnect">): Promise<void> {
    const end = this.#ends.get(peerNodeId);
    if (!end || end.transport.closed) throw new MediaError("CONFLICT", `No pipe to ${peerNodeId} was opened here for this class`);
    if (end.remote) {
      if (end.remote.ip === remote.ip && end.remote.port === remote.port && end.remote.srtpParameters.keyBase64 === remote.srtpParameters.keyBase64) return;
      throw new MediaError("CONFLICT", `The pipe to ${peerNodeId} is already connected elsewhere`);
    }
    end.remote = remote;
    if (!end.relay) {
      await end.transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters });
      return;
    }
    // Test only: the transport talks to the relay's inner socket, the relay to the peer's end.
    end.relay.connect({ address: remote.ip, port: remote.port });
    await end.transport.connect({ ip: end.transport.tuple.localIp, port: end.relay.innerPort, srtpParameters: remote.srtpParameters });
  }

  /** `pipeConsume`: sends a producer of this node through the pipe to `peerNodeId` (once; asked again, the same). */
  async consume({ peerNodeId, producerId }: ClassLinkCommandData<"pipeConsume">): Promise<PipedStream> {
    const end = this.#connectedEnd(peerNodeId);
    const key = `${peerNodeId}/${producerId}`;
    let outgoing = this.#outgoing.get(key);
    if (!outgoing || outgoing.consumer.closed) {
      const { owner } = this.#room.producer(producerId);
      if (!owner) throw new MediaError("NOT_FOUND", `Producer ${producerId} is not sent from this node`);
      await this.#room.bringProducerTo(producerId, end.home);
      const consumer = await end.transport.consume({ producerId });
      const entry: Outgoing = { consumer };
      this.#outgoing.set(key, entry);
      consumer.observer.once("close", () => {
        if (this.#outgoing.get(key) === entry) this.#outgoing.delete(key);
      });
      outgoing = entry;
      log("info", "pipe_sending", { classId: this.#room.classId, peerNodeId, producerId });
    }
    const { consumer } = outgoing;
    // mediasoup's parameters are plain JSON; the wire schema types codec parameters as string | number.
    return { kind: consumer.kind, rtpParameters: { ...consumer.rtpParameters } as PipedStream["rtpParameters"], paused: consumer.producerPaused };
  }

  /** `pipeProduce`: a producer of `peerNodeId` received through the pipe, with its own id, for local consumers. */
  async produce(data: ClassLinkCommandData<"pipeProduce">): Promise<void> {
    const end = this.#connectedEnd(data.peerNodeId);
    if (this.#incoming.has(data.producerId)) return this.#waiting.get(data.producerId)?.resolve();
    const producer = await end.transport.produce({
      id: data.producerId,
      kind: data.stream.kind,
      rtpParameters: data.stream.rtpParameters as types.RtpParameters,
      paused: data.stream.paused,
      appData: { userId: data.userId, source: data.source, pipedFrom: data.peerNodeId },
    });
    const entry: Incoming = { producer, fromNodeId: data.peerNodeId, consumers: 0, idleTimer: undefined };
    this.#incoming.set(producer.id, entry);
    producer.observer.once("close", () => {
      clearTimeout(entry.idleTimer);
      if (this.#incoming.get(producer.id) === entry) this.#incoming.delete(producer.id);
    });
    this.#room.addPipedProducer(producer, data.userId, data.source as MediaSource, end.home);
    // Closed again if the consume that asked for it never comes.
    this.#idleLater(entry);
    log("info", "pipe_receiving", { classId: this.#room.classId, fromNodeId: data.peerNodeId, producerId: producer.id });
    this.#waiting.get(producer.id)?.resolve();
  }

  /** `pipePause`: the producer was paused or resumed on its node. */
  async pause({ producerId, paused }: ClassLinkCommandData<"pipePause">): Promise<void> {
    const incoming = this.#incoming.get(producerId);
    if (!incoming) return;
    if (paused) await incoming.producer.pause();
    else await incoming.producer.resume();
  }

  /** `pipeDrop`: the producer closed on its node. */
  drop({ producerId }: ClassLinkCommandData<"pipeDrop">): void {
    this.#incoming.get(producerId)?.producer.close();
  }

  /** `pipeUnconsume`: nobody on `peerNodeId` watches the producer any more. */
  unconsume({ peerNodeId, producerId }: ClassLinkCommandData<"pipeUnconsume">): void {
    this.#outgoing.get(`${peerNodeId}/${producerId}`)?.consumer.close();
  }

  /** `pipeUnavailable`: the object could not pipe the producer; whoever waits for it is told. */
  unavailable({ producerId, message }: ClassLinkCommandData<"pipeUnavailable">): void {
    this.#waiting.get(producerId)?.reject(new MediaError("NOT_FOUND", message));
  }

  /** `pipeClose`: the end towards `peerNodeId` and everything through it. */
  closePeer({ peerNodeId }: ClassLinkCommandData<"pipeClose">): void {
    this.#ends.get(peerNodeId)?.transport.close();
  }

  /**
   * A participant here consumes `producerId`, which this node does not have: the class object is asked to pipe
   * it here, and this resolves once it is (concurrent askers share one wait).
   */
  want(producerId: string): Promise<void> {
    if (this.#closed) return Promise.reject(new MediaError("UNAVAILABLE", "This class was just closed on this node; join again"));
    const pending = this.#waiting.get(producerId);
    if (pending) return pending.promise;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const timer = setTimeout(
      () => reject(new MediaError("UNAVAILABLE", "That stream is on another media server and did not reach this one in time; try again")),
      this.#options.waitMs ?? PIPE_WAIT_MS,
    );
    const settle = () => {
      clearTimeout(timer);
      if (this.#waiting.get(producerId)?.promise === promise) this.#waiting.delete(producerId);
    };
    promise.then(settle, settle);
    this.#waiting.set(producerId, { promise, resolve, reject });
    // While the link is still opening (a room's first participant consumes at once), `askAgain` sends it later.
    this.#options.notify({ notification: "pipeWanted", data: { producerId } });
    return promise;
  }

  /** The class link (re)opened: every wait still open is asked again (the object may never have heard it). */
  askAgain(): void {
    for (const producerId of this.#waiting.keys()) this.#options.notify({ notification: "pipeWanted", data: { producerId } });
  }

  /** Pipe transports and streams by peer node, for /metrics. */
  counts(): PipeCounts {
    const byPeer: PipeCounts["byPeer"] = new Map();
    for (const end of this.#ends.values()) byPeer.set(end.peerNodeId, { transports: 1, sent: 0, received: 0, transport: end.transport });
    for (const key of this.#outgoing.keys()) {
      const peer = byPeer.get(key.slice(0, key.indexOf("/")));
      if (peer) peer.sent += 1;
    }
    for (const incoming of this.#incoming.values()) {
      const peer = byPeer.get(incoming.fromNodeId);
      if (peer) peer.received += 1;
    }
    return { byPeer };
  }

  /** Closes every pipe end (with all it carries) and fails every wait. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiting.values()) waiter.reject(new MediaError("UNAVAILABLE", "This class was just closed on this node; join again"));
    for (const end of [...this.#ends.values()]) end.transport.close();
  }

  #answer(entry: PipeEndEntry): PipeOpenAnswer {
    const { tuple, srtpParameters } = entry.transport;
    if (!srtpParameters) throw new Error("A pipe transport without SRTP");
    const connectedTo = entry.remote ? { ip: entry.remote.ip, port: entry.remote.port } : null;
    // With a delay relay, the peer sends to the relay's outer socket (test only).
    const port = entry.relay ? entry.relay.outerPort : tuple.localPort;
    return { ip: tuple.localAddress ?? tuple.localIp, port, srtpParameters: { ...srtpParameters }, connectedTo };
  }

  #connectedEnd(peerNodeId: string): PipeEndEntry {
    const end = this.#ends.get(peerNodeId);
    if (!end?.remote || end.transport.closed) throw new MediaError("CONFLICT", `No connected pipe to ${peerNodeId} for this class`);
    return end;
  }

  /** A local consumer of a piped producer: the producer stays while any is open. */
  #countConsumer(consumer: types.Consumer): void {
    const incoming = this.#incoming.get(consumer.producerId);
    if (!incoming) return;
    incoming.consumers += 1;
    clearTimeout(incoming.idleTimer);
    incoming.idleTimer = undefined;
    consumer.observer.once("close", () => {
      incoming.consumers -= 1;
      if (incoming.consumers === 0) this.#idleLater(incoming);
    });
  }

  #idleLater(incoming: Incoming): void {
    clearTimeout(incoming.idleTimer);
    incoming.idleTimer = setTimeout(() => {
      if (incoming.consumers > 0 || incoming.producer.closed) return;
      const producerId = incoming.producer.id;
      incoming.producer.close();
      log("info", "pipe_idle_closed", { classId: this.#room.classId, fromNodeId: incoming.fromNodeId, producerId });
      this.#options.notify({ notification: "pipeIdle", data: { producerId } });
    }, this.#options.idleCloseMs ?? PIPE_IDLE_CLOSE_MS);
    incoming.idleTimer.unref();
  }
}
