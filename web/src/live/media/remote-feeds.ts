import type { types } from "mediasoup-client";
import type { SetStoreFunction } from "solid-js/store";
import type { ClassChannel } from "../class-channel";
import { MediaSignalingError } from "../media-signaling";
import { consumeRetryDelayMs, FINAL_CONSUME_ERRORS } from "./consume-retry";
import type { Connection, MediaSessionState, RemoteFeed } from "./types";

/**
 * What this browser receives: one consumer per producer of someone else in the class (the class channel's media
 * map and the node's `producerAdded` both name them; one on another node is piped to ours by the class object), each shown as a {@link RemoteFeed}, and the simulcast
 * layer each tile asks for.
 */
export class RemoteFeeds {
  constructor(
    private readonly channel: ClassChannel,
    private readonly state: MediaSessionState,
    private readonly setState: SetStoreFunction<MediaSessionState>,
    /** Whether the connection is still the one in use (work for an older one must stop). */
    private readonly isCurrent: (connection: Connection) => boolean,
  ) {}

  /** Consumes every producer of someone else in the class that we do not receive yet, wherever it lives. */
  sync(connection: Connection | null): void {
    if (!connection?.recv || !connection.device || !this.isCurrent(connection)) return;
    const me = this.channel.state.you?.userId ?? null;
    const wanted = new Set(connection.announced.keys());
    // The board's track is for the recording: every browser draws the vector board itself.
    for (const info of this.channel.state.media.producers) if (info.userId !== me && info.source !== "board") wanted.add(info.producerId);
    for (const producerId of wanted) {
      if (connection.consumers.has(producerId) || connection.consuming.has(producerId) || connection.gone.has(producerId)) continue;
      void this.consume(connection, producerId);
    }
  }

  /** The node announced a producer of someone else (it may reach the class channel's map later). */
  announce(connection: Connection, producerId: string, userId: string): void {
    connection.announced.set(producerId, userId);
    this.sync(connection);
  }

  /** The producer is gone (or its consumer closed): drop its feed and never consume it again on this connection. */
  drop(connection: Connection, producerId: string): void {
    connection.gone.add(producerId);
    connection.announced.delete(producerId);
    const consumer = connection.consumers.get(producerId);
    if (!consumer) return;
    connection.consumers.delete(producerId);
    connection.feeds.delete(producerId);
    consumer.close();
    const shown = this.state.feeds.findIndex((feed) => feed.producerId === producerId);
    if (shown !== -1) {
      const { userId, source } = this.state.feeds[shown]!;
      // While someone moves between nodes, two streams of theirs (the old node's and the new one's) may both be
      // received: when the shown one ends, the other takes its place.
      const standby = [...connection.feeds.values()].find((feed) => feed.userId === userId && feed.source === source);
      if (standby && !this.state.feeds.some((feed) => feed.consumerId === standby.consumerId)) {
        this.setState("feeds", shown, standby);
        return;
      }
      // The same person's newer stream is still being consumed: the last picture stays until it takes its place,
      // rather than their tile going away in between.
      if (this.successorPending(connection, this.state.feeds[shown]!)) return;
    }
    this.setState("feeds", (feeds) => feeds.filter((feed) => feed.producerId !== producerId));
  }

  /** Whether a consume on `connection` is under way for another stream of the same person and source as `feed`. */
  private successorPending(connection: Connection, feed: RemoteFeed): boolean {
    return [...connection.consuming].some((id) => {
      const producer = this.channel.state.media.producers.find((p) => p.producerId === id);
      return id !== feed.producerId && producer?.userId === feed.userId && producer.source === feed.source;
    });
  }

  /** The node closed the consumer `consumerId`. */
  dropConsumer(connection: Connection, consumerId: string): void {
    const entry = [...connection.consumers.entries()].find(([, consumer]) => consumer.id === consumerId);
    if (entry) this.drop(connection, entry[0]);
  }

  update(match: (feed: RemoteFeed) => boolean, change: Partial<RemoteFeed>): void {
    this.setState("feeds", match, change);
  }

  /** Asks the node for the simulcast layer that fits the tile (0 = smallest); repeats are not sent. */
  setPreferredLayer(connection: Connection | null, consumerId: string, spatialLayer: number): void {
    if (!connection?.socket || connection.preferredLayers.get(consumerId) === spatialLayer) return;
    connection.preferredLayers.set(consumerId, spatialLayer);
    connection.socket.request("setPreferredLayers", { consumerId, spatialLayer }).catch(() => connection.preferredLayers.delete(consumerId));
  }

  /** The feeds the page shows from `connection`'s consumers. */
  shownFrom(connection: Connection): RemoteFeed[] {
    const ids = new Set([...connection.consumers.values()].map((consumer) => consumer.id));
    return this.state.feeds.filter((feed) => ids.has(feed.consumerId));
  }

  /**
   * Closes every consumer of a connection being thrown away and clears what the page shows of them. `handedOver`:
   * a newer connection is up (the old one of a move), and what it shows stays, the active speaker included.
   */
  closeAll(connection: Connection, handedOver: boolean): void {
    const ids = new Set([...connection.consumers.values()].map((consumer) => consumer.id));
    for (const consumer of connection.consumers.values()) consumer.close();
    this.setState("feeds", (feeds) => feeds.filter((feed) => !ids.has(feed.consumerId)));
    if (!handedOver) this.setState({ producerScores: {}, activeSpeaker: null });
  }

  /**
   * Consumes `producerId` on `connection`. A refusal another try may cure (the node busy, a stream still being
   * piped from another node, an answer that timed out) is tried again after {@link consumeRetryDelayMs}, for as
   * long as the producer is in the class and the connection is the one in use; a final one (the producer is gone,
   * this device cannot decode it) marks it gone for this connection.
   */
  private async consume(connection: Connection, producerId: string): Promise<void> {
    connection.consuming.add(producerId);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.consumeOnce(connection, producerId);
          return;
        } catch (error) {
          if (!retryable(error)) {
            connection.gone.add(producerId);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, consumeRetryDelayMs(attempt, Math.random)));
        if (!this.isCurrent(connection) || connection.gone.has(producerId) || !this.stillSent(connection, producerId)) return;
      }
    } finally {
      connection.consuming.delete(producerId);
      // A picture kept for this one (see drop) goes now if this consume did not take its place.
      if (this.state.feeds.some((feed) => connection.gone.has(feed.producerId)))
        this.setState("feeds", (feeds) => feeds.filter((feed) => !connection.gone.has(feed.producerId)));
    }
  }

  /** Whether someone still sends `producerId`: the class's media map or the node names it. */
  private stillSent(connection: Connection, producerId: string): boolean {
    return connection.announced.has(producerId) || this.channel.state.media.producers.some((p) => p.producerId === producerId);
  }

  /** One try: the node's consumer, ours on the receive transport, the feed, and the node resuming it. */
  private async consumeOnce(connection: Connection, producerId: string): Promise<void> {
    const socket = connection.socket!;
    const answer = await socket.request("consume", {
      transportId: connection.recv!.id,
      producerId,
      rtpCapabilities: connection.device!.rtpCapabilities as never,
    });
    if (!this.isCurrent(connection)) return;
    const consumer = await connection.recv!.consume({
      id: answer.consumerId,
      producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters as types.RtpParameters,
    });
    if (!this.isCurrent(connection) || connection.gone.has(producerId)) {
      consumer.close();
      return;
    }
    try {
      await socket.request("resumeConsumer", { consumerId: consumer.id });
    } catch (error) {
      // The node keeps a consumer it could not resume paused: close ours, and let the next try make a new one.
      consumer.close();
      throw error;
    }
    if (!this.isCurrent(connection) || connection.gone.has(producerId)) {
      consumer.close();
      return;
    }
    connection.consumers.set(producerId, consumer);
    const owner = this.channel.state.media.producers.find((p) => p.producerId === producerId)?.userId ?? connection.announced.get(producerId) ?? "";
    const sameStream = (feed: RemoteFeed) => feed.userId === owner && feed.source === answer.source;
    // The page already shows this person's camera (or microphone, or screen) from an older consumer: the old
    // connection of a move, or a producer they replaced. It stays shown until the new track carries media, so
    // the picture never goes blank in between.
    if (this.state.feeds.some(sameStream)) {
      await firstMedia(consumer.track, FIRST_MEDIA_WAIT_MS);
      if (!this.isCurrent(connection) || connection.gone.has(producerId) || consumer.closed) return;
    }
    const shown = this.state.feeds.findIndex(sameStream);
    const feed: RemoteFeed = {
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
    };
    connection.feeds.set(producerId, feed);
    this.setState("feeds", shown === -1 ? this.state.feeds.length : shown, feed);
  }
}

/** A new track waits at most this long for its first media before it takes the place of the one shown. */
const FIRST_MEDIA_WAIT_MS = 3_000;

/** Resolves once `track` carries media (a remote track is muted until its first packets arrive), or after `timeoutMs`. */
function firstMedia(track: MediaStreamTrack, timeoutMs: number): Promise<void> {
  if (!track.muted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      track.removeEventListener("unmute", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    track.addEventListener("unmute", done);
  });
}

/** Whether a failed consume is worth another try: a refusal or lost answer from the node with a curable code. */
function retryable(error: unknown): boolean {
  return error instanceof MediaSignalingError && !FINAL_CONSUME_ERRORS.includes(error.code);
}
