import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { types } from "mediasoup";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { log } from "../log";
import type { Room } from "../Room";
import { type FfmpegProcess, spawnFfmpeg, stopFfmpeg, udpPortBound } from "./ffmpeg";
import type { PortPair, PortPool } from "./port-pool";
import { recorderSdp } from "./sdp";

/** Segment length; a crash loses at most the segment being written. */
export const SEGMENT_SECONDS = 10;
/** Key frames asked for this often, so every segment (and every restart) starts decodable soon. */
const KEY_FRAME_INTERVAL_MS = 2000;
/** How long FFmpeg gets to bind its RTP port before the capture gives up. */
const LISTEN_TIMEOUT_MS = 10_000;

/** What the composer needs to know about one captured producer. */
export interface CapturedTrack {
  readonly userId: string;
  readonly source: MediaSource;
  readonly kind: types.MediaKind;
  readonly producerId: string;
  /** Holds `run-<n>-<index>.mkv` segments and `run-<n>.csv` segment lists. */
  readonly dir: string;
  /** Wall clock (ms) when the capture started and when the producer or the capture ended. */
  readonly openedAt: number;
  readonly closedAt: number | undefined;
}

export interface TrackCaptureOptions {
  room: Room;
  producer: types.Producer;
  userId: string;
  source: MediaSource;
  dir: string;
  ports: PortPool;
  /** Called once when the capture ended by itself (its producer closed, or the room went away). */
  onEnded: (capture: TrackCapture) => void;
}

/**
 * One recorded producer: a consumer on a plain transport sending RTP to an FFmpeg that writes copy-codec
 * Matroska segments. Timestamps in the segments are wall-clock arrival times (FFmpeg's
 * `use_wallclock_as_timestamps` with `-copyts`), so every segment carries its own position on the class's
 * timeline and tracks of different producers line up without any other bookkeeping. An FFmpeg that dies
 * is restarted on the same ports (a new run, new segments); earlier segments stay.
 */
export class TrackCapture implements CapturedTrack {
  readonly userId: string;
  readonly source: MediaSource;
  readonly kind: types.MediaKind;
  readonly producerId: string;
  readonly dir: string;
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  readonly #options: TrackCaptureOptions;
  #ports: PortPair | undefined;
  #transport: types.PlainTransport | undefined;
  #consumer: types.Consumer | undefined;
  #ffmpeg: FfmpegProcess | undefined;
  #runs = 0;
  #keyFrameTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #restartsInARow = 0;
  #stopping: Promise<void> | undefined;

  private constructor(options: TrackCaptureOptions) {
    this.#options = options;
    this.userId = options.userId;
    this.source = options.source;
    this.kind = options.producer.kind;
    this.producerId = options.producer.id;
    this.dir = options.dir;
  }

  /** Sets up transport, consumer and FFmpeg; resolves once RTP flows into a listening FFmpeg. */
  static async start(options: TrackCaptureOptions): Promise<TrackCapture> {
    const capture = new TrackCapture(options);
    try {
      await capture.#start();
    } catch (error) {
      await capture.stop();
      throw error;
    }
    return capture;
  }

  /** Number of FFmpeg runs so far (more than one after a crash). */
  get runs(): number {
    return this.#runs;
  }

  /** The process id of the FFmpeg writing now, if any. */
  get ffmpegPid(): number | undefined {
    return this.#ffmpeg?.child.pid;
  }

  get ended(): boolean {
    return this.#stopping !== undefined;
  }

  /** Ends the capture: FFmpeg closes its last segment, the transport closes, the ports go back. Safe twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #start(): Promise<void> {
    const { room, producer } = this.#options;
    await mkdir(this.dir, { recursive: true });
    this.#ports = await this.#options.ports.acquire();
    const home = await room.routerForReceiving();
    await room.bringProducerTo(producer.id, home);
    const listenInfo = room.slotOf(home).listenInfos.find((info) => info.protocol === "udp");
    if (!listenInfo) throw new Error("No UDP listen info on this worker");
    const transport = await home.router.createPlainTransport({ listenInfo, rtcpMux: false, comedia: false, appData: { recorder: true } });
    this.#transport = transport;
    transport.once("routerclose", () => this.#endedBySfu("router closed"));
    const codecs = home.router.rtpCapabilities.codecs?.filter((codec) => codec.kind === producer.kind && !/\/(rtx|red|ulpfec)$/i.test(codec.mimeType)) ?? [];
    const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: { codecs, headerExtensions: [] }, paused: true });
    this.#consumer = consumer;
    consumer.once("producerclose", () => this.#endedBySfu("producer closed"));
    consumer.once("transportclose", () => this.#endedBySfu("transport closed"));
    // A paused (muted) producer sends nothing; the picture must be decodable again as soon as it resumes.
    consumer.on("producerresume", () => this.#requestKeyFrame());
    await transport.connect({ ip: "127.0.0.1", port: this.#ports.rtp, rtcpPort: this.#ports.rtcp });
    await writeFile(this.#sdpPath(), recorderSdp({ kind: consumer.kind, rtpParameters: consumer.rtpParameters, rtpPort: this.#ports.rtp, rtcpPort: this.#ports.rtcp }));
    await this.#startFfmpeg();
    await consumer.resume();
    this.#requestKeyFrame();
    if (consumer.kind === "video") this.#keyFrameTimer = setInterval(() => this.#requestKeyFrame(), KEY_FRAME_INTERVAL_MS);
    log("info", "recording_track_started", { producerId: producer.id, userId: this.userId, source: this.source, rtpPort: this.#ports.rtp });
  }

  #sdpPath(): string {
    return path.join(this.dir, "input.sdp");
  }

  /** Starts FFmpeg run n and waits until it listens (RTP sent before that would be lost). */
  async #startFfmpeg(): Promise<void> {
    const ports = this.#ports!;
    const runIndex = this.#runs++;
    const ffmpeg = spawnFfmpeg([
      "-protocol_whitelist", "file,udp,rtp",
      "-use_wallclock_as_timestamps", "1",
      "-i", this.#sdpPath(),
      "-map", "0", "-c", "copy", "-copyts",
      "-f", "segment", "-segment_format", "matroska",
      // With wall-clock timestamps the segment muxer's own clock would cut at every key frame; cut on the clock instead.
      "-segment_atclocktime", "1", "-segment_time", String(SEGMENT_SECONDS),
      "-segment_list", path.join(this.dir, `run-${runIndex}.csv`), "-segment_list_type", "csv",
      "-reset_timestamps", "0",
      path.join(this.dir, `run-${runIndex}-%05d.mkv`),
    ]);
    this.#ffmpeg = ffmpeg;
    const startedAt = Date.now();
    void ffmpeg.exited.then((result) => this.#onFfmpegExit(ffmpeg, result, startedAt));
    const deadline = Date.now() + LISTEN_TIMEOUT_MS;
    while (!(await udpPortBound(ports.rtp))) {
      if (ffmpeg.child.exitCode !== null || ffmpeg.child.signalCode !== null) throw new Error(`Recorder FFmpeg exited at start: ${ffmpeg.stderrTail()}`);
      if (Date.now() > deadline) throw new Error(`Recorder FFmpeg did not listen on port ${ports.rtp} within ${LISTEN_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #onFfmpegExit(ffmpeg: FfmpegProcess, result: { code: number | null; signal: NodeJS.Signals | null }, startedAt: number): void {
    if (this.#stopping || this.#ffmpeg !== ffmpeg) return;
    log("error", "recording_ffmpeg_exited", { producerId: this.producerId, userId: this.userId, source: this.source, run: this.#runs - 1, code: result.code, signal: result.signal, stderr: ffmpeg.stderrTail() });
    // A run that lasted a while was healthy: restart at once. Quick repeated failures back off up to 10 s.
    this.#restartsInARow = Date.now() - startedAt > 30_000 ? 0 : this.#restartsInARow + 1;
    const delay = Math.min(10_000, this.#restartsInARow <= 1 ? 0 : 250 * 2 ** this.#restartsInARow);
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#startFfmpeg();
      this.#requestKeyFrame();
      log("info", "recording_ffmpeg_restarted", { producerId: this.producerId, run: this.#runs - 1 });
    } catch (error) {
      log("error", "recording_ffmpeg_restart_failed", { producerId: this.producerId, error: String(error) });
    }
  }

  #requestKeyFrame(): void {
    const consumer = this.#consumer;
    if (!consumer || consumer.closed || consumer.kind !== "video") return;
    consumer.requestKeyFrame().catch(() => undefined);
  }

  #endedBySfu(reason: string): void {
    if (this.#stopping) return;
    log("info", "recording_track_ended", { producerId: this.producerId, userId: this.userId, source: this.source, reason });
    void this.stop().then(() => this.#options.onEnded(this));
  }

  async #stop(): Promise<void> {
    this.closedAt = Date.now();
    clearInterval(this.#keyFrameTimer);
    clearTimeout(this.#restartTimer);
    // FFmpeg first, while RTP still flows, so its last segment ends cleanly with what arrived.
    if (this.#ffmpeg) await stopFfmpeg(this.#ffmpeg);
    this.#transport?.close();
    if (this.#ports) this.#options.ports.release(this.#ports);
  }
}
