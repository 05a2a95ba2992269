import type { SetStoreFunction } from "solid-js/store";
import type { MediaSource } from "../../../../schema/tokens/media-token";
import type { ClassChannel } from "../class-channel";
import { describeMediaError, type LocalCapture, sourceName } from "./local-capture";
import { createProducer, type WatchTransport } from "./transports";
import type { Connection, MediaSessionState } from "./types";

/** What publishing needs of the session around it. */
export interface PublishingContext {
  channel: ClassChannel;
  state: MediaSessionState;
  setState: SetStoreFunction<MediaSessionState>;
  capture: LocalCapture;
  watch: WatchTransport;
  /** The connection in use, or null between tries. */
  connection(): Connection | null;
  /** The old connection of a make-before-break move while it still sends, or null. */
  previousConnection(): Connection | null;
  /** Whether the connection is still the one in use (and the session is not closed). */
  isCurrent(connection: Connection): boolean;
  closed(): boolean;
}

/**
 * What this browser sends: one producer per source the grant allows (camera, microphone, screen, board), sent
 * again on every new connection, and kept in step with the node's grant and with a moderator's pause.
 */
export class Publishing {
  /** A teacher's camera and microphone start by themselves once, at the first join. */
  private autoPublished = false;

  constructor(private readonly context: PublishingContext) {}

  /**
   * Starts sending `source`: asks for the camera/microphone/screen, or sends `given` (the board's canvas track,
   * which the board draws); refused when the grant lacks it.
   */
  async publish(source: MediaSource, given?: MediaStreamTrack): Promise<void> {
    const { state, setState, capture } = this.context;
    if (!state.produce.includes(source)) throw new Error(`You may not send ${sourceName(source)} right now`);
    if (state.local[source]) return;
    const track = given ?? (await capture.capture(source));
    if (this.context.closed() || !state.produce.includes(source)) {
      track.stop();
      return;
    }
    setState("local", source, { track, producerId: null, paused: false, pausedByModerator: false });
    track.addEventListener("ended", () => {
      // The user ended the share from the browser's own UI, or the device went away.
      if (state.local[source]?.track === track) void this.unpublish(source);
    });
    if (source === "audio" || source === "video") void capture.refreshDevices();
    const connection = this.context.connection();
    if (connection?.socket) await this.produceOn(connection, source, track);
  }

  /** Stops sending `source` and releases the device. */
  async unpublish(source: MediaSource): Promise<void> {
    if (!this.context.capture.release(source)) return;
    const connection = this.context.connection();
    const producer = connection?.producers.get(source);
    if (!connection || !producer) return;
    connection.producers.delete(source);
    producer.close();
    await connection.socket?.request("closeProducer", { producerId: producer.id }).catch(() => undefined);
  }

  /** Mutes or unmutes a source we send (the track stays; the node stops forwarding it). */
  async setPaused(source: MediaSource, paused: boolean): Promise<void> {
    const local = this.context.state.local[source];
    if (!local) return;
    this.context.setState("local", source, { paused, pausedByModerator: false });
    // A muted microphone is muted on the old connection of a move too, which still sends until it closes.
    const connections = [this.context.connection(), this.context.previousConnection()];
    await Promise.all(
      connections.map(async (connection) => {
        const producer = connection?.producers.get(source);
        if (!producer) return;
        if (paused) producer.pause();
        else producer.resume();
        await connection?.socket?.request(paused ? "pauseProducer" : "resumeProducer", { producerId: producer.id });
      }),
    );
  }

  /** Switches the microphone or camera; a live track is replaced without renegotiating. */
  async selectDevice(kind: "audioinput" | "videoinput", deviceId: string): Promise<void> {
    const source = this.context.capture.choose(kind, deviceId);
    const local = this.context.state.local[source];
    if (!local) return;
    const track = await this.context.capture.capture(source);
    await this.context.connection()?.producers.get(source)?.replaceTrack({ track });
    local.track.stop();
    this.context.setState("local", source, "track", track);
  }

  /** A new connection is up: publish again what was sent before a rejoin; a teacher starts with camera and microphone on. */
  republish(connection: Connection, granted: readonly MediaSource[]): void {
    const { state, channel } = this.context;
    const sources = Object.keys(state.local) as MediaSource[];
    for (const source of sources) {
      const local = state.local[source];
      if (local && state.produce.includes(source)) void this.produceOn(connection, source, local.track).catch((error) => this.report(error));
    }
    const moderator = channel.state.you?.role !== "student";
    if (moderator && sources.length === 0 && !this.autoPublished) {
      this.autoPublished = true;
      for (const source of ["audio", "video"] as const) if (granted.includes(source)) void this.publish(source).catch((error) => this.report(error));
    }
  }

  /** Which of our sources `producerId` sends, if it is ours. */
  ownSource(connection: Connection, producerId: string): MediaSource | undefined {
    for (const [source, producer] of connection.producers) if (producer.id === producerId) return source;
    return undefined;
  }

  /** A moderator paused (or someone resumed) one of our producers on the node: mirror it locally. */
  onOwnProducerPaused(connection: Connection, source: MediaSource, paused: boolean): void {
    const producer = connection.producers.get(source)!;
    const local = this.context.state.local[source];
    if (!local || local.paused === paused) return;
    if (paused) producer.pause();
    else producer.resume();
    this.context.setState("local", source, { paused, pausedByModerator: paused });
  }

  /** The node closed one of our producers: stop its track too. */
  forgetOwnProducer(connection: Connection, producerId: string): void {
    const source = this.ownSource(connection, producerId);
    if (!source) return;
    connection.producers.get(source)?.close();
    connection.producers.delete(source);
    this.context.capture.release(source);
  }

  /** The teacher changed what we may send: offer the stage, or stop what we lost (the node closed it already). */
  onGrant(connection: Connection, granted: MediaSource[]): void {
    const { state, setState, channel } = this.context;
    setState("produce", granted);
    for (const source of Object.keys(state.local) as MediaSource[]) {
      if (granted.includes(source)) continue;
      const producer = connection.producers.get(source);
      if (producer) this.forgetOwnProducer(connection, producer.id);
      else this.context.capture.release(source);
    }
    const mayJoinStage = granted.some((source) => (source === "audio" || source === "video") && !state.local[source]);
    setState("stageOffer", mayJoinStage && channel.state.you?.role === "student");
  }

  private async produceOn(connection: Connection, source: MediaSource, track: MediaStreamTrack): Promise<void> {
    const { state, setState } = this.context;
    const producer = await createProducer(connection, this.context.watch, source, track);
    if (!this.context.isCurrent(connection) || state.local[source]?.track !== track) {
      producer.close();
      await connection.socket?.request("closeProducer", { producerId: producer.id }).catch(() => undefined);
      return;
    }
    connection.producers.set(source, producer);
    setState("local", source, "producerId", producer.id);
    if (state.local[source]?.paused) {
      producer.pause();
      await connection.socket?.request("pauseProducer", { producerId: producer.id });
    }
  }

  private report(error: unknown): void {
    this.context.setState("message", describeMediaError(error));
  }
}
