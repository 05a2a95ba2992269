import { mkdir } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import type { types } from "mediasoup";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { ConfigError } from "../config";
import { log } from "../log";
import type { Peer } from "../Peer";
import type { Room } from "../Room";
import { type Canvas, composeRecording } from "./compose";
import { PieceComposer, type PieceOptions } from "./pieces";
import { PortPool } from "./port-pool";
import { TrackCapture } from "./TrackCapture";

/** What `startRecording` needs; the recording id and class id come from the class's Durable Object. */
export interface RecordingOptions {
  recordingId: string;
  classId: string;
  /** Whose producers are recorded (camera, microphone, screen), in layout order. */
  userIds: readonly string[];
  /** A directory of its own for this recording: segments, lists and the composed file go here. */
  workDir: string;
  /** Composed picture size and rate (default 1280×720 at 25 fps). */
  canvas?: Canvas;
  /** Compose in pieces while recording (see {@link PieceComposer}); without it the whole recording is composed at the stop. */
  pieces?: PieceOptions;
  /**
   * Called with the composed file before the recording counts as finished (upload and packaging go
   * here), so {@link drainRecordings} waits for it too on shutdown.
   */
  onComposed?: (composed: ComposedRecording) => Promise<void> | void;
}

/** The one file a recording ends as. */
export interface ComposedRecording {
  /** Absolute path of the H.264/AAC MP4 (faststart). */
  file: string;
  durationMs: number;
  /** Wall-clock ms of the recording's first instant (the composed file's time 0). */
  startedAt: number;
  /** Wall-clock ms of its last instant. */
  endedAt: number;
  /** Wall-clock ms when the file was ready (for the stop → playable figure). */
  composedAt: number;
}

/** A recording in progress. */
export interface RecordingHandle {
  readonly recordingId: string;
  readonly classId: string;
  readonly startedAt: number;
  /** True until the recording stops capturing (a stop, its room closing, or shutdown); composing comes after. */
  readonly capturing: boolean;
  /** Records these users too from now on (a student brought on stage): their producers here, local or piped. */
  include(userIds: readonly string[]): Promise<void>;
  /** Ends capture and composes; every call returns the same promise. */
  stop(): Promise<ComposedRecording>;
  /** Settles when the recording is composed (and `onComposed` ran), however it was stopped. */
  readonly finished: Promise<ComposedRecording>;
  /** The tracks captured so far, with the FFmpeg writing each (for operators and tests). */
  tracks(): RecordedTrackInfo[];
}

export interface RecordedTrackInfo {
  userId: string;
  source: MediaSource;
  producerId: string;
  ffmpegPid: number | undefined;
  runs: number;
  /** Wall clock (ms) of the first packet captured, undefined while none has come. */
  firstPacketAt: number | undefined;
  ended: boolean;
}

/** Recorder settings from the environment, parsed once at start-up (see {@link loadRecorderSettings}). */
export interface RecorderSettings {
  /** Local UDP ports recorder FFmpeg processes listen on (RTP/RTCP pairs); keep them closed to the outside. */
  portMin: number;
  portMax: number;
}

const Port = v.pipe(v.string(), v.regex(/^\d{1,5}$/, "must be a port number"), v.transform(Number), v.minValue(1), v.maxValue(65535));
const SettingsSchema = v.object({
  SFU_RECORDING_PORT_MIN: v.optional(Port, "50000"),
  SFU_RECORDING_PORT_MAX: v.optional(Port, "50999"),
});

/** Reads SFU_RECORDING_PORT_MIN / SFU_RECORDING_PORT_MAX; throws a {@link ConfigError} naming the bad setting. */
export function loadRecorderSettings(env: NodeJS.ProcessEnv = process.env): RecorderSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([key, value]) => key.startsWith("SFU_RECORDING_") && value));
  const result = v.safeParse(SettingsSchema, present);
  if (!result.success) {
    const issue = result.issues[0]!;
    throw new ConfigError(`${issue.path?.map((p) => String(p.key)).join(".") ?? "SFU_RECORDING_*"}: ${issue.message} (got ${issue.received})`);
  }
  const { SFU_RECORDING_PORT_MIN: portMin, SFU_RECORDING_PORT_MAX: portMax } = result.output;
  if (portMax - portMin < 7) throw new ConfigError(`SFU_RECORDING_PORT_MIN/MAX: the range ${portMin}-${portMax} must hold at least two tracks (4 ports each)`);
  return { portMin, portMax };
}

let ports: PortPool | undefined;
const active = new Set<Recording>();

/** Sets the recorder's port range (main does it at start-up; tests pick their own range). */
export function configureRecorder(settings: RecorderSettings): void {
  if (ports && ports.inUse > 0) throw new Error("Cannot change the recording ports while recordings run");
  ports = new PortPool(settings.portMin, settings.portMax);
}

/** Port pairs held by running captures (0 once every capture has ended). */
export function recordingPortsInUse(): number {
  return ports?.inUse ?? 0;
}

/**
 * Starts recording `options.userIds` in `room`: every producer of theirs that exists now or appears later
 * is captured until it closes, the recording stops, or the room closes (class end, which also composes).
 * Resolves once the producers that exist now are being captured.
 */
export async function startRecording(room: Room, options: RecordingOptions): Promise<RecordingHandle> {
  ports ??= (() => {
    const settings = loadRecorderSettings();
    return new PortPool(settings.portMin, settings.portMax);
  })();
  if (room.closed) throw new Error(`Class ${options.classId} is not open on this node`);
  if ([...active].some((recording) => recording.recordingId === options.recordingId)) throw new Error(`Recording ${options.recordingId} is already running`);
  await mkdir(options.workDir, { recursive: true });
  const recording = new Recording(room, options, ports);
  active.add(recording);
  void recording.finished.then(
    () => active.delete(recording),
    () => active.delete(recording),
  );
  await recording.captureExisting();
  return recording;
}

/** Stops every running recording and waits until each is composed and handed on (SIGTERM calls this first). */
export async function drainRecordings(): Promise<void> {
  const running = [...active];
  if (running.length > 0) log("info", "recordings_draining", { recordings: running.map((recording) => recording.recordingId) });
  await Promise.allSettled(running.map((recording) => recording.stop()));
}

class Recording implements RecordingHandle {
  readonly recordingId: string;
  readonly classId: string;
  readonly startedAt = Date.now();
  readonly finished: Promise<ComposedRecording>;
  readonly #room: Room;
  readonly #options: RecordingOptions;
  readonly #ports: PortPool;
  readonly #users: Set<string>;
  readonly #captures: TrackCapture[] = [];
  readonly #starting = new Set<Promise<unknown>>();
  readonly #onProducer = (producer: types.Producer, peer: Peer, source: MediaSource) => this.#follow(producer, peer.userId, source);
  /** A producer of another node piped here: the class object pipes recorded users' producers to the recording's node. */
  readonly #onPipedProducer = (producer: types.Producer, userId: string, source: MediaSource) => this.#follow(producer, userId, source);
  readonly #onRoomClose = () => void this.stop().catch(() => undefined);
  /**
   * A capture on the lost router ended with it, but its producer may live on another worker (a large class
   * spreads over routers): capture it again, on a router that is still there.
   */
  readonly #onRouterLost = () => {
    for (const { producer, userId, source } of this.#room.allProducers()) this.#follow(producer, userId, source);
  };
  #resolve!: (composed: ComposedRecording) => void;
  #reject!: (error: unknown) => void;
  #stopping: Promise<ComposedRecording> | undefined;
  readonly #pieces: PieceComposer | undefined;

  constructor(room: Room, options: RecordingOptions, ports: PortPool) {
    this.recordingId = options.recordingId;
    this.classId = options.classId;
    this.#room = room;
    this.#options = options;
    this.#ports = ports;
    this.#users = new Set(options.userIds);
    this.finished = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody has to await `finished`; a failure is logged where it happens.
    this.finished.catch(() => undefined);
    room.on("producer", this.#onProducer);
    room.on("pipedProducer", this.#onPipedProducer);
    room.on("routerLost", this.#onRouterLost);
    room.once("close", this.#onRoomClose);
    if (options.pieces) {
      this.#pieces = new PieceComposer({
        tracks: () => this.#captures,
        userIds: options.userIds,
        startedAt: this.startedAt,
        workDir: options.workDir,
        canvas: options.canvas,
        options: options.pieces,
      });
      this.#pieces.start();
    }
    log("info", "recording_started", { recordingId: this.recordingId, classId: this.classId, userIds: options.userIds });
  }

  async captureExisting(): Promise<void> {
    for (const { producer, userId, source } of this.#room.allProducers()) this.#follow(producer, userId, source);
    await Promise.allSettled([...this.#starting]);
  }

  async include(userIds: readonly string[]): Promise<void> {
    if (this.#stopping) return;
    for (const userId of userIds) this.#users.add(userId);
    await this.captureExisting();
  }

  get capturing(): boolean {
    return this.#stopping === undefined;
  }

  tracks(): RecordedTrackInfo[] {
    return this.#captures.map((capture) => ({
      userId: capture.userId,
      source: capture.source,
      producerId: capture.producerId,
      ffmpegPid: capture.ffmpegPid,
      runs: capture.runs,
      firstPacketAt: capture.firstPacketAt,
      ended: capture.ended,
    }));
  }

  stop(): Promise<ComposedRecording> {
    this.#stopping ??= this.#stop().then(
      (composed) => {
        this.#resolve(composed);
        return composed;
      },
      (error: unknown) => {
        this.#pieces?.close();
        log("error", "recording_failed", { recordingId: this.recordingId, error: String(error) });
        this.#reject(error);
        throw error;
      },
    );
    return this.#stopping;
  }

  #follow(producer: types.Producer, userId: string, source: MediaSource): void {
    if (this.#stopping || !this.#users.has(userId) || producer.closed) return;
    if (this.#captures.some((capture) => capture.producerId === producer.id && !capture.ended)) return;
    // A producer captured again (its first capture's router was lost) gets a directory of its own.
    const again = this.#captures.filter((capture) => capture.producerId === producer.id).length;
    const dir = path.join(this.#options.workDir, "tracks", `${safeName(userId)}-${source}-${producer.id}${again > 0 ? `-${again + 1}` : ""}`);
    const starting = TrackCapture.start({ room: this.#room, producer, userId, source, dir, ports: this.#ports }).then(
      (capture) => {
        this.#captures.push(capture);
        // The recording stopped while this capture was starting: it must not outlive it.
        if (this.#stopping) void capture.stop();
      },
      (error: unknown) =>
        log("error", "recording_track_failed", { recordingId: this.recordingId, producerId: producer.id, userId, source, error: String(error) }),
    );
    this.#starting.add(starting);
    void starting.finally(() => this.#starting.delete(starting));
  }

  async #stop(): Promise<ComposedRecording> {
    const endedAt = Date.now();
    this.#room.off("producer", this.#onProducer);
    this.#room.off("pipedProducer", this.#onPipedProducer);
    this.#room.off("routerLost", this.#onRouterLost);
    this.#room.off("close", this.#onRoomClose);
    this.#pieces?.halt();
    await Promise.allSettled([...this.#starting]);
    await Promise.all(this.#captures.map((capture) => capture.stop()));
    log("info", "recording_captures_stopped", { recordingId: this.recordingId, tookMs: Date.now() - endedAt });
    const file = path.join(this.#options.workDir, `${safeName(this.recordingId)}.mp4`);
    if (this.#pieces) await this.#pieces.finish(endedAt, file);
    else
      await composeRecording({
        tracks: this.#captures,
        userIds: this.#options.userIds,
        startedAt: this.startedAt,
        endedAt,
        workDir: this.#options.workDir,
        output: file,
        canvas: this.#options.canvas,
      });
    const composed: ComposedRecording = { file, durationMs: endedAt - this.startedAt, startedAt: this.startedAt, endedAt, composedAt: Date.now() };
    log("info", "recording_composed", { recordingId: this.recordingId, file, durationMs: composed.durationMs, composeMs: composed.composedAt - endedAt });
    await this.#options.onComposed?.(composed);
    return composed;
  }
}

function safeName(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 60);
}
