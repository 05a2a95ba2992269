import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { log } from "../log";
import { type Canvas, type ComposeInput, composedVideoCodec, composeGraph, composeRecording, DEFAULT_CANVAS } from "./compose";
import { FFMPEG, runFfmpeg } from "./ffmpeg";
import { clockSettledFor, type RunTiming } from "./run-clock";
import { listSegments } from "./segments";
import type { CapturedTrack } from "./TrackCapture";

/**
 * Length of a piece composed while recording (a whole number of 25 fps frames). The stop composes up to one
 * piece plus a few seconds with all threads (about 0.13× of it on a quiet machine): half a minute keeps that
 * well inside the 10 s to playable; a minute measured 22 s on a loaded machine.
 */
export const PIECE_SECONDS = 30;
/** A piece is looked at this long after its end at the earliest: the captures' last packets are still on their way. */
const SETTLE_SECONDS = 2;
/** A capture whose segments have not reached a piece's end this long after it has gone quiet (a mute): compose without waiting. */
const QUIET_SECONDS = 20;
/** How often the background looks for a piece to compose. */
const TICK_MS = 1000;
/** HLS segment length inside a piece (key frames come every 2 s). */
const HLS_SEGMENT_SECONDS = 4;
const SAMPLE_RATE = 48_000;
/** Bytes of one sample frame of the sound handed between pieces: s16le stereo. */
const BYTES_PER_SAMPLE = 4;
/**
 * FFmpeg's AAC encoder starts with this many samples of priming. Its HLS fMP4 output says nothing about them
 * (no edit list), so players and the join would hear everything that much (21 ms) late; the encoder is given
 * the sound from this far in instead, which puts every later sample at its own time.
 */
const AAC_PRIMING_SAMPLES = 1024;

export interface PieceOptions {
  /** Piece length (default {@link PIECE_SECONDS}); tests use shorter ones. */
  pieceSeconds?: number;
  /** Each new file of the playable form (pieces, sound segments, playlists last), once it is complete: upload it. */
  onFile?: (file: string) => Promise<void>;
  /** The master playlist, after every file it names went through `onFile`. */
  onPlayable?: (masterPlaylist: string) => Promise<void> | void;
}

export interface PieceComposerInput {
  /** The recording's captures so far (the list grows while it records). */
  tracks: () => readonly CapturedTrack[];
  userIds: readonly string[];
  startedAt: number;
  workDir: string;
  canvas?: Canvas;
  options: PieceOptions;
}

interface Piece {
  index: number;
  from: number;
  to: number;
  /** The piece's video as one fragmented MP4 (its init segment and fragments), for the joined file. */
  joined: string;
  /** HLS lines of its video fragments (after its EXT-X-MAP). */
  playlistLines: string[];
}

/**
 * Composes a recording in pieces while it is recorded, so the stop has only the tail left to compose.
 *
 * The picture of each piece is composed from the segments that reach into it (see {@link composeGraph}) into
 * H.264 fMP4 fragments stamped with their place on the recording's timeline, so a player (HLS) and the join
 * put them end to end by time. The sound is not encoded per piece: a separately encoded AAC piece starts with
 * its own encoder priming and pieces joined by duration drift by about 21 ms each. Each piece's mix is handed
 * as exact PCM (its sample count follows the timeline) to one AAC encoder that runs for the whole recording,
 * so the sound is one continuous stream. Background pieces use one thread for the encoder and the filters,
 * so composing stays a fraction of a core while the class goes on.
 *
 * At the stop: the tail is composed (all threads), the sound encoder finishes, the playlists are written
 * (`master.m3u8` with the picture and the sound as an audio rendition) and handed on, then the pieces and the
 * sound are joined by stream copy into one faststart MP4. If a piece fails, the recording is composed at once
 * at the stop as before (and there is no playable form before it).
 */
export class PieceComposer {
  readonly #input: PieceComposerInput;
  readonly #pieceSeconds: number;
  readonly #dir: string;
  readonly #pieces: Piece[] = [];
  readonly #handedOver = new Set<string>();
  #audio: AudioEncoder | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();
  #composing = false;
  #broken: unknown;
  #finishing = false;

  constructor(input: PieceComposerInput) {
    this.#input = input;
    this.#pieceSeconds = input.options.pieceSeconds ?? PIECE_SECONDS;
    this.#dir = path.join(input.workDir, "pieces");
  }

  /** Starts looking for closed stretches to compose. */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** No new piece is started from now on: the recording is stopping. */
  halt(): void {
    this.#finishing = true;
    clearInterval(this.#timer);
  }

  /**
   * Composes the rest up to `endedAt` (wall-clock ms), hands on the playable form and joins everything into
   * `output`. Call once, after every capture has stopped.
   */
  async finish(endedAt: number, output: string): Promise<void> {
    this.halt();
    await this.#busy;
    const compose: ComposeInput = { ...this.#composeInput(endedAt), output };
    if (this.#broken === undefined) {
      try {
        await this.#finishInPieces(endedAt, output);
        return;
      } catch (error) {
        this.#broken = error;
      }
    }
    log("warn", "recording_pieces_abandoned", { workDir: this.#input.workDir, error: String(this.#broken) });
    this.#audio?.kill();
    await composeRecording(compose);
  }

  async #finishInPieces(endedAt: number, output: string): Promise<void> {
    const duration = Math.max(0.1, (endedAt - this.#input.startedAt) / 1000);
    const from = this.#pieces.at(-1)?.to ?? 0;
    // A tail shorter than a frame has nothing to show (a piece ended at the very moment of the stop).
    if (duration - from >= 1 / (this.#input.canvas ?? DEFAULT_CANVAS).fps) await this.#composePiece(from, duration, endedAt, { threads: undefined });
    const audio = await this.#audioEncoder();
    await audio.end();
    await this.#handOverSound();
    const master = await this.#writePlaylists(duration);
    await this.#input.options.onPlayable?.(master);

    const videoList = path.join(this.#dir, "video.ffconcat");
    const lines = ["ffconcat version 1.0"];
    for (const piece of this.#pieces) lines.push(`file '${piece.joined.replaceAll("'", "'\\''")}'`, `duration ${(piece.to - piece.from).toFixed(6)}`);
    await writeFile(videoList, `${lines.join("\n")}\n`);
    const sound = path.join(this.#dir, "audio.mp4");
    await concatFiles([path.join(this.#dir, "audio-init.mp4"), ...(await audioSegments(this.#dir)).map((name) => path.join(this.#dir, name))], sound);
    await mkdir(path.dirname(output), { recursive: true });
    await runFfmpeg([
      "-y",
      "-f",
      "concat",
      "-safe",
      "0",
      "-i",
      videoList,
      "-i",
      sound,
      "-map",
      "0:v",
      "-map",
      "1:a",
      "-c",
      "copy",
      "-t",
      duration.toFixed(3),
      "-movflags",
      "+faststart",
      output,
    ]);
  }

  /** Stops background work without composing (the recording failed or was dropped). Safe twice. */
  close(): void {
    clearInterval(this.#timer);
    this.#audio?.kill();
  }

  #tick(): void {
    if (this.#composing || this.#finishing || this.#broken !== undefined) return;
    this.#composing = true;
    this.#busy = this.#composeReadyPiece()
      .catch((error: unknown) => {
        this.#broken = error;
        this.#audio?.kill();
        log("error", "recording_piece_failed", { workDir: this.#input.workDir, error: String(error) });
      })
      .finally(() => {
        this.#composing = false;
      });
  }

  /** Composes the next piece if every capture has gone past its end (or has gone quiet). */
  async #composeReadyPiece(): Promise<void> {
    const from = this.#pieces.at(-1)?.to ?? 0;
    const to = from + this.#pieceSeconds;
    const startedAt = this.#input.startedAt;
    const now = Date.now();
    if (now < startedAt + (to + SETTLE_SECONDS) * 1000) return;
    if (now < startedAt + (to + QUIET_SECONDS) * 1000) {
      for (const track of this.#input.tracks()) {
        if (track.closedAt !== undefined) continue;
        const segments = await listSegments(track.dir).catch(() => []);
        // A capture that has not written anything yet (its first packet is on the way) may still start inside the piece.
        const reached = segments.length > 0 && Math.max(...segments.map((segment) => segment.end)) >= startedAt / 1000 + to + 0.5;
        // Its segments keep their place on the timeline once its clock has a settled anchor (see wallSecondsAt).
        if (!reached || !(await clockSettled(track.dir))) return;
      }
    }
    await this.#composePiece(from, to, startedAt + to * 1000, { threads: 1 });
    await this.#handOverSound();
  }

  #composeInput(endedAt: number): Omit<ComposeInput, "output"> {
    return {
      tracks: this.#input.tracks(),
      userIds: this.#input.userIds,
      startedAt: this.#input.startedAt,
      endedAt,
      workDir: this.#input.workDir,
      canvas: this.#input.canvas,
    };
  }

  /** Composes `[from, to)` of the timeline: its picture into HLS fragments, its sound into the one encoder. */
  async #composePiece(from: number, to: number, endedAt: number, { threads }: { threads: number | undefined }): Promise<void> {
    const index = this.#pieces.length;
    const canvas = this.#input.canvas ?? DEFAULT_CANVAS;
    const startedMs = Date.now();
    await mkdir(this.#dir, { recursive: true });
    const name = `video-${String(index).padStart(5, "0")}`;
    const playlist = path.join(this.#dir, `${name}.m3u8`);
    const pcm = path.join(this.#dir, `${name}.pcm`);
    // Sample counts follow the timeline (not each piece's length), so rounding never adds up over many pieces.
    const samples = Math.round(to * SAMPLE_RATE) - Math.round(from * SAMPLE_RATE);
    const { inputs, filters } = await composeGraph({ ...this.#composeInput(endedAt), output: "" }, { from, to }, path.join(this.#dir, name));
    filters.push(`[aout]atrim=end_sample=${samples}[apiece]`);
    const threadArgs = threads === undefined ? [] : ["-filter_complex_threads", String(threads)];
    await runFfmpeg([
      "-y",
      ...threadArgs,
      ...inputs,
      "-filter_complex",
      filters.join(";"),
      "-map",
      "[vout]",
      ...composedVideoCodec(canvas),
      ...(threads === undefined ? [] : ["-threads", String(threads)]),
      "-t",
      (to - from).toFixed(3),
      // The fragments carry their place on the recording's timeline: players and the join put them end to end by time.
      "-output_ts_offset",
      from.toFixed(3),
      ...hlsOutput("vod", `${name}-init.mp4`, path.join(this.#dir, `${name}-%03d.m4s`), playlist),
      "-map",
      "[apiece]",
      "-f",
      "s16le",
      "-ar",
      String(SAMPLE_RATE),
      "-ac",
      "2",
      pcm,
    ]);
    const lines = (await readFile(playlist, "utf8")).split("\n");
    const fragments = lines.filter((line) => line.endsWith(".m4s"));
    const playlistLines = lines.filter((line) => line.startsWith("#EXTINF") || line.endsWith(".m4s"));
    const init = path.join(this.#dir, `${name}-init.mp4`);
    const joined = path.join(this.#dir, `${name}.mp4`);
    await concatFiles([init, ...fragments.map((fragment) => path.join(this.#dir, fragment))], joined);
    for (const file of [init, ...fragments.map((fragment) => path.join(this.#dir, fragment))]) await this.#handOver(file);
    await (await this.#audioEncoder()).write(pcm);
    await rm(pcm, { force: true });
    this.#pieces.push({ index, from, to, joined, playlistLines: [`#EXT-X-MAP:URI="${name}-init.mp4"`, ...playlistLines] });
    log("info", "recording_piece_composed", {
      workDir: this.#input.workDir,
      piece: index,
      from,
      to,
      composeMs: Date.now() - startedMs,
      background: threads !== undefined,
    });
  }

  async #audioEncoder(): Promise<AudioEncoder> {
    this.#audio ??= await AudioEncoder.start(this.#dir);
    return this.#audio;
  }

  /** Hands on the sound segments the encoder has finished (those its playlist lists). */
  async #handOverSound(): Promise<void> {
    const segments = await audioSegments(this.#dir);
    if (segments.length === 0) return;
    await this.#handOver(path.join(this.#dir, "audio-init.mp4"));
    for (const segment of segments) await this.#handOver(path.join(this.#dir, segment));
  }

  async #handOver(file: string): Promise<void> {
    if (this.#handedOver.has(file)) return;
    this.#handedOver.add(file);
    await this.#input.options.onFile?.(file);
  }

  /** Writes the picture's playlist and the master playlist (the sound's is the encoder's own) and hands them on. */
  async #writePlaylists(duration: number): Promise<string> {
    const canvas = this.#input.canvas ?? DEFAULT_CANVAS;
    const video = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      `#EXT-X-TARGETDURATION:${HLS_SEGMENT_SECONDS + 1}`,
      "#EXT-X-MEDIA-SEQUENCE:0",
      "#EXT-X-PLAYLIST-TYPE:VOD",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      ...this.#pieces.flatMap((piece) => piece.playlistLines),
      "#EXT-X-ENDLIST",
    ];
    const videoPlaylist = path.join(this.#dir, "video.m3u8");
    await writeFile(videoPlaylist, `${video.join("\n")}\n`);
    const codec = await avcCodec(path.join(this.#dir, "video-00000-init.mp4"));
    const bytes = await Promise.all(this.#pieces.map((piece) => fileSize(piece.joined)));
    const bandwidth = Math.ceil((bytes.reduce((sum, size) => sum + size, 0) * 8) / duration) + 128_000;
    const master = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="sound",NAME="Sound",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"',
      `#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth},CODECS="${codec},mp4a.40.2",RESOLUTION=${canvas.width}x${canvas.height},FRAME-RATE=${canvas.fps},AUDIO="sound"`,
      "video.m3u8",
    ];
    const masterPlaylist = path.join(this.#dir, "master.m3u8");
    await writeFile(masterPlaylist, `${master.join("\n")}\n`);
    await this.#handOver(path.join(this.#dir, "audio.m3u8"));
    await this.#handOver(videoPlaylist);
    return masterPlaylist;
  }
}

/**
 * The one AAC encoder of a recording's sound: PCM in on its standard input, piece after piece, out as HLS
 * fMP4 segments with its playlist (`audio.m3u8`), written as they close.
 */
class AudioEncoder {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #tail = "";
  #skip = AAC_PRIMING_SAMPLES * BYTES_PER_SAMPLE;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#tail = (this.#tail + chunk.toString()).slice(-2000);
    });
    // A write after the encoder died fails on its own; this keeps the pipe's error from being unhandled.
    child.stdin?.on("error", () => undefined);
    this.#exited = new Promise((resolve) => {
      child.once("error", () => resolve(-1));
      child.once("exit", (code) => resolve(code));
    });
  }

  static async start(dir: string): Promise<AudioEncoder> {
    await mkdir(dir, { recursive: true });
    const child = spawn(
      FFMPEG,
      [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-f",
        "s16le",
        "-ar",
        String(SAMPLE_RATE),
        "-ac",
        "2",
        "-i",
        "pipe:0",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        ...hlsOutput("event", "audio-init.mp4", path.join(dir, "audio-%05d.m4s"), path.join(dir, "audio.m3u8")),
      ],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    return new AudioEncoder(child);
  }

  /** Feeds one piece's sound (s16le stereo 48 kHz). */
  async write(pcm: string): Promise<void> {
    const stdin = this.#child.stdin;
    if (!stdin || stdin.destroyed || this.#child.exitCode !== null) throw new Error(`The sound encoder has stopped: ${this.#tail.trim()}`);
    for await (const read of createReadStream(pcm)) {
      const chunk = (read as Buffer).subarray(Math.min(this.#skip, (read as Buffer).length));
      this.#skip -= (read as Buffer).length - chunk.length;
      if (chunk.length === 0) continue;
      if (!stdin.write(chunk)) await Promise.race([once(stdin, "drain"), this.#exited]);
      if (this.#child.exitCode !== null) throw new Error(`The sound encoder has stopped: ${this.#tail.trim()}`);
    }
  }

  /** Ends the sound and waits for the encoder to write its last segment and close its playlist. */
  async end(): Promise<void> {
    this.#child.stdin?.end();
    const code = await this.#exited;
    if (code !== 0) throw new Error(`The sound encoder failed (${code}): ${this.#tail.trim()}`);
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill("SIGKILL");
  }
}

/** Whether a capture's current run (earlier runs get no new anchors) has the settled anchors its early segments need. */
async function clockSettled(dir: string): Promise<boolean> {
  const runs = (await readdir(dir)).map((name) => /^run-(\d+)\.json$/.exec(name)?.[1]).filter((run): run is string => run !== undefined);
  if (runs.length === 0) return true;
  const latest = Math.max(...runs.map(Number));
  const timing = await readFile(path.join(dir, `run-${latest}.json`), "utf8").then(
    (text) => JSON.parse(text) as RunTiming,
    () => undefined,
  );
  return timing === undefined || clockSettledFor(timing);
}

/** The sound segments the encoder's playlist lists (complete ones), in order. */
async function audioSegments(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, "audio.m3u8"), "utf8").catch(() => "");
  return text.split("\n").filter((line) => line.endsWith(".m4s"));
}

async function concatFiles(files: readonly string[], output: string): Promise<void> {
  const out = await open(output, "w");
  try {
    for (const file of files) for await (const chunk of createReadStream(file)) await out.write(chunk as Buffer);
  } finally {
    await out.close();
  }
}

async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

/** The RFC 6381 codec of the H.264 stream in an init segment (`avc1.PPCCLL` from its avcC box). */
async function avcCodec(init: string): Promise<string> {
  const bytes = await readFile(init);
  const at = bytes.indexOf("avcC");
  if (at < 0 || at + 8 > bytes.length) return "avc1.42c01f";
  const hex = (value: number) => value.toString(16).padStart(2, "0");
  return `avc1.${hex(bytes[at + 5]!)}${hex(bytes[at + 6]!)}${hex(bytes[at + 7]!)}`;
}

/** FFmpeg's output options for HLS in fMP4 segments of {@link HLS_SEGMENT_SECONDS}: a piece's picture, or the sound. */
function hlsOutput(playlistType: "vod" | "event", initName: string, segmentPattern: string, playlist: string): string[] {
  return [
    "-f",
    "hls",
    "-hls_time",
    String(HLS_SEGMENT_SECONDS),
    "-hls_segment_type",
    "fmp4",
    "-hls_playlist_type",
    playlistType,
    "-hls_fmp4_init_filename",
    initName,
    "-hls_segment_filename",
    segmentPattern,
    playlist,
  ];
}
