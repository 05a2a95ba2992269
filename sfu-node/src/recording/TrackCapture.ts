import dgram from "node:dgram";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { types } from "mediasoup";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { log } from "../log";
import type { Room } from "../Room";
import { type FfmpegProcess, spawnFfmpeg, stopFfmpeg, udpPortBound } from "./ffmpeg";
import type { PortBlock, PortPool } from "./port-pool";
import { writeTrackDescription } from "./recovery";
import { parseSenderReports, RunClock } from "./run-clock";
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
  /** Holds `run-<n>-<index>.mkv` segments, `run-<n>.csv` segment lists, `run-<n>.json` run timings and `track.json`. */
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
}

/**
 * One recorded producer: a consumer on a plain transport sending RTP to an FFmpeg that writes copy-codec
 * Matroska segments, timestamped from the RTP timestamps (so jitter and bursts on the way do not bend the
 * timeline). The consumer's RTCP goes to the node instead, which keeps each run's wall-clock anchors (see
 * {@link RunClock}). An FFmpeg that dies is restarted on the same ports (a new run, new segments); earlier
 * segments stay.
 */
export class TrackCapture implements CapturedTrack {
  readonly userId: string;
  readonly source: MediaSource;
  readonly kind: types.MediaKind;
  readonly producerId: string;
  readonly dir: string;
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  /** Wall clock (ms) when the first packet went to FFmpeg; undefined while nothing has come. */
  firstPacketAt: number | undefined;
  readonly #options: TrackCaptureOptions;
  #ports: PortBlock | undefined;
  #transport: types.PlainTransport | undefined;
  #consumer: types.Consumer | undefined;
  #ffmpeg: FfmpegProcess | undefined;
  #reports: dgram.Socket | undefined;
  #clock: RunClock | undefined;
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
    // What a node restarted after a crash needs to compose this track from the directory alone (recovery.ts).
    await writeTrackDescription(this.dir, { userId: this.userId, source: this.source, kind: this.kind, producerId: this.producerId, openedAt: this.openedAt });
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
    // Counted like a participant's consumer: a producer piped here from another node stays while it is recorded.
    room.emit("consumer", consumer);
    consumer.once("producerclose", () => this.#endedBySfu("producer closed"));
    consumer.once("transportclose", () => this.#endedBySfu("transport closed"));
    // A paused (muted) producer sends nothing; the picture must be decodable again as soon as it resumes.
    consumer.on("producerresume", () => this.#requestKeyFrame());
    this.#reports = await this.#listenForReports(this.#ports.reports);
    await transport.connect({ ip: "127.0.0.1", port: this.#ports.rtp, rtcpPort: this.#ports.reports });
    consumer.on("trace", (trace) => {
      if (trace.direction !== "out" || (trace.type !== "rtp" && trace.type !== "keyframe")) return;
      const timestamp = (trace.info as { rtpPacket?: { timestamp?: number } } | undefined)?.rtpPacket?.timestamp;
      const clock = this.#clock;
      if (timestamp === undefined || !clock || clock.hasFirstPacket) return;
      this.firstPacketAt ??= Date.now();
      void clock
        .firstPacket(timestamp, Date.now())
        .catch((error: unknown) => log("error", "recording_timing_write_failed", { producerId: this.producerId, error: String(error) }));
      consumer.enableTraceEvent([]).catch(() => undefined);
    });
    await writeFile(
      this.#sdpPath(),
      recorderSdp({ kind: consumer.kind, rtpParameters: consumer.rtpParameters, rtpPort: this.#ports.rtp, rtcpPort: this.#ports.rtcp }),
    );
    await this.#startRun();
    if (consumer.kind === "video") this.#keyFrameTimer = setInterval(() => this.#requestKeyFrame(), KEY_FRAME_INTERVAL_MS);
    log("info", "recording_track_started", { producerId: producer.id, userId: this.userId, source: this.source, rtpPort: this.#ports.rtp });
  }

  #sdpPath(): string {
    return path.join(this.dir, "input.sdp");
  }

  /**
   * Starts the next FFmpeg run with the consumer held paused, so the run's first packet is one mediasoup
   * sends after FFmpeg listens (for video a key frame: a resumed consumer waits for one) and its RTP
   * timestamp is known from the consumer's trace.
   */
  async #startRun(): Promise<void> {
    const consumer = this.#consumer!;
    await consumer.pause();
    await this.#startFfmpeg();
    await consumer.enableTraceEvent(["rtp", "keyframe"]);
    await consumer.resume();
    this.#requestKeyFrame();
  }

  /** Starts FFmpeg run n and waits until it listens (RTP sent before that would be lost). */
  async #startFfmpeg(): Promise<void> {
    const ports = this.#ports!;
    const runIndex = this.#runs++;
    this.#clock = new RunClock(path.join(this.dir, `run-${runIndex}.json`), this.#consumer!.rtpParameters.codecs[0]!.clockRate);
    const ffmpeg = spawnFfmpeg([
      "-protocol_whitelist",
      "file,udp,rtp",
      // Nothing is written while FFmpeg probes (5 s by default); the first packet is a key frame that says all it needs.
      "-analyzeduration",
      "1000000",
      "-probesize",
      "500000",
      // Nor until it has seen 20 frames to guess a frame rate, which is not needed (-copyts keeps each frame's own
      // time): the board sends one frame a second while nothing changes, so a still slide was never written.
      "-fpsprobesize",
      "0",
      "-i",
      this.#sdpPath(),
      "-map",
      "0",
      "-c",
      "copy",
      "-copyts",
      "-f",
      "segment",
      "-segment_format",
      "matroska",
      "-segment_time",
      String(SEGMENT_SECONDS),
      // Clusters of half a second, flushed as written: a killed FFmpeg loses about that, not the segment.
      "-segment_format_options",
      "flush_packets=1:cluster_time_limit=500",
      "-segment_list",
      path.join(this.dir, `run-${runIndex}.csv`),
      "-segment_list_type",
      "csv",
      "-reset_timestamps",
      "0",
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
    log("error", "recording_ffmpeg_exited", {
      producerId: this.producerId,
      userId: this.userId,
      source: this.source,
      run: this.#runs - 1,
      code: result.code,
      signal: result.signal,
      stderr: ffmpeg.stderrTail(),
    });
    // A run that lasted a while was healthy: restart at once. Quick repeated failures back off up to 10 s.
    this.#restartsInARow = Date.now() - startedAt > 30_000 ? 0 : this.#restartsInARow + 1;
    const delay = Math.min(10_000, this.#restartsInARow <= 1 ? 0 : 250 * 2 ** this.#restartsInARow);
    // A paused (muted) producer sends nothing to probe: start again once it resumes.
    if (this.#consumer?.producerPaused) this.#consumer.once("producerresume", () => void this.#restart());
    else this.#restartTimer = setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#startRun();
      log("info", "recording_ffmpeg_restarted", { producerId: this.producerId, run: this.#runs - 1 });
    } catch (error) {
      log("error", "recording_ffmpeg_restart_failed", { producerId: this.producerId, error: String(error) });
    }
  }

  /** mediasoup sends the consumer's RTCP here; sender reports become the current run's clock anchors. */
  async #listenForReports(port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket("udp4");
    socket.on("message", (packet) => {
      for (const report of parseSenderReports(packet)) {
        void this.#clock
          ?.senderReport(report)
          .catch((error: unknown) => log("error", "recording_timing_write_failed", { producerId: this.producerId, error: String(error) }));
      }
    });
    socket.on("error", (error) => log("warn", "recording_report_socket_error", { producerId: this.producerId, error: error.message }));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, "127.0.0.1", () => resolve());
    });
    return socket;
  }

  #requestKeyFrame(): void {
    const consumer = this.#consumer;
    if (!consumer || consumer.closed || consumer.kind !== "video") return;
    consumer.requestKeyFrame().catch(() => undefined);
  }

  #endedBySfu(reason: string): void {
    if (this.#stopping) return;
    log("info", "recording_track_ended", { producerId: this.producerId, userId: this.userId, source: this.source, reason });
    void this.stop();
  }

  async #stop(): Promise<void> {
    this.closedAt = Date.now();
    clearInterval(this.#keyFrameTimer);
    clearTimeout(this.#restartTimer);
    // FFmpeg first, while RTP still flows, so its last segment ends cleanly with what arrived.
    if (this.#ffmpeg) await stopFfmpeg(this.#ffmpeg);
    this.#transport?.close();
    this.#reports?.close();
    if (this.#ports) this.#options.ports.release(this.#ports);
  }
}
