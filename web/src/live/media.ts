import { Device, type types } from "mediasoup-client";
import { createEffect, createRoot, on } from "solid-js";
import { createStore, produce, type SetStoreFunction } from "solid-js/store";
import type { MediaJoinResponse } from "../../../schema/protocol/classroom";
import type { MediaNotification } from "../../../schema/protocol/media";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { ChannelRequestError, type ClassChannel } from "./class-channel";
import { deviceChoices, rememberDevice } from "./device-check/device-choices";
import { localExpiry, MediaSignalingError, MediaSocket } from "./media-signaling";

/** After this long without ICE recovering (restartIce included), the session rejoins from `media.join`. */
export const ICE_RECOVERY_MS = 10_000;
/** Waits between rejoin attempts (the last one repeats). */
const REJOIN_BACKOFF_MS = [0, 1_000, 2_000, 5_000, 10_000];
/**
 * Renew the media token this long before it expires (the node closes the socket at expiry). A minute leaves
 * room for a retry or two even when a request runs into its 10 s timeout.
 */
const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** Tries at renewing one token before falling back to a rejoin. */
const RENEW_ATTEMPTS = 3;
/** Wait between renewal tries. */
const RENEW_RETRY_MS = 3_000;
/**
 * Renewal refusals another try cannot fix: the node left the fleet (`NOT_FOUND` from the class), or the node
 * does not take the token (`UNAUTHORIZED`, `FORBIDDEN`) or does not know `token.renew` (`INVALID_MESSAGE`, a
 * node from before it existed). Anything else (a timeout, `UNAVAILABLE`) is tried again while time is left.
 */
const FINAL_RENEW_ERRORS: readonly string[] = ["NOT_FOUND", "UNAUTHORIZED", "FORBIDDEN", "INVALID_MESSAGE"];
/** `media.join` refusals after which retrying cannot help. */
const FINAL_JOIN_ERRORS: readonly string[] = ["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"];
/** The User Timing mark set when the first `media.join` starts (bench/media-join.ts reads it). */
export const MEDIA_JOIN_MARK = "insp-media-join";

/**
 * Camera simulcast: three layers of the 1280×720 capture. Receivers pick one with `setPreferredLayers`
 * according to the size of the tile that shows it.
 */
const CAMERA_ENCODINGS: RTCRtpEncodingParameters[] = [
  { rid: "r0", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "r1", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "r2", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
/** Without a start bitrate Chromium holds the top simulcast layer back for seconds after joining. */
const VIDEO_CODEC_OPTIONS: types.ProducerCodecOptions = { videoGoogleStartBitrate: 1000 };
/** DTX: nothing is sent while the speaker is silent; FEC: a lost packet is rebuilt from the next one. */
const AUDIO_CODEC_OPTIONS: types.ProducerCodecOptions = { opusDtx: true, opusFec: true };

export type MediaStatus = "idle" | "joining" | "connected" | "reconnecting" | "unavailable" | "closed";

/** One producer of someone else that this browser receives. */
export interface RemoteFeed {
  consumerId: string;
  producerId: string;
  userId: string;
  kind: "audio" | "video";
  source: MediaSource;
  track: MediaStreamTrack;
  /** Simulcast: the receiver may choose a spatial layer. */
  layered: boolean;
  /** The sender (or a moderator) paused it: a muted microphone, a stopped camera. */
  producerPaused: boolean;
  /** mediasoup scores 0–10: our downlink for this feed, and the sender's uplink. */
  score: number;
  producerScore: number;
}

/** One track this browser sends. */
export interface LocalSource {
  track: MediaStreamTrack;
  producerId: string | null;
  paused: boolean;
  /** A moderator paused it on the node (the user may resume it). */
  pausedByModerator: boolean;
}

export interface MediaDeviceChoice {
  deviceId: string;
  label: string;
}

export interface MediaSessionState {
  status: MediaStatus;
  /** What went wrong last, for the user (camera refused, no media server…), or null. */
  message: string | null;
  nodeId: string | null;
  /** What this user may send now (the node's grant). */
  produce: MediaSource[];
  feeds: RemoteFeed[];
  local: Partial<Record<MediaSource, LocalSource>>;
  /** Best-encoding score of each of our producers. */
  producerScores: Record<string, number>;
  activeSpeaker: string | null;
  /** A moderator put us on stage and we send no camera/microphone yet: offer to start them. */
  stageOffer: boolean;
  microphones: MediaDeviceChoice[];
  cameras: MediaDeviceChoice[];
  microphoneId: string | null;
  cameraId: string | null;
}

/** Everything of one connection to one sfu-node; a rejoin throws it away and builds a new one. */
interface Connection {
  readonly generation: number;
  socket: MediaSocket | null;
  device: Device | null;
  recv: types.Transport | null;
  send: Promise<types.Transport> | null;
  readonly producers: Map<MediaSource, types.Producer>;
  /** Consumers by producer id (and the requests still in flight, so a producer is consumed once). */
  readonly consumers: Map<string, types.Consumer>;
  readonly consuming: Set<string>;
  /** Producers the node announced (they may reach the class channel's map later). */
  readonly announced: Map<string, string>;
  /** Producers the node said are gone or that could not be consumed: never try them again on this connection. */
  readonly gone: Set<string>;
  readonly preferredLayers: Map<string, number>;
  iceTimer: ReturnType<typeof setTimeout> | null;
  renewTimer: ReturnType<typeof setTimeout> | null;
}

/**
 * The browser's live media for one class: asks the class channel for a place on an sfu-node (`media.join`),
 * negotiates a receive transport (and a send transport when the grant allows) with mediasoup-client, consumes
 * every producer of the class on that node, publishes the camera (3 simulcast layers), microphone (Opus
 * DTX+FEC) and screen share, and follows the node's notifications (grants, pauses, scores, active speaker).
 *
 * Reconnect ladder: ICE `disconnected`/`failed` → `restartIce`; no recovery within {@link ICE_RECOVERY_MS}, a
 * closed socket, or the node's `reconnect` → `media.join` again (maybe another node) and rebuild, publishing
 * the same tracks again. The class channel is independent of all this and keeps working. The media token is
 * renewed on the open socket before it expires (`media.renew` → `token.renew`), without touching the media.
 */
export class MediaSession {
  readonly state: MediaSessionState;
  private readonly setState: SetStoreFunction<MediaSessionState>;
  private connection: Connection | null = null;
  private generation = 0;
  private rejoinAttempt = 0;
  private rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private joinedOnce = false;
  /** A teacher's camera and microphone start by themselves once, at the first join. */
  private autoPublished = false;
  private readonly dispose: () => void;
  private readonly onDeviceChange = () => void this.refreshDevices();

  constructor(private readonly channel: ClassChannel) {
    [this.state, this.setState] = createStore<MediaSessionState>({
      status: "idle",
      message: null,
      nodeId: null,
      produce: [],
      feeds: [],
      local: {},
      producerScores: {},
      activeSpeaker: null,
      stageOffer: false,
      microphones: [],
      cameras: [],
      // What the device check (or an earlier class) chose in this browser.
      microphoneId: deviceChoices.microphone,
      cameraId: deviceChoices.camera,
    });
    this.dispose = createRoot((dispose) => {
      // Join once the class channel is open; leave when it closes for good (kicked, blocked, ended).
      createEffect(
        on(
          () => channel.state.status,
          (status) => {
            if (status === "open" && this.state.status === "idle") void this.join();
            if (status === "closed") this.close(channel.state.closedMessage);
          },
        ),
      );
      // The class channel's media map is the authority on who sends what: consume what appears there.
      createEffect(
        on(
          () => channel.state.media.producers.map((p) => `${p.producerId}:${p.nodeId}:${p.userId}`).join(","),
          () => this.syncConsumers(),
        ),
      );
      return dispose;
    });
    navigator.mediaDevices?.addEventListener("devicechange", this.onDeviceChange);
  }

  /** The user id of this browser's person (from the class channel). */
  get myUserId(): string | null {
    return this.channel.state.you?.userId ?? null;
  }

  /** Network quality 0–10 of a participant: the class's figure when it has one, else what this browser sees. */
  qualityOf(userId: string): number | null {
    const reported = this.channel.state.media.quality[userId];
    if (reported !== undefined) return reported;
    const scores: number[] = [];
    if (userId === this.myUserId) {
      scores.push(...Object.values(this.state.producerScores));
      for (const feed of this.state.feeds) scores.push(feed.score);
    } else {
      for (const feed of this.state.feeds) if (feed.userId === userId) scores.push(feed.producerScore);
    }
    return scores.length > 0 ? Math.min(...scores) : null;
  }

  // ---- Publishing ----

  /**
   * Starts sending `source`: asks for the camera/microphone/screen, or sends `given` (the board's canvas track,
   * which the board draws); refused when the grant lacks it.
   */
  async publish(source: MediaSource, given?: MediaStreamTrack): Promise<void> {
    if (!this.state.produce.includes(source)) throw new Error(`You may not send ${sourceName(source)} right now`);
    if (this.state.local[source]) return;
    const track = given ?? (await this.capture(source));
    if (this.closed || !this.state.produce.includes(source)) {
      track.stop();
      return;
    }
    this.setState("local", source, { track, producerId: null, paused: false, pausedByModerator: false });
    track.addEventListener("ended", () => {
      // The user ended the share from the browser's own UI, or the device went away.
      if (this.state.local[source]?.track === track) void this.unpublish(source);
    });
    if (source === "audio" || source === "video") void this.refreshDevices();
    const connection = this.connection;
    if (connection?.socket) await this.produceOn(connection, source, track);
  }

  /** Stops sending `source` and releases the device. */
  async unpublish(source: MediaSource): Promise<void> {
    const local = this.state.local[source];
    if (!local) return;
    this.setState("local", produce((all) => {
      delete all[source];
    }));
    local.track.stop();
    const connection = this.connection;
    const producer = connection?.producers.get(source);
    if (!connection || !producer) return;
    connection.producers.delete(source);
    producer.close();
    await connection.socket?.request("closeProducer", { producerId: producer.id }).catch(() => undefined);
  }

  /** Mutes or unmutes a source we send (the track stays; the node stops forwarding it). */
  async setPaused(source: MediaSource, paused: boolean): Promise<void> {
    const local = this.state.local[source];
    if (!local) return;
    this.setState("local", source, { paused, pausedByModerator: false });
    const producer = this.connection?.producers.get(source);
    if (!producer) return;
    if (paused) producer.pause();
    else producer.resume();
    await this.connection?.socket?.request(paused ? "pauseProducer" : "resumeProducer", { producerId: producer.id });
  }

  /** Accepts a moderator's stage invitation: starts the microphone and camera the grant allows. */
  async acceptStage(): Promise<void> {
    this.setState("stageOffer", false);
    await Promise.all((["audio", "video"] as const).filter((s) => this.state.produce.includes(s)).map((s) => this.publish(s)));
  }

  declineStage(): void {
    this.setState("stageOffer", false);
  }

  /** Switches the microphone or camera; a live track is replaced without renegotiating. */
  async selectDevice(kind: "audioinput" | "videoinput", deviceId: string): Promise<void> {
    const source: MediaSource = kind === "audioinput" ? "audio" : "video";
    this.setState(kind === "audioinput" ? "microphoneId" : "cameraId", deviceId);
    rememberDevice(kind === "audioinput" ? "microphone" : "camera", deviceId);
    const local = this.state.local[source];
    if (!local) return;
    const track = await this.capture(source);
    await this.connection?.producers.get(source)?.replaceTrack({ track });
    local.track.stop();
    this.setState("local", source, "track", track);
  }

  /** Asks the node for the simulcast layer that fits the tile (0 = smallest); repeats are not sent. */
  setPreferredLayer(consumerId: string, spatialLayer: number): void {
    const connection = this.connection;
    if (!connection?.socket || connection.preferredLayers.get(consumerId) === spatialLayer) return;
    connection.preferredLayers.set(consumerId, spatialLayer);
    connection.socket.request("setPreferredLayers", { consumerId, spatialLayer }).catch(() => connection.preferredLayers.delete(consumerId));
  }

  /** Reads the media devices (labels appear once a capture was allowed). */
  async refreshDevices(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const choices = (kind: MediaDeviceKind) =>
      devices.filter((d) => d.kind === kind && d.deviceId !== "").map((d, index) => ({ deviceId: d.deviceId, label: d.label || `${kind === "audioinput" ? "Microphone" : "Camera"} ${index + 1}` }));
    this.setState({ microphones: choices("audioinput"), cameras: choices("videoinput") });
  }

  /** Leaves: closes the connection and releases every device. Safe to call twice. */
  close(message: string | null = null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    this.teardown();
    for (const local of Object.values(this.state.local)) local?.track.stop();
    this.setState({ status: "closed", message, local: {}, feeds: [], stageOffer: false, activeSpeaker: null });
    navigator.mediaDevices?.removeEventListener("devicechange", this.onDeviceChange);
    // close() may run inside one of the root's own effects (the channel closed): dispose after it returns.
    queueMicrotask(this.dispose);
  }

  // ---- Joining ----

  private async join(): Promise<void> {
    if (this.closed) return;
    const connection: Connection = {
      generation: ++this.generation,
      socket: null,
      device: null,
      recv: null,
      send: null,
      producers: new Map(),
      consumers: new Map(),
      consuming: new Set(),
      announced: new Map(),
      gone: new Set(),
      preferredLayers: new Map(),
      iceTimer: null,
      renewTimer: null,
    };
    this.connection = connection;
    this.setState("status", this.joinedOnce ? "reconnecting" : "joining");
    if (!this.joinedOnce) performance.mark(MEDIA_JOIN_MARK);
    try {
      const grant = await this.channel.request("media.join", {});
      if (!this.current(connection)) return;
      await this.connect(connection, grant);
    } catch (error) {
      if (!this.current(connection)) return;
      this.teardown();
      const unavailable = (error instanceof ChannelRequestError || error instanceof MediaSignalingError) && error.code === "UNAVAILABLE";
      // Only a refusal of who we are is final; anything else (a node restarting, a slow answer) is worth a retry.
      const refused = error instanceof ChannelRequestError && FINAL_JOIN_ERRORS.includes(error.code);
      this.setState({ status: refused ? "closed" : unavailable ? "unavailable" : "reconnecting", message: error instanceof Error ? error.message : String(error) });
      if (!refused) this.scheduleRejoin(retryAfterMs(error));
    }
  }

  private async connect(connection: Connection, grant: MediaJoinResponse): Promise<void> {
    const expiresAt = localExpiry(new URL(grant.signalingUrl).searchParams.get("token"), grant.expiresAt);
    const socket = await MediaSocket.open(grant.signalingUrl, {
      onNotification: (notification) => this.onNotification(connection, notification),
      onClose: () => {
        if (this.current(connection)) this.rejoin();
      },
    });
    if (!this.current(connection)) {
      socket.close();
      return;
    }
    connection.socket = socket;
    this.setState({ nodeId: grant.nodeId, produce: grant.produce });
    // The three requests are independent: send them together to save round trips on the way to first frame.
    const device = Device.factory();
    const [capabilities, recvParameters] = await Promise.all([socket.request("getRouterRtpCapabilities", {}), socket.request("createWebRtcTransport", { direction: "recv" })]);
    connection.device = await device;
    await connection.device.load({ routerRtpCapabilities: capabilities.rtpCapabilities as types.RtpCapabilities });
    if (!this.current(connection)) return;
    const recv = connection.device.createRecvTransport({
      id: recvParameters.transportId,
      iceParameters: recvParameters.iceParameters as types.IceParameters,
      iceCandidates: recvParameters.iceCandidates as types.IceCandidate[],
      dtlsParameters: recvParameters.dtlsParameters as types.DtlsParameters,
    });
    this.wireTransport(connection, recv);
    this.watchTransport(connection, recv);
    connection.recv = recv;

    this.joinedOnce = true;
    this.rejoinAttempt = 0;
    this.setState({ status: "connected", message: null });
    this.scheduleRenewal(connection, expiresAt);
    this.syncConsumers();

    // Publish again what was sent before a rejoin; a teacher starts with camera and microphone on.
    const sources = Object.keys(this.state.local) as MediaSource[];
    for (const source of sources) {
      const local = this.state.local[source];
      if (local && this.state.produce.includes(source)) void this.produceOn(connection, source, local.track).catch((error) => this.report(error));
    }
    const moderator = this.channel.state.you?.role !== "student";
    if (moderator && sources.length === 0 && !this.autoPublished) {
      this.autoPublished = true;
      for (const source of ["audio", "video"] as const) if (grant.produce.includes(source)) void this.publish(source).catch((error) => this.report(error));
    }
  }

  /** Renews {@link RENEW_BEFORE_EXPIRY_MS} before `expiresAt` (this browser's clock, see {@link localExpiry}). */
  private scheduleRenewal(connection: Connection, expiresAt: number): void {
    if (connection.renewTimer) clearTimeout(connection.renewTimer);
    connection.renewTimer = setTimeout(() => void this.renew(connection, expiresAt), Math.max(0, expiresAt - Date.now() - RENEW_BEFORE_EXPIRY_MS));
  }

  /**
   * Keeps the connection past its token's expiry: a fresh token for the same node from the class
   * (`media.renew`), handed over the open socket (`token.renew`). Transports, producers and consumers stay, so
   * nobody's audio or video stops. Only when that cannot work (the node is gone, it refuses, or no try
   * succeeds in time) does the session rejoin from `media.join`, which rebuilds everything.
   */
  private async renew(connection: Connection, expiresAt: number): Promise<void> {
    connection.renewTimer = null;
    for (let attempt = 1; ; attempt++) {
      const nodeId = this.state.nodeId;
      if (!this.current(connection) || !connection.socket || !nodeId) break;
      try {
        const renewal = await this.channel.request("media.renew", { nodeId });
        const renewedUntil = localExpiry(renewal.token, renewal.expiresAt);
        if (!this.current(connection)) return;
        const answer = await connection.socket.request("token.renew", { token: renewal.token });
        if (!this.current(connection)) return;
        // The node sent a `grant` first when the grant changed; this covers a notification that got lost.
        if (!sameSources(answer.produce, this.state.produce)) this.onGrant(connection, answer.produce);
        this.scheduleRenewal(connection, renewedUntil);
        return;
      } catch (error) {
        if (!this.current(connection)) return;
        const final = (error instanceof ChannelRequestError || error instanceof MediaSignalingError) && FINAL_RENEW_ERRORS.includes(error.code);
        const wait = Math.max(RENEW_RETRY_MS, retryAfterMs(error));
        // Stop trying while there is still time to rejoin before the node closes the socket at expiry.
        const timeLeft = expiresAt - Date.now() - wait;
        if (final || attempt >= RENEW_ATTEMPTS || timeLeft < RENEW_RETRY_MS) break;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    if (this.current(connection)) this.rejoin();
  }

  private current(connection: Connection): boolean {
    return !this.closed && this.connection === connection;
  }

  /** Throws the connection away and joins again after the backoff. */
  private rejoin(): void {
    if (this.closed) return;
    this.teardown();
    this.setState({ status: "reconnecting" });
    this.scheduleRejoin();
  }

  /** Joins again after the backoff, or after `atLeastMs` when the class asked for that long (`RATE_LIMITED`). */
  private scheduleRejoin(atLeastMs = 0): void {
    if (this.closed || this.rejoinTimer) return;
    const delay = Math.max(atLeastMs, REJOIN_BACKOFF_MS[Math.min(this.rejoinAttempt, REJOIN_BACKOFF_MS.length - 1)]!);
    this.rejoinAttempt += 1;
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      void this.join();
    }, delay);
  }

  /** Closes the current connection (transports, consumers, producers); local tracks stay for the next one. */
  private teardown(): void {
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    if (connection.iceTimer) clearTimeout(connection.iceTimer);
    if (connection.renewTimer) clearTimeout(connection.renewTimer);
    connection.socket?.close();
    connection.recv?.close();
    void connection.send?.then((send) => send.close(), () => undefined);
    for (const consumer of connection.consumers.values()) consumer.close();
    this.setState({ feeds: [], producerScores: {}, activeSpeaker: null });
    for (const source of Object.keys(this.state.local) as MediaSource[]) this.setState("local", source, "producerId", null);
  }

  /** ICE trouble: restart ICE at once; if the transport is not connected again in time, rejoin. */
  private watchTransport(connection: Connection, transport: types.Transport): void {
    transport.on("connectionstatechange", (state) => {
      if (!this.current(connection)) return;
      if (state === "connected") {
        if (connection.iceTimer) clearTimeout(connection.iceTimer);
        connection.iceTimer = null;
        if (this.state.status === "reconnecting") this.setState("status", "connected");
        return;
      }
      if (state !== "disconnected" && state !== "failed") return;
      this.setState("status", "reconnecting");
      connection.iceTimer ??= setTimeout(() => {
        if (this.current(connection)) this.rejoin();
      }, ICE_RECOVERY_MS);
      connection.socket
        ?.request("restartIce", { transportId: transport.id })
        .then(({ iceParameters }) => transport.restartIce({ iceParameters: iceParameters as types.IceParameters }))
        .catch(() => undefined);
    });
  }

  private sendTransport(connection: Connection): Promise<types.Transport> {
    connection.send ??= (async () => {
      const socket = connection.socket!;
      const parameters = await socket.request("createWebRtcTransport", { direction: "send" });
      const send = connection.device!.createSendTransport({
        id: parameters.transportId,
        iceParameters: parameters.iceParameters as types.IceParameters,
        iceCandidates: parameters.iceCandidates as types.IceCandidate[],
        dtlsParameters: parameters.dtlsParameters as types.DtlsParameters,
      });
      this.wireTransport(connection, send);
      send.on("produce", ({ kind, rtpParameters, appData }, callback, errback) => {
        socket
          .request("produce", { transportId: send.id, kind, source: appData.source as MediaSource, rtpParameters: rtpParameters as never })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
      this.watchTransport(connection, send);
      return send;
    })();
    connection.send.catch(() => {
      connection.send = null;
    });
    return connection.send;
  }

  /** DTLS: hand our fingerprints to the node the first time the transport carries media. */
  private wireTransport(connection: Connection, transport: types.Transport): void {
    transport.on("connect", ({ dtlsParameters }, callback, errback) => {
      connection.socket
        ?.request("connectTransport", { transportId: transport.id, dtlsParameters: dtlsParameters as never })
        .then(() => callback(), errback);
    });
  }

  private async produceOn(connection: Connection, source: MediaSource, track: MediaStreamTrack): Promise<void> {
    const send = await this.sendTransport(connection);
    const options: types.ProducerOptions =
      source === "audio"
        ? { codecOptions: AUDIO_CODEC_OPTIONS }
        : source === "video"
          ? { encodings: CAMERA_ENCODINGS, codecOptions: VIDEO_CODEC_OPTIONS }
          : source === "board"
            ? // One layer: only the recorder receives it. The cap is the board's drawing rate; idle it sends far less.
              { encodings: [{ maxBitrate: 1_500_000, maxFramerate: 15 }], codecOptions: VIDEO_CODEC_OPTIONS }
            : { encodings: [{ maxBitrate: 2_500_000 }], codecOptions: VIDEO_CODEC_OPTIONS };
    const producer = await send.produce({ track, stopTracks: false, appData: { source }, ...options });
    if (!this.current(connection) || this.state.local[source]?.track !== track) {
      producer.close();
      await connection.socket?.request("closeProducer", { producerId: producer.id }).catch(() => undefined);
      return;
    }
    connection.producers.set(source, producer);
    this.setState("local", source, "producerId", producer.id);
    if (this.state.local[source]?.paused) {
      producer.pause();
      await connection.socket?.request("pauseProducer", { producerId: producer.id });
    }
  }

  // ---- Receiving ----

  /** Consumes every producer of someone else on our node that we do not receive yet. */
  private syncConsumers(): void {
    const connection = this.connection;
    if (!connection?.recv || !connection.device || !this.current(connection)) return;
    const me = this.myUserId;
    const wanted = new Set(connection.announced.keys());
    // The board's track is for the recording: every browser draws the vector board itself.
    for (const info of this.channel.state.media.producers) if (info.nodeId === this.state.nodeId && info.userId !== me && info.source !== "board") wanted.add(info.producerId);
    for (const producerId of wanted) {
      if (connection.consumers.has(producerId) || connection.consuming.has(producerId) || connection.gone.has(producerId)) continue;
      void this.consume(connection, producerId);
    }
  }

  private async consume(connection: Connection, producerId: string): Promise<void> {
    connection.consuming.add(producerId);
    try {
      const socket = connection.socket!;
      const answer = await socket.request("consume", { transportId: connection.recv!.id, producerId, rtpCapabilities: connection.device!.rtpCapabilities as never });
      if (!this.current(connection)) return;
      const consumer = await connection.recv!.consume({ id: answer.consumerId, producerId, kind: answer.kind, rtpParameters: answer.rtpParameters as types.RtpParameters });
      if (!this.current(connection) || connection.gone.has(producerId)) {
        consumer.close();
        return;
      }
      connection.consumers.set(producerId, consumer);
      const owner = this.channel.state.media.producers.find((p) => p.producerId === producerId)?.userId ?? connection.announced.get(producerId) ?? "";
      this.setState("feeds", this.state.feeds.length, {
        consumerId: consumer.id,
        producerId,
        userId: owner,
        kind: answer.kind,
        source: answer.source,
        track: consumer.track,
        layered: answer.type === "simulcast" || answer.type === "svc",
        producerPaused: answer.producerPaused,
        score: 10,
        producerScore: 10,
      });
      await socket.request("resumeConsumer", { consumerId: consumer.id });
    } catch {
      // The producer closed meanwhile, or this device cannot decode it: not retried on this connection.
      connection.gone.add(producerId);
    } finally {
      connection.consuming.delete(producerId);
    }
  }

  private dropConsumer(connection: Connection, producerId: string): void {
    connection.gone.add(producerId);
    connection.announced.delete(producerId);
    const consumer = connection.consumers.get(producerId);
    if (!consumer) return;
    connection.consumers.delete(producerId);
    consumer.close();
    this.setState("feeds", (feeds) => feeds.filter((feed) => feed.producerId !== producerId));
  }

  private updateFeed(match: (feed: RemoteFeed) => boolean, change: Partial<RemoteFeed>): void {
    this.setState("feeds", match, change);
  }

  // ---- Notifications from the node ----

  private onNotification(connection: Connection, message: MediaNotification): void {
    if (!this.current(connection)) return;
    switch (message.notification) {
      case "welcome":
        this.setState({ nodeId: message.data.nodeId, produce: message.data.produce });
        break;
      case "producerAdded":
        if (message.data.userId === this.myUserId || message.data.source === "board") break;
        connection.announced.set(message.data.producerId, message.data.userId);
        this.syncConsumers();
        break;
      case "producerRemoved":
        this.dropConsumer(connection, message.data.producerId);
        this.forgetOwnProducer(connection, message.data.producerId);
        break;
      case "producerPaused": {
        const own = this.ownSource(connection, message.data.producerId);
        if (own) this.onOwnProducerPaused(connection, own, message.data.paused);
        else this.updateFeed((feed) => feed.producerId === message.data.producerId, { producerPaused: message.data.paused });
        break;
      }
      case "producerScore": {
        const best = Math.max(0, ...message.data.score.map((s) => s.score));
        this.setState("producerScores", message.data.producerId, best);
        break;
      }
      case "consumerClosed": {
        const entry = [...connection.consumers.entries()].find(([, consumer]) => consumer.id === message.data.consumerId);
        if (entry) this.dropConsumer(connection, entry[0]);
        break;
      }
      case "consumerPaused":
        this.updateFeed((feed) => feed.consumerId === message.data.consumerId, { producerPaused: message.data.paused });
        break;
      case "consumerScore":
        this.updateFeed((feed) => feed.consumerId === message.data.consumerId, { score: message.data.score, producerScore: message.data.producerScore });
        break;
      case "consumerLayersChanged":
        // Tiles ask for the layer they need (setPreferredLayer); which one flows is the node's call under congestion.
        break;
      case "grant":
        this.onGrant(connection, message.data.produce);
        break;
      case "activeSpeaker":
        this.setState("activeSpeaker", message.data.userId);
        break;
      case "reconnect":
        // The socket closes right after; rejoin without waiting for that.
        this.rejoin();
        break;
      default:
        assertNever(message);
    }
  }

  private ownSource(connection: Connection, producerId: string): MediaSource | undefined {
    for (const [source, producer] of connection.producers) if (producer.id === producerId) return source;
    return undefined;
  }

  /** A moderator paused (or someone resumed) one of our producers on the node: mirror it locally. */
  private onOwnProducerPaused(connection: Connection, source: MediaSource, paused: boolean): void {
    const producer = connection.producers.get(source)!;
    const local = this.state.local[source];
    if (!local || local.paused === paused) return;
    if (paused) producer.pause();
    else producer.resume();
    this.setState("local", source, { paused, pausedByModerator: paused });
  }

  private forgetOwnProducer(connection: Connection, producerId: string): void {
    const source = this.ownSource(connection, producerId);
    if (!source) return;
    connection.producers.get(source)?.close();
    connection.producers.delete(source);
    const local = this.state.local[source];
    local?.track.stop();
    this.setState("local", produce((all) => {
      delete all[source];
    }));
  }

  /** The teacher changed what we may send: offer the stage, or stop what we lost (the node closed it already). */
  private onGrant(connection: Connection, granted: MediaSource[]): void {
    this.setState("produce", granted);
    for (const source of Object.keys(this.state.local) as MediaSource[]) {
      if (granted.includes(source)) continue;
      const producer = connection.producers.get(source);
      if (producer) this.forgetOwnProducer(connection, producer.id);
      else {
        this.state.local[source]?.track.stop();
        this.setState("local", produce((all) => {
      delete all[source];
    }));
      }
    }
    const mayJoinStage = granted.some((source) => (source === "audio" || source === "video") && !this.state.local[source]);
    this.setState("stageOffer", mayJoinStage && this.channel.state.you?.role === "student");
  }

  private async capture(source: MediaSource): Promise<MediaStreamTrack> {
    if (!navigator.mediaDevices) throw new Error("This browser cannot capture media here (a secure https:// page is needed)");
    if (source === "board") throw new Error("The board is sent from the board's own canvas");
    if (source === "screen") {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      return stream.getVideoTracks()[0]!;
    }
    const kind = source === "audio" ? "microphoneId" : "cameraId";
    const deviceId = this.state[kind];
    try {
      return await captureDevice(source, deviceId);
    } catch (error) {
      // A remembered device that is no longer there (an unplugged headset): use the default instead.
      if (!deviceId || !(error instanceof DOMException && (error.name === "OverconstrainedError" || error.name === "NotFoundError"))) throw error;
      this.setState(kind, null);
      return captureDevice(source, null);
    }
  }

  private report(error: unknown): void {
    this.setState("message", describeMediaError(error));
  }
}

/** One microphone or camera track, from the given device (null: the system's default). */
async function captureDevice(source: "audio" | "video", deviceId: string | null): Promise<MediaStreamTrack> {
  const device = deviceId ? { exact: deviceId } : undefined;
  if (source === "audio") {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: device, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    return stream.getAudioTracks()[0]!;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { deviceId: device, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } });
  return stream.getVideoTracks()[0]!;
}

/** A message a person can act on, for a failed capture or media request. */
export function describeMediaError(error: unknown): string {
  if (error instanceof DOMException) {
    if (error.name === "NotAllowedError") return "Access to the camera, microphone or screen was refused. Allow it in the browser's site settings.";
    if (error.name === "NotFoundError") return "No camera or microphone was found.";
    if (error.name === "NotReadableError") return "The camera or microphone is in use by another application.";
  }
  return error instanceof Error ? error.message : String(error);
}

function sameSources(a: readonly MediaSource[], b: readonly MediaSource[]): boolean {
  return a.length === b.length && a.every((source) => b.includes(source));
}

function sourceName(source: MediaSource): string {
  return source === "audio" ? "your microphone" : source === "video" ? "your camera" : source === "screen" ? "your screen" : "the board";
}

function assertNever(value: never): never {
  throw new Error(`Unexpected notification ${JSON.stringify(value)}`);
}

/** The wait a `RATE_LIMITED` refusal asked for (0 for any other failure): retrying sooner would be refused again. */
function retryAfterMs(error: unknown): number {
  return error instanceof ChannelRequestError && error.code === "RATE_LIMITED" ? (error.retryAfterMs ?? 0) : 0;
}
