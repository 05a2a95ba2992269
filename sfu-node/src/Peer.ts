import type { types } from "mediasoup";
import { MEDIA_CLOSE_CODES, type MediaNotification, type MediaRequestData, type MediaResponseData } from "../../schema/protocol/media";
import type { MediaRole, MediaSource } from "../../schema/tokens/media-token";
import { MediaError } from "./errors";
import type { CloseReason, PeerInit, Room, RouterEntry } from "./Room";

/** How a peer talks back to its client; signaling implements it over the WebSocket. */
export interface PeerConnection {
  notify(notification: MediaNotification): void;
  /** Ends the connection (the peer is already closed when this is called). */
  close(code: number, reason: string): void;
}

/** Limits per peer, so one client cannot exhaust a worker. */
export const MAX_TRANSPORTS_PER_PEER = 4;
export const MAX_CONSUMERS_PER_PEER = 500;

/** The start estimate for outgoing bandwidth; without it Chromium waits seconds before sending the top layer. */
const INITIAL_OUTGOING_BITRATE = 2_000_000;

export type TransportDirection = "send" | "recv";

interface TransportEntry {
  readonly transport: types.Transport;
  readonly direction: TransportDirection;
  readonly home: RouterEntry;
}

interface ConsumerEntry {
  readonly consumer: types.Consumer;
  readonly home: RouterEntry;
}

/**
 * One participant's media on this node. It owns its transports, and through them its producers and
 * consumers; `close()` closes them all (mediasoup cascades transport → producers/consumers) and leaves the room.
 */
export class Peer {
  readonly userId: string;
  readonly role: MediaRole;
  readonly displayName: string | undefined;
  readonly room: Room;
  readonly #produceGrant: Set<MediaSource>;
  readonly #connection: PeerConnection;
  readonly #transports = new Map<string, TransportEntry>();
  readonly #producers = new Map<string, { producer: types.Producer; source: MediaSource }>();
  readonly #consumers = new Map<string, ConsumerEntry>();
  #expiry: NodeJS.Timeout | undefined;
  #expiresAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(room: Room, init: PeerInit) {
    this.room = room;
    this.userId = init.userId;
    this.role = init.role;
    this.displayName = init.displayName;
    this.#produceGrant = new Set(init.produce);
    this.#connection = init.connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The media sources this peer may send: the token's grant, until the class changes it ({@link setGrant}). */
  get produceGrant(): ReadonlySet<MediaSource> {
    return this.#produceGrant;
  }

  /**
   * The class changed what this peer may send (stage invite or revoke): producers of sources no longer
   * granted close now, and the client is told its new grant.
   */
  setGrant(produce: readonly MediaSource[]): void {
    if (this.#closed) return;
    this.#applyGrant(produce);
  }

  /** When this peer's media token expires (UTC ms); the connection ends then unless it is renewed. */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Ends the connection (close code tokenExpired) at `expiresAt`, replacing any earlier deadline. */
  expireAt(expiresAt: number): void {
    if (this.#closed) return;
    clearTimeout(this.#expiry);
    this.#expiresAt = expiresAt;
    this.#expiry = setTimeout(() => this.expire(), Math.max(0, expiresAt - Date.now()));
  }

  /**
   * A renewed media token (already verified for this peer): the connection lives until its expiry, and its
   * grant applies when it differs from the current one (a `grant` notification, and producers of sources no
   * longer granted close). Transports, producers and consumers otherwise stay untouched.
   */
  renew(expiresAt: number, produce: readonly MediaSource[]): void {
    if (this.#closed) throw new MediaError("UNAVAILABLE", "This connection is closing");
    this.expireAt(expiresAt);
    const next = new Set(produce);
    const same = next.size === this.#produceGrant.size && [...next].every((source) => this.#produceGrant.has(source));
    if (!same) this.#applyGrant([...next]);
  }

  #applyGrant(produce: readonly MediaSource[]): void {
    this.#produceGrant.clear();
    for (const source of produce) this.#produceGrant.add(source);
    for (const { producer, source } of [...this.#producers.values()]) if (!this.#produceGrant.has(source)) producer.close();
    this.notify({ notification: "grant", data: { produce: [...this.#produceGrant] } });
  }

  get transports(): ReadonlyMap<string, TransportEntry> {
    return this.#transports;
  }

  get producers(): ReadonlyMap<string, { producer: types.Producer; source: MediaSource }> {
    return this.#producers;
  }

  get consumers(): ReadonlyMap<string, ConsumerEntry> {
    return this.#consumers;
  }

  notify(notification: MediaNotification): void {
    if (!this.#closed) this.#connection.notify(notification);
  }

  /** A WebRTC transport through the worker's WebRtcServer (or its port range when it has none). */
  async createWebRtcTransport(data: MediaRequestData<"createWebRtcTransport">): Promise<MediaResponseData<"createWebRtcTransport">> {
    const home = await this.#homeFor(data.direction);
    const slot = this.room.slotOf(home);
    const udp = !data.forceTcp;
    const listen = slot.webRtcServer ? { webRtcServer: slot.webRtcServer } : { listenInfos: slot.listenInfos.filter((info) => udp || info.protocol === "tcp") };
    const transport = await home.router.createWebRtcTransport({
      ...listen,
      enableUdp: udp,
      enableTcp: true,
      preferUdp: udp,
      initialAvailableOutgoingBitrate: INITIAL_OUTGOING_BITRATE,
      appData: { userId: this.userId, direction: data.direction },
    });
    this.#adoptTransport(transport, data.direction, home);
    return {
      transportId: transport.id,
      iceParameters: { ...transport.iceParameters },
      iceCandidates: transport.iceCandidates.map((candidate) => ({ ...candidate })),
      dtlsParameters: { ...transport.dtlsParameters },
    };
  }

  /**
   * A plain RTP transport (no ICE/DTLS) on the same router a WebRTC transport would get. Not offered to
   * browsers: the recorder uses it to hand RTP to FFmpeg, and tests/benchmarks use it as a cheap endpoint.
   */
  async createPlainTransport(direction: TransportDirection, options: { comedia?: boolean; rtcpMux?: boolean } = {}): Promise<types.PlainTransport> {
    const home = await this.#homeFor(direction);
    const slot = this.room.slotOf(home);
    const udp = slot.listenInfos.find((info) => info.protocol === "udp");
    if (!udp) throw new Error("No UDP listen info on this worker");
    const transport = await home.router.createPlainTransport({
      listenInfo: udp,
      rtcpMux: options.rtcpMux ?? true,
      comedia: options.comedia ?? false,
      appData: { userId: this.userId, direction },
    });
    this.#adoptTransport(transport, direction, home);
    return transport;
  }

  async connectTransport(data: MediaRequestData<"connectTransport">): Promise<void> {
    const { transport } = this.#transport(data.transportId);
    if (transport.type !== "webrtc") throw new MediaError("INVALID_MESSAGE", "connectTransport is for WebRTC transports");
    try {
      await (transport as types.WebRtcTransport).connect({ dtlsParameters: data.dtlsParameters as types.DtlsParameters });
    } catch (error) {
      // mediasoup refuses a second connect with a plain Error; the client should not retry it.
      if (error instanceof Error && /connect\(\) already called/.test(error.message)) throw new MediaError("CONFLICT", "This transport is already connected");
      throw error;
    }
  }

  /** Starts a producer; the source must be granted by the token and match the track kind. */
  async produce(data: MediaRequestData<"produce">): Promise<MediaResponseData<"produce">> {
    if (!this.produceGrant.has(data.source)) throw new MediaError("FORBIDDEN", `Your media token does not allow sending ${data.source}`);
    const expectedKind = data.source === "audio" ? "audio" : "video";
    if (data.kind !== expectedKind) throw new MediaError("INVALID_MESSAGE", `A ${data.source} producer must be ${expectedKind}`);
    for (const existing of this.#producers.values()) {
      if (existing.source === data.source) throw new MediaError("CONFLICT", `You already send ${data.source}; close that producer first`);
    }
    const entry = this.#transport(data.transportId);
    if (entry.direction !== "send") throw new MediaError("INVALID_MESSAGE", "Produce on a send transport");
    const producer = await entry.transport.produce({
      kind: data.kind,
      rtpParameters: data.rtpParameters as types.RtpParameters,
      paused: data.paused ?? false,
      appData: { userId: this.userId, source: data.source },
    });
    this.#adoptProducer(producer, data.source, entry.home);
    return { producerId: producer.id };
  }

  /** Used by the recorder, tests and benchmarks: a producer on one of this peer's plain transports. */
  async producePlain(
    transport: types.PlainTransport,
    source: MediaSource,
    options: { kind: types.MediaKind; rtpParameters: types.RtpParameters },
  ): Promise<types.Producer> {
    if (!this.produceGrant.has(source)) throw new MediaError("FORBIDDEN", `Your media token does not allow sending ${source}`);
    const entry = this.#transport(transport.id);
    const producer = await transport.produce({ ...options, appData: { userId: this.userId, source } });
    this.#adoptProducer(producer, source, entry.home);
    return producer;
  }

  /** A consumer of any producer in the room, created paused (resumed once the client has its track). */
  async consume(data: {
    transportId: string;
    producerId: string;
    rtpCapabilities: types.RtpCapabilities;
    paused?: boolean;
  }): Promise<MediaResponseData<"consume">> {
    if (this.#consumers.size >= MAX_CONSUMERS_PER_PEER) throw new MediaError("RATE_LIMITED", `At most ${MAX_CONSUMERS_PER_PEER} consumers per participant`);
    const entry = this.#transport(data.transportId);
    if (entry.direction !== "recv") throw new MediaError("INVALID_MESSAGE", "Consume on a receive transport");
    const { source, owner } = await this.room.producerForConsuming(data.producerId);
    if (owner === this) throw new MediaError("INVALID_MESSAGE", "You cannot consume your own producer");
    await this.room.bringProducerTo(data.producerId, entry.home);
    if (!entry.home.router.canConsume({ producerId: data.producerId, rtpCapabilities: data.rtpCapabilities })) {
      throw new MediaError("INVALID_MESSAGE", "Your device cannot decode this producer's codec");
    }
    const consumer = await entry.transport.consume({
      producerId: data.producerId,
      rtpCapabilities: data.rtpCapabilities,
      paused: data.paused ?? true,
      appData: { userId: this.userId, source },
    });
    this.#adoptConsumer(consumer, entry.home);
    this.room.emit("consumer", consumer);
    return {
      consumerId: consumer.id,
      producerId: data.producerId,
      kind: consumer.kind,
      source,
      rtpParameters: { ...consumer.rtpParameters },
      type: consumer.type,
      producerPaused: consumer.producerPaused,
    };
  }

  async resumeConsumer(consumerId: string): Promise<void> {
    await this.#consumer(consumerId).consumer.resume();
  }

  async setPreferredLayers(data: MediaRequestData<"setPreferredLayers">): Promise<void> {
    const { consumer } = this.#consumer(data.consumerId);
    if (consumer.type !== "simulcast" && consumer.type !== "svc") throw new MediaError("INVALID_MESSAGE", "This consumer has no layers to choose from");
    await consumer.setPreferredLayers({ spatialLayer: data.spatialLayer, temporalLayer: data.temporalLayer });
  }

  async pauseProducer(producerId: string): Promise<void> {
    await this.#producer(producerId).pause();
  }

  async resumeProducer(producerId: string): Promise<void> {
    await this.#producer(producerId).resume();
  }

  closeProducer(producerId: string): void {
    this.#producer(producerId).close();
  }

  async restartIce(transportId: string): Promise<MediaResponseData<"restartIce">> {
    const { transport } = this.#transport(transportId);
    if (transport.type !== "webrtc") throw new MediaError("INVALID_MESSAGE", "restartIce is for WebRTC transports");
    return { iceParameters: { ...(await (transport as types.WebRtcTransport).restartIce()) } };
  }

  async getStats(data: MediaRequestData<"getStats">): Promise<MediaResponseData<"getStats">> {
    const stats: unknown[] =
      data.target === "transport"
        ? await this.#transport(data.id).transport.getStats()
        : data.target === "producer"
          ? await this.#producer(data.id).getStats()
          : await this.#consumer(data.id).consumer.getStats();
    return { stats: stats.map((entry) => ({ ...(entry as object) })) };
  }

  /** Closes everything this peer owns and leaves the room. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    for (const entry of [...this.#transports.values()]) entry.transport.close();
    this.#transports.clear();
    this.room.removePeer(this);
    this.#connection.close(1000, "closed");
  }

  /** The same user connected again: this older connection ends. */
  replace(): void {
    if (this.#closed) return;
    this.#closeWithCode(MEDIA_CLOSE_CODES.replaced, "replaced by a newer connection");
  }

  /** The node lost this peer's media (`reason`): tell the client to rejoin, then close. */
  closeForReconnect(reason: CloseReason): void {
    if (this.#closed) return;
    this.notify({ notification: "reconnect", data: { reason } });
    this.#closeWithCode(MEDIA_CLOSE_CODES.reconnect, reason);
  }

  /** The class removed this participant (kicked, blocked, ended): everything of theirs closes now. */
  disconnect(): void {
    if (this.#closed) return;
    this.#closeWithCode(MEDIA_CLOSE_CODES.removed, "removed from the class");
  }

  /** The media token expired while connected. */
  expire(): void {
    if (this.#closed) return;
    this.#closeWithCode(MEDIA_CLOSE_CODES.tokenExpired, "media token expired");
  }

  #closeWithCode(code: number, reason: string): void {
    this.#closed = true;
    clearTimeout(this.#expiry);
    for (const entry of [...this.#transports.values()]) entry.transport.close();
    this.#transports.clear();
    this.room.removePeer(this);
    this.#connection.close(code, reason);
  }

  async #homeFor(direction: TransportDirection): Promise<RouterEntry> {
    if (this.#closed) throw new MediaError("UNAVAILABLE", "This connection is closing");
    if (direction === "send" && this.produceGrant.size === 0) throw new MediaError("FORBIDDEN", "Your media token does not allow sending media");
    if (this.#transports.size >= MAX_TRANSPORTS_PER_PEER) throw new MediaError("RATE_LIMITED", `At most ${MAX_TRANSPORTS_PER_PEER} transports per participant`);
    return direction === "send" ? this.room.routerForSending() : this.room.routerForReceiving();
  }

  #adoptTransport(transport: types.Transport, direction: TransportDirection, home: RouterEntry): void {
    if (this.#closed) {
      // The peer closed while mediasoup was creating the transport; nothing may outlive the peer.
      transport.close();
      throw new MediaError("UNAVAILABLE", "This connection is closing");
    }
    this.#transports.set(transport.id, { transport, direction, home });
    transport.observer.once("close", () => this.#transports.delete(transport.id));
    // Routers close under a live transport only when their worker died (a closing room closes peers first).
    transport.once("routerclose", () => this.closeForReconnect("worker-died"));
  }

  #adoptProducer(producer: types.Producer, source: MediaSource, home: RouterEntry): void {
    this.#producers.set(producer.id, { producer, source });
    producer.observer.once("close", () => this.#producers.delete(producer.id));
    producer.on("score", (scores: types.ProducerScore[]) =>
      this.notify({
        notification: "producerScore",
        data: { producerId: producer.id, score: scores.map(({ encodingIdx, ssrc, rid, score }) => ({ encodingIdx, ssrc, rid, score })) },
      }),
    );
    this.room.addProducer(this, producer, source, home);
  }

  #adoptConsumer(consumer: types.Consumer, home: RouterEntry): void {
    this.#consumers.set(consumer.id, { consumer, home });
    home.consumers += 1;
    consumer.observer.once("close", () => {
      this.#consumers.delete(consumer.id);
      home.consumers -= 1;
    });
    consumer.on("producerclose", () => this.notify({ notification: "consumerClosed", data: { consumerId: consumer.id, reason: "producer-closed" } }));
    consumer.on("producerpause", () => this.notify({ notification: "consumerPaused", data: { consumerId: consumer.id, paused: true } }));
    consumer.on("producerresume", () => this.notify({ notification: "consumerPaused", data: { consumerId: consumer.id, paused: false } }));
    consumer.on("score", (score) =>
      this.notify({ notification: "consumerScore", data: { consumerId: consumer.id, score: score.score, producerScore: score.producerScore } }),
    );
    consumer.on("layerschange", (layers) =>
      this.notify({
        notification: "consumerLayersChanged",
        data: { consumerId: consumer.id, spatialLayer: layers?.spatialLayer ?? null, temporalLayer: layers?.temporalLayer ?? null },
      }),
    );
  }

  #transport(transportId: string): TransportEntry {
    const entry = this.#transports.get(transportId);
    if (!entry) throw new MediaError("NOT_FOUND", `No transport ${transportId} of yours`);
    return entry;
  }

  #producer(producerId: string): types.Producer {
    const entry = this.#producers.get(producerId);
    if (!entry) throw new MediaError("NOT_FOUND", `No producer ${producerId} of yours`);
    return entry.producer;
  }

  #consumer(consumerId: string): ConsumerEntry {
    const entry = this.#consumers.get(consumerId);
    if (!entry) throw new MediaError("NOT_FOUND", `No consumer ${consumerId} of yours`);
    return entry;
  }
}
