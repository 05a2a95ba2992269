import type { types } from "mediasoup-client";
import { createEffect, createRoot, on, onCleanup } from "solid-js";
import { createStore, type SetStoreFunction } from "solid-js/store";
import type { MediaJoinResponse } from "../../../../schema/protocol/classroom";
import type { MediaNotification } from "../../../../schema/protocol/media";
import type { MediaSource } from "../../../../schema/tokens/media-token";
import { ChannelRequestError, type ClassChannel } from "../class-channel";
import { deviceChoices } from "../device-check/device-choices";
import { MediaSignalingError, MediaSocket } from "../media-signaling";
import { ConnectionLadder, type LadderFailure } from "./connection-ladder";
import { LocalCapture } from "./local-capture";
import { Publishing } from "./publishing";
import { RemoteFeeds } from "./remote-feeds";
import { closeTransports, createRecvTransport } from "./transports";
import { type Connection, emptyConnection, type MediaSessionState, type RemoteFeed } from "./types";

export { ICE_RECOVERY_MS } from "./connection-ladder";
export { describeMediaError } from "./local-capture";
export type { LocalSource, MediaDeviceChoice, MediaSessionState, MediaStatus, RemoteFeed } from "./types";

/**
 * After a move, our old producers keep sending this long once the new ones are in the class's media map: the
 * others consume the new one (through a pipe when they are on another node) and show it before the old one
 * stops, so nobody sees us go blank.
 */
const SENDER_OVERLAP_MS = 2_000;

/** The User Timing mark set when the first `media.join` starts (bench/media-join.ts reads it). */
export const MEDIA_JOIN_MARK = "insp-media-join";

/**
 * The browser's live media for one class: asks the class channel for a place on an sfu-node (`media.join`),
 * negotiates a receive transport (and a send transport when the grant allows) with mediasoup-client, consumes
 * every producer of the class on that node, publishes the camera (3 simulcast layers), microphone (Opus
 * DTX+FEC) and screen share, and follows the node's notifications (grants, pauses, scores, active speaker).
 *
 * It wires parts with one lifecycle each: the connection ladder (./connection-ladder.ts: join, renew, rejoin,
 * ICE restart, backoff), the local capture (./local-capture.ts: devices and tracks), what we send
 * (./publishing.ts: producers) and what we receive (./remote-feeds.ts: consumers), over the mediasoup-client
 * transports of ./transports.ts. The class channel is independent of all this and keeps working.
 */
export class MediaSession {
  readonly state: MediaSessionState;
  private readonly setState: SetStoreFunction<MediaSessionState>;
  private readonly ladder: ConnectionLadder<Connection>;
  private readonly capture: LocalCapture;
  private readonly feeds: RemoteFeeds;
  private readonly publishing: Publishing;
  private closed = false;
  /** When the new connection of a move first had all our producers in the class's media map (see {@link tookOver}). */
  private readonly sentAgainAt = new WeakMap<Connection, number>();
  private readonly dispose: () => void;
  private readonly watch = (connection: Connection, transport: types.Transport) => this.watchTransport(connection, transport);

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
    this.ladder = new ConnectionLadder<Connection>({
      createLink: emptyConnection,
      joinMedia: (unreachable) => this.joinMedia(unreachable),
      openSignaling: (connection, grant) => this.openSignaling(connection, grant),
      createTransports: (connection) => createRecvTransport(connection, this.watch, () => this.current(connection)),
      connected: (connection, grant) => this.onConnected(connection, grant),
      renewalNode: (connection) => (connection.socket ? this.state.nodeId : null),
      renewMedia: async (nodeId) => {
        const renewal = await this.channel.request("media.renew", { nodeId });
        return { token: renewal.token, expiresAt: Date.now() + renewal.expiresInMs };
      },
      handOverToken: async (connection, token) => {
        const answer = await connection.socket!.request("token.renew", { token });
        // The node sent a `grant` first when the grant changed; this covers a notification that got lost.
        if (this.current(connection) && !sameSources(answer.produce, this.state.produce)) this.publishing.onGrant(connection, answer.produce);
      },
      closeLink: (connection) => this.closeConnection(connection),
      tookOver: (previous, next) => this.tookOver(previous, next),
      failure: describeFailure,
      report: (status, message) => this.setState(message === undefined ? { status } : { status, message }),
    });
    this.capture = new LocalCapture(this.state, this.setState);
    this.feeds = new RemoteFeeds(channel, this.state, this.setState, (connection) => this.current(connection));
    this.publishing = new Publishing({
      channel,
      state: this.state,
      setState: this.setState,
      capture: this.capture,
      watch: this.watch,
      connection: () => this.ladder.current,
      previousConnection: () => this.ladder.handingOver,
      isCurrent: (connection) => this.current(connection),
      closed: () => this.closed,
    });
    this.dispose = createRoot((dispose) => {
      // Join once the class channel is open; leave when it closes for good (kicked, blocked, ended).
      createEffect(
        on(
          () => channel.state.status,
          (status) => {
            if (status === "open" && this.state.status === "idle") this.ladder.start();
            if (status === "closed") this.close(channel.state.closedMessage);
          },
        ),
      );
      // The class moves us off a node that is gone or draining: join again now, not after the backoff. A move for a
      // node this browser already left is stale (its ladder got here first). A draining node goes on forwarding
      // until its people left, so its connection stays until the new one carries everything (make-before-break).
      const stopMoves = channel.onMediaMove((nodeId, reason) => {
        if (this.state.status === "connected" && this.state.nodeId !== nodeId) return;
        this.ladder.moveNow({ keepCurrent: reason === "node-draining" });
      });
      onCleanup(stopMoves);
      // The class channel's media map is the authority on who sends what: consume what appears there.
      createEffect(
        on(
          () => channel.state.media.producers.map((p) => `${p.producerId}:${p.nodeId}:${p.userId}`).join(","),
          () => this.feeds.sync(this.ladder.current),
        ),
      );
      return dispose;
    });
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
  publish(source: MediaSource, given?: MediaStreamTrack): Promise<void> {
    return this.publishing.publish(source, given);
  }

  /** Stops sending `source` and releases the device. */
  unpublish(source: MediaSource): Promise<void> {
    return this.publishing.unpublish(source);
  }

  /** Mutes or unmutes a source we send (the track stays; the node stops forwarding it). */
  setPaused(source: MediaSource, paused: boolean): Promise<void> {
    return this.publishing.setPaused(source, paused);
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
  selectDevice(kind: "audioinput" | "videoinput", deviceId: string): Promise<void> {
    return this.publishing.selectDevice(kind, deviceId);
  }

  /** Asks the node for the simulcast layer that fits the tile (0 = smallest); repeats are not sent. */
  setPreferredLayer(consumerId: string, spatialLayer: number): void {
    this.feeds.setPreferredLayer(this.ladder.current, consumerId, spatialLayer);
  }

  /** Reads the media devices (labels appear once a capture was allowed). */
  refreshDevices(): Promise<void> {
    return this.capture.refreshDevices();
  }

  /** Leaves: closes the connection and releases every device. Safe to call twice. */
  close(message: string | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.ladder.close();
    this.capture.close();
    this.setState({ status: "closed", message, local: {}, feeds: [], stageOffer: false, activeSpeaker: null });
    // close() may run inside one of the root's own effects (the channel closed): dispose after it returns.
    queueMicrotask(this.dispose);
  }

  // ---- The ladder's steps ----

  private joinMedia(unreachable?: string): Promise<MediaJoinResponse> {
    if (!this.ladder.joinedOnce) performance.mark(MEDIA_JOIN_MARK);
    return this.channel.request("media.join", unreachable ? { unreachable } : {}).then((grant) => ({
      ...grant,
      expiresAt: Date.now() + grant.expiresInMs,
    }));
  }

  private async openSignaling(connection: Connection, grant: MediaJoinResponse): Promise<void> {
    const socket = await MediaSocket.open(grant.signalingUrl, {
      onNotification: (notification) => this.onNotification(connection, notification),
      onClose: () => this.ladder.lost(connection),
    });
    if (!this.current(connection)) {
      socket.close();
      return;
    }
    connection.socket = socket;
    this.setState({ nodeId: grant.nodeId, produce: grant.produce });
  }

  private onConnected(connection: Connection, grant: MediaJoinResponse): void {
    this.feeds.sync(connection);
    this.publishing.republish(connection, grant.produce);
  }

  /**
   * Closes a connection being thrown away, or the old one of a move once the new one took over; local tracks
   * stay. What the page shows of it goes; what a newer connection already shows stays.
   */
  private closeConnection(connection: Connection): void {
    closeTransports(connection);
    this.feeds.closeAll(connection, this.ladder.current !== null);
    for (const [source, producer] of connection.producers)
      if (this.state.local[source]?.producerId === producer.id) this.setState("local", source, "producerId", null);
    this.setState("producerScores", (scores) => {
      const kept = { ...scores };
      for (const producer of connection.producers.values()) delete kept[producer.id];
      return kept;
    });
  }

  /**
   * Whether `next` carries everything `previous` did (a make-before-break move): every source we still send is
   * produced on `next` and has been in the class's media map for {@link SENDER_OVERLAP_MS} (the others' time to
   * consume it and show it before the old one stops), and no feed the page shows from `previous` is of a stream
   * someone still sends.
   */
  private tookOver(previous: Connection, next: Connection): boolean {
    const resent = [...previous.producers.keys()].filter((source) => this.state.local[source]);
    if (resent.length > 0) {
      const listed = (source: MediaSource) => {
        const id = next.producers.get(source)?.id;
        return id !== undefined && this.channel.state.media.producers.some((p) => p.producerId === id);
      };
      if (!resent.every(listed)) return false;
      const since = this.sentAgainAt.get(next) ?? Date.now();
      this.sentAgainAt.set(next, since);
      if (Date.now() - since < SENDER_OVERLAP_MS) return false;
    }
    const sent = (feed: RemoteFeed) => this.channel.state.media.producers.some((p) => p.userId === feed.userId && p.source === feed.source);
    return this.feeds.shownFrom(previous).every((feed) => !sent(feed));
  }

  /** ICE states go to the ladder, which restarts ICE (this request) or rejoins. */
  private watchTransport(connection: Connection, transport: types.Transport): void {
    transport.on("connectionstatechange", (state) =>
      this.ladder.iceStateChanged(connection, state, async () => {
        const { iceParameters } = await connection.socket!.request("restartIce", { transportId: transport.id });
        await transport.restartIce({ iceParameters: iceParameters as types.IceParameters });
      }),
    );
  }

  private current(connection: Connection): boolean {
    return !this.closed && this.ladder.isCurrent(connection);
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
        this.feeds.announce(connection, message.data.producerId, message.data.userId);
        break;
      case "producerRemoved":
        this.feeds.drop(connection, message.data.producerId);
        this.publishing.forgetOwnProducer(connection, message.data.producerId);
        break;
      case "producerPaused": {
        const own = this.publishing.ownSource(connection, message.data.producerId);
        if (own) this.publishing.onOwnProducerPaused(connection, own, message.data.paused);
        else this.feeds.update((feed) => feed.producerId === message.data.producerId, { producerPaused: message.data.paused });
        break;
      }
      case "producerScore": {
        const best = Math.max(0, ...message.data.score.map((s) => s.score));
        this.setState("producerScores", message.data.producerId, best);
        break;
      }
      case "consumerClosed":
        this.feeds.dropConsumer(connection, message.data.consumerId);
        break;
      case "consumerPaused":
        this.feeds.update((feed) => feed.consumerId === message.data.consumerId, { producerPaused: message.data.paused });
        break;
      case "consumerScore":
        this.feeds.update((feed) => feed.consumerId === message.data.consumerId, { score: message.data.score, producerScore: message.data.producerScore });
        break;
      case "consumerLayersChanged":
        // Tiles ask for the layer they need (setPreferredLayer); which one flows is the node's call under congestion.
        break;
      case "grant":
        this.publishing.onGrant(connection, message.data.produce);
        break;
      case "activeSpeaker":
        this.setState("activeSpeaker", message.data.userId);
        break;
      case "reconnect":
        // The socket closes right after; rejoin without waiting for that.
        this.ladder.lost(connection);
        break;
      default:
        assertNever(message);
    }
  }
}

/** The ladder's view of a failed request: a refusal from the class channel or from the node, with its code. */
function describeFailure(error: unknown): LadderFailure | null {
  if (error instanceof ChannelRequestError) {
    return { from: "class", code: error.code, retryAfterMs: error.code === "RATE_LIMITED" ? (error.retryAfterMs ?? 0) : 0 };
  }
  if (error instanceof MediaSignalingError) return { from: "node", code: error.code, retryAfterMs: 0 };
  return null;
}

function sameSources(a: readonly MediaSource[], b: readonly MediaSource[]): boolean {
  return a.length === b.length && a.every((source) => b.includes(source));
}

function assertNever(value: never): never {
  throw new Error(`Unexpected notification ${JSON.stringify(value)}`);
}
