/**
 * A simulated participant of a live class with real WebRTC media, for benchmarks that need many of them
 * (bench/failover.ts): a class channel over a Node WebSocket (e2e/lib/class-channel.ts), the web app's own
 * connection ladder (web/src/live/media/connection-ladder.ts: join, jittered rejoin on a lost media socket, move at
 * once on `media.move`, ICE restart, token renewal) and media signaling socket (web/src/live/media-signaling.ts),
 * and mediasoup-client's Chrome handler running on libwebrtc in Node (`@roamhq/wrtc`). A teacher sends a small
 * generated camera (one VP8 layer); a student consumes every camera in the class's media map, as the web app does,
 * and notes when each new consumer decodes its first frame, and every gap between decoded frames of the teacher's
 * camera. On a draining node's `media.move` it moves make-before-break as the web app does: the old link keeps
 * receiving until the new one decoded every camera the old one had.
 *
 * What differs from the browser: the camera is one layer of 160×96 at 10 fps (not three simulcast layers of
 * 1280×720: a hundred decoders share this machine's two cores with the stack), no audio, and a student consumes
 * cameras only; the web app tells a new track has media by its \`unmute\`, this peer by its first decoded frame.
 */
import wrtc from "@roamhq/wrtc";
import { Device, type types } from "mediasoup-client";
import { ChannelError, ClassChannel } from "../../e2e/lib/class-channel";
import type { MediaJoinResponse, MediaProducerInfo } from "../../schema/protocol/classroom";
import type { MediaNotification } from "../../schema/protocol/media";
import { ConnectionLadder, type LadderFailure, type MediaStatus } from "../../web/src/live/media/connection-ladder";
import { consumeRetryDelayMs, FINAL_CONSUME_ERRORS } from "../../web/src/live/media/consume-retry";
import { MediaSignalingError, MediaSocket } from "../../web/src/live/media-signaling";

// mediasoup-client's Chrome111 handler reads the WebRTC classes from the global scope, as in a browser.
Object.assign(globalThis, {
  RTCPeerConnection: wrtc.RTCPeerConnection,
  RTCSessionDescription: wrtc.RTCSessionDescription,
  RTCIceCandidate: wrtc.RTCIceCandidate,
  RTCRtpSender: wrtc.RTCRtpSender,
  RTCRtpReceiver: wrtc.RTCRtpReceiver,
  RTCRtpTransceiver: wrtc.RTCRtpTransceiver,
  MediaStream: wrtc.MediaStream,
  MediaStreamTrack: wrtc.MediaStreamTrack,
});

// Small, so that a hundred decoders leave this machine's two cores to the stack being measured.
const CAMERA_WIDTH = 160;
const CAMERA_HEIGHT = 96;
const CAMERA_FPS = 10;
const CAMERA_MAX_BITRATE = 150_000;

/** One connection to one node, thrown away on every rejoin (as the web app's `Connection`). */
interface Link {
  nodeId: string | null;
  socket: MediaSocket | null;
  device: Device | null;
  recv: types.Transport | null;
  send: types.Transport | null;
  /** Producers consumed, or being consumed, on this link. */
  consumed: Set<string>;
  /** Producers whose consumer on this link decoded a frame. */
  framed: Set<string>;
  /** The camera's producer on this link (the teacher), once made. */
  producerId: string | null;
  /** When this link's camera was first seen in the class's media map (a move's old link stops a while after). */
  listedAt: number | null;
  /** Frame sinks of this link's consumers, stopped with the link. */
  sinks: { stop(): void }[];
}

type CameraTrack = ReturnType<InstanceType<typeof wrtc.nonstandard.RTCVideoSource>["createTrack"]>;

/** As the web app's: a move's old camera keeps sending this long once the new one is in the class's media map. */
const SENDER_OVERLAP_MS = 2_000;

/** A pause between two decoded camera frames longer than this is noted as a gap (the camera sends 10 fps). */
const GAP_NOTED_MS = 250;

/** A camera made of flat frames whose brightness changes every frame, sent through libwebrtc's VP8 encoder. */
class GeneratedCamera {
  readonly track: CameraTrack;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor() {
    const source = new wrtc.nonstandard.RTCVideoSource();
    this.track = source.createTrack();
    const frame = { width: CAMERA_WIDTH, height: CAMERA_HEIGHT, data: new Uint8Array(CAMERA_WIDTH * CAMERA_HEIGHT * 1.5) };
    let shade = 0;
    this.#timer = setInterval(() => {
      shade = (shade + 3) % 256;
      frame.data.fill(shade, 0, CAMERA_WIDTH * CAMERA_HEIGHT);
      source.onFrame(frame);
    }, 1000 / CAMERA_FPS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.track.stop();
  }
}

/**
 * Steps of a rejoin: the media socket closed on its own, or the class said `media.move`; `media.join` asked and
 * answered; the ladder connected (transports made); the node answered a `consume`; a consumer's first decoded frame.
 */
export const SIM_STEPS = ["socket-closed", "moved", "join", "granted", "connected", "consumed", "frame"] as const;
export type SimStep = (typeof SIM_STEPS)[number];

export interface SimParticipantOptions {
  /** The class channel's socket address, with the class token (and `&region=` to place this person). */
  socketUrl: string;
  origin: string;
  /** Who this is, for error messages. */
  label: string;
  /** Sends a generated camera (the teacher). */
  publishCamera: boolean;
}

export class SimParticipant {
  /** When each camera consumer of this participant decoded its first frame (ms since the epoch), in order. */
  readonly firstFrames: number[] = [];
  /** What happened when (ms since the epoch), in order: where the time of a rejoin goes. */
  readonly marks: { step: SimStep; at: number }[] = [];
  /** Pauses between decoded camera frames longer than {@link GAP_NOTED_MS}: when each ended, and how long it was. */
  readonly gaps: { endedAt: number; ms: number }[] = [];
  /** Consumes that were refused or failed (each tried again as the web app does). */
  consumeFailures = 0;
  status: MediaStatus = "idle";
  readonly #channel: ClassChannel;
  readonly #ladder: ConnectionLadder<Link>;
  readonly #camera: GeneratedCamera | null;
  readonly #producers = new Map<string, MediaProducerInfo>();
  readonly #myUserId: string;
  #closed = false;
  #lastFrameAt: number | null = null;

  private constructor(channel: ClassChannel, options: SimParticipantOptions) {
    this.#channel = channel;
    this.#myUserId = channel.snapshot.you.userId;
    this.#camera = options.publishCamera ? new GeneratedCamera() : null;
    for (const producer of channel.snapshot.media.producers) this.#producers.set(producer.producerId, producer);
    this.#ladder = new ConnectionLadder<Link>({
      createLink: () => ({
        nodeId: null,
        socket: null,
        device: null,
        recv: null,
        send: null,
        consumed: new Set(),
        framed: new Set(),
        producerId: null,
        listedAt: null,
        sinks: [],
      }),
      joinMedia: async (unreachable) => {
        this.#mark("join");
        const grant = await this.#channel.request("media.join", unreachable ? { unreachable } : {});
        this.#mark("granted");
        return { ...grant, expiresAt: Date.now() + grant.expiresInMs };
      },
      openSignaling: (link, grant) => this.#openSignaling(link, grant),
      createTransports: (link) => this.#createRecvTransport(link),
      connected: (link) => this.#connected(link),
      renewalNode: (link) => (link.socket ? link.nodeId : null),
      renewMedia: async (nodeId) => {
        const renewal = await this.#channel.request("media.renew", { nodeId });
        return { token: renewal.token, expiresAt: Date.now() + renewal.expiresInMs };
      },
      handOverToken: async (link, token) => {
        await link.socket!.request("token.renew", { token });
      },
      closeLink: (link) => {
        for (const sink of link.sinks) sink.stop();
        link.socket?.close();
        link.recv?.close();
        link.send?.close();
      },
      // As the web app: our camera sent again and in the class's map for the overlap, and every camera still in
      // the class decoding on the new link.
      tookOver: (previous, next) => this.#sentAgain(previous, next) && [...previous.consumed].every((id) => !this.#producers.has(id) || next.framed.has(id)),
      failure: describeFailure,
      report: (status) => {
        if (status === "connected" && this.status !== "connected") this.#mark("connected");
        this.status = status;
      },
    });
    channel.onNotification((notification) => {
      if (notification.notification === "media.move") {
        // As the web app: a move for a node this participant already left is stale.
        if (this.status === "connected" && this.nodeId !== notification.data.nodeId) return;
        this.#mark("moved");
        this.#ladder.moveNow({ keepCurrent: notification.data.reason === "node-draining" });
        return;
      }
      if (notification.notification !== "events") return;
      for (const event of notification.data.events) {
        if (event.type !== "media.producers") continue;
        for (const removed of event.removed) this.#producers.delete(removed);
        for (const upsert of event.upserts) this.#producers.set(upsert.producerId, upsert);
        const link = this.#ladder.current;
        if (link && this.status === "connected") this.#consumeCameras(link);
      }
    });
  }

  /** Opens the class channel and starts the media ladder (it joins a node on its own). */
  static async join(options: SimParticipantOptions): Promise<SimParticipant> {
    const channel = await ClassChannel.open(options.socketUrl, options.origin, options.label);
    const participant = new SimParticipant(channel, options);
    participant.#ladder.start();
    return participant;
  }

  get userId(): string {
    return this.#myUserId;
  }

  /** The node this participant's media is on now (null between tries). */
  get nodeId(): string | null {
    return this.#ladder.current?.nodeId ?? null;
  }

  /** Whether the class's media map lists a camera of this participant (on `nodeId`, when given). */
  cameraListed(userId: string, nodeId?: string): boolean {
    return [...this.#producers.values()].some((p) => p.userId === userId && p.source === "video" && (nodeId === undefined || p.nodeId === nodeId));
  }

  /** When `step` first happened at or after `since`, or null. */
  markSince(step: SimStep, since: number): number | null {
    return this.marks.find((mark) => mark.step === step && mark.at >= since)?.at ?? null;
  }

  #mark(step: SimStep): void {
    this.marks.push({ step, at: Date.now() });
  }

  /** The longest gap between decoded camera frames that ended in [`from`, `to`], in ms (0 when none was noted). */
  longestGap(from: number, to: number): number {
    return Math.max(0, ...this.gaps.filter((gap) => gap.endedAt >= from && gap.endedAt <= to).map((gap) => gap.ms));
  }

  /** The first frame decoded at or after `since` (a camera consumed anew), or null. */
  frameSince(since: number): number | null {
    return this.firstFrames.find((at) => at >= since) ?? null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ladder.close();
    this.#camera?.stop();
    this.#channel.close();
  }

  async #openSignaling(link: Link, grant: MediaJoinResponse): Promise<void> {
    const socket = await MediaSocket.open(grant.signalingUrl, {
      onNotification: (notification) => this.#onNotification(link, notification),
      onClose: () => {
        if (this.#ladder.isCurrent(link)) this.#mark("socket-closed");
        this.#ladder.lost(link);
      },
    });
    if (!this.#ladder.isCurrent(link)) {
      socket.close();
      return;
    }
    link.socket = socket;
    link.nodeId = grant.nodeId;
  }

  async #createRecvTransport(link: Link): Promise<void> {
    const socket = link.socket!;
    const [capabilities, parameters] = await Promise.all([
      socket.request("getRouterRtpCapabilities", {}),
      socket.request("createWebRtcTransport", { direction: "recv" }),
    ]);
    const device = new Device({ handlerName: "Chrome111" });
    await device.load({ routerRtpCapabilities: capabilities.rtpCapabilities as types.RtpCapabilities });
    if (!this.#ladder.isCurrent(link)) return;
    link.device = device;
    link.recv = device.createRecvTransport({
      id: parameters.transportId,
      iceParameters: parameters.iceParameters as types.IceParameters,
      iceCandidates: parameters.iceCandidates as types.IceCandidate[],
      dtlsParameters: parameters.dtlsParameters as types.DtlsParameters,
    });
    this.#wireTransport(link, link.recv);
  }

  #connected(link: Link): void {
    this.#consumeCameras(link);
    if (this.#camera) void this.#publishCamera(link, this.#camera).catch(() => this.#ladder.lost(link));
  }

  async #publishCamera(link: Link, camera: GeneratedCamera): Promise<void> {
    const socket = link.socket!;
    const parameters = await socket.request("createWebRtcTransport", { direction: "send" });
    if (!this.#ladder.isCurrent(link)) return;
    const send = link.device!.createSendTransport({
      id: parameters.transportId,
      iceParameters: parameters.iceParameters as types.IceParameters,
      iceCandidates: parameters.iceCandidates as types.IceCandidate[],
      dtlsParameters: parameters.dtlsParameters as types.DtlsParameters,
    });
    link.send = send;
    this.#wireTransport(link, send);
    send.on("produce", ({ kind, rtpParameters }, callback, errback) => {
      socket
        .request("produce", { transportId: send.id, kind, source: "video", rtpParameters: rtpParameters as never })
        .then(({ producerId }) => callback({ id: producerId }), errback);
    });
    const producer = await send.produce({
      track: camera.track as never,
      stopTracks: false,
      encodings: [{ maxBitrate: CAMERA_MAX_BITRATE }],
      appData: { source: "video" },
    });
    link.producerId = producer.id;
  }

  #consumeCameras(link: Link): void {
    if (!link.recv || !this.#ladder.isCurrent(link)) return;
    for (const producer of this.#producers.values()) {
      if (producer.userId === this.#myUserId || producer.source !== "video" || link.consumed.has(producer.producerId)) continue;
      link.consumed.add(producer.producerId);
      void this.#consume(link, producer.producerId);
    }
  }

  /** Consumes `producerId`, trying again after a refusal as the web app does, while the producer is in the class's map. */
  async #consume(link: Link, producerId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!this.#ladder.isCurrent(link) || !this.#producers.has(producerId)) return;
      try {
        const answer = await link.socket!.request("consume", {
          transportId: link.recv!.id,
          producerId,
          rtpCapabilities: link.device!.rtpCapabilities as never,
        });
        if (!this.#ladder.isCurrent(link)) return;
        this.#mark("consumed");
        const consumer = await link.recv!.consume({
          id: answer.consumerId,
          producerId,
          kind: answer.kind,
          rtpParameters: answer.rtpParameters as types.RtpParameters,
        });
        const sink = new wrtc.nonstandard.RTCVideoSink(consumer.track as never);
        link.sinks.push(sink);
        sink.onframe = () => this.#frame(link, producerId);
        await link.socket!.request("resumeConsumer", { consumerId: consumer.id });
        return;
      } catch (error) {
        this.consumeFailures += 1;
        if (error instanceof MediaSignalingError && FINAL_CONSUME_ERRORS.includes(error.code)) return;
        await new Promise((resolve) => setTimeout(resolve, consumeRetryDelayMs(attempt, Math.random)));
      }
    }
  }

  /** Whether the camera `previous` sent is sent on `next` and has been in the class's map for {@link SENDER_OVERLAP_MS}. */
  #sentAgain(previous: Link, next: Link): boolean {
    if (previous.producerId === null) return true;
    if (next.producerId === null || !this.#producers.has(next.producerId)) return false;
    next.listedAt ??= Date.now();
    return Date.now() - next.listedAt >= SENDER_OVERLAP_MS;
  }

  /** A decoded camera frame on `link`: the consumer's first is noted, and so is a gap since the last frame of any link. */
  #frame(link: Link, producerId: string): void {
    const now = Date.now();
    if (!link.framed.has(producerId)) {
      link.framed.add(producerId);
      this.firstFrames.push(now);
      this.#mark("frame");
    }
    if (this.#lastFrameAt !== null && now - this.#lastFrameAt > GAP_NOTED_MS) this.gaps.push({ endedAt: now, ms: now - this.#lastFrameAt });
    this.#lastFrameAt = now;
  }

  #wireTransport(link: Link, transport: types.Transport): void {
    transport.on("connect", ({ dtlsParameters }, callback, errback) => {
      link.socket?.request("connectTransport", { transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => callback(), errback);
    });
    transport.on("connectionstatechange", (state) =>
      this.#ladder.iceStateChanged(link, state, async () => {
        const { iceParameters } = await link.socket!.request("restartIce", { transportId: transport.id });
        await transport.restartIce({ iceParameters: iceParameters as types.IceParameters });
      }),
    );
  }

  #onNotification(link: Link, message: MediaNotification): void {
    if (!this.#ladder.isCurrent(link)) return;
    if (message.notification === "reconnect") this.#ladder.lost(link);
  }
}

/** The ladder's view of a failed request, as the web app's `describeFailure`. */
function describeFailure(error: unknown): LadderFailure | null {
  if (error instanceof ChannelError) return { from: "class", code: error.code, retryAfterMs: 0 };
  if (error instanceof MediaSignalingError) return { from: "node", code: error.code, retryAfterMs: 0 };
  return null;
}
