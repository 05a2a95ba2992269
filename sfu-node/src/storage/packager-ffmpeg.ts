import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { log } from "../log";
import {
  AUDIO,
  GOP_SECONDS,
  LADDER,
  MAX_THUMBNAILS,
  type PackagedRecording,
  type Packager,
  PackagingError,
  type PackageRequest,
  SEGMENT_SECONDS,
  THUMBNAIL_SIZE,
  thumbnailInterval,
  thumbnailsVtt,
} from "./packager";
import type { RecordingStore } from "./s3";

const execFileAsync = promisify(execFile);

const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH || "ffprobe";

/** Share of the packaging progress each step takes, measured on a 2-core machine (the ladder encode, with the thumbnails beside it, dominates). */
const STEP_SHARE = { ladder: 87, upload: 13 } as const;
const SPRITE_COLUMNS = 10;
const POSTER_SIZE = { width: 1280, height: 720 } as const;

/** What the packager needs to know about the source. */
interface SourceInfo {
  durationSeconds: number;
  hasAudio: boolean;
}

async function probeSource(file: string): Promise<SourceInfo> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(FFPROBE, ["-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json", file]));
  } catch (error) {
    throw new PackagingError(`the recording file cannot be read: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
  }
  const probe = JSON.parse(stdout) as { format?: { duration?: string }; streams?: { codec_type?: string }[] };
  const streams = probe.streams ?? [];
  if (!streams.some((stream) => stream.codec_type === "video")) throw new PackagingError("the recording file has no video stream");
  const durationSeconds = Number(probe.format?.duration);
  if (!(durationSeconds > 0)) throw new PackagingError("the recording file has no duration");
  return { durationSeconds, hasAudio: streams.some((stream) => stream.codec_type === "audio") };
}

/**
 * Runs FFmpeg to the end, turning its `-progress` output (`out_time_us=…` per update) into a fraction of
 * `durationSeconds`. Rejects with the end of FFmpeg's stderr when it fails.
 */
async function runFfmpeg(args: string[], durationSeconds: number, onFraction: (fraction: number) => void): Promise<void> {
  const child = spawn(FFMPEG, ["-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-1500);
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const match = /^out_time_us=(\d+)$/.exec(line);
    if (match) onFraction(Math.min(1, Number(match[1]) / 1e6 / durationSeconds));
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (error) => {
      stderr += error.message;
      resolve({ code: -1, signal: null });
    });
    child.once("close", (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
  });
  if (code !== 0) throw new PackagingError(`ffmpeg failed (${signal ?? `exit ${code}`}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  onFraction(1);
}

/** Scales into a `width`×`height` box keeping the aspect ratio, letterboxed, square pixels. */
function fitInto(width: number, height: number): string {
  return `scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,setsar=1`;
}

/**
 * The whole ladder in one encode: fragmented-MP4 (CMAF) segments that both the DASH manifest and the HLS
 * playlists (`-hls_playlist`) point at, so the ladder is encoded and stored once for both formats. Key frames
 * every {@link GOP_SECONDS} in every rendition, so the player can switch at any segment boundary.
 */
function ladderArguments(source: string, info: SourceInfo, outputDirectory: string, preset: string | undefined): string[] {
  const split = `[0:v]split=${LADDER.length}${LADDER.map((_, i) => `[in${i}]`).join("")}`;
  const scaled = LADDER.map((rendition, i) => `[in${i}]${fitInto(rendition.width, rendition.height)}[v${i}]`);
  const args = ["-i", source, "-filter_complex", [split, ...scaled].join(";")];
  for (const [i] of LADDER.entries()) args.push("-map", `[v${i}]`);
  if (info.hasAudio) args.push("-map", "0:a:0");
  args.push("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-sc_threshold", "0", "-force_key_frames", `expr:gte(t,n_forced*${GOP_SECONDS})`);
  LADDER.forEach((rendition, i) => {
    args.push(
      `-preset:v:${i}`,
      preset ?? rendition.preset,
      `-b:v:${i}`,
      String(rendition.bitrate),
      `-maxrate:v:${i}`,
      String(rendition.bitrate),
      `-bufsize:v:${i}`,
      String(rendition.bitrate * 2),
    );
  });
  if (info.hasAudio) args.push("-c:a", "aac", "-b:a", String(AUDIO.bitrate), "-ar", String(AUDIO.sampleRate), "-ac", String(AUDIO.channels));
  args.push(
    "-f",
    "dash",
    "-seg_duration",
    String(SEGMENT_SECONDS),
    "-use_template",
    "1",
    "-use_timeline",
    "1",
    "-hls_playlist",
    "1",
    "-hls_master_name",
    "master.m3u8",
    "-adaptation_sets",
    info.hasAudio ? "id=0,streams=v id=1,streams=a" : "id=0,streams=v",
    path.join(outputDirectory, "manifest.mpd"),
  );
  return args;
}

interface SpriteGrid {
  columns: number;
  rows: number;
}

/** Rows of {@link SPRITE_COLUMNS} (fewer columns when there are fewer thumbnails). */
function spriteGrid(thumbnails: number): SpriteGrid {
  const count = Math.max(1, thumbnails);
  return { columns: Math.min(SPRITE_COLUMNS, count), rows: Math.ceil(count / SPRITE_COLUMNS) };
}

/**
 * One frame per interval (the first at 0 s), written as numbered JPEGs and tiled into one sprite of
 * {@link SPRITE_COLUMNS} columns, in a single decode of the source.
 */
function thumbnailArguments(source: string, intervalSeconds: number, grid: SpriteGrid, outputDirectory: string): string[] {
  const { columns, rows } = grid;
  // The k-th thumbnail is the first frame at or after k·interval, so its cue time never drifts.
  const select = `select='gte(t\\,selected_n*${intervalSeconds})'`;
  return [
    "-i",
    source,
    "-filter_complex",
    `[0:v]${select},${fitInto(THUMBNAIL_SIZE.width, THUMBNAIL_SIZE.height)},split=2[each][tiles];[tiles]tile=${columns}x${rows}[sprite]`,
    "-map",
    "[each]",
    "-fps_mode",
    "passthrough",
    "-frames:v",
    String(MAX_THUMBNAILS),
    "-q:v",
    "5",
    path.join(outputDirectory, "thumb-%03d.jpg"),
    "-map",
    "[sprite]",
    "-frames:v",
    "1",
    "-q:v",
    "5",
    "-update",
    "1",
    path.join(outputDirectory, "sprite.jpg"),
  ];
}

/** Packages with FFmpeg on this machine, then uploads the outputs through the store. */
export class FfmpegPackager implements Packager {
  readonly name = "ffmpeg";

  /**
   * @param options.preset one x264 preset for every rung (default: each rung's own, see {@link LADDER});
   *   slower presets save bytes at a large CPU cost.
   * @param options.workRoot where the temporary output folder goes (default the OS temp directory).
   */
  constructor(
    private readonly store: RecordingStore,
    private readonly options: { preset?: string; workRoot?: string } = {},
  ) {}

  async package(request: PackageRequest): Promise<PackagedRecording> {
    const source = request.sourceFile;
    const info = await probeSource(source);
    const workDirectory = await mkdtemp(path.join(this.options.workRoot ?? os.tmpdir(), `insp-package-${request.recordingId}-`));
    let reported = 0;
    const progress = (base: number, share: number) => (fraction: number) => {
      const percent = Math.floor(base + share * fraction);
      if (percent > reported) {
        reported = percent;
        request.onProgress(percent);
      }
    };
    try {
      const streamDirectory = path.join(workDirectory, "stream");
      const thumbnailsDirectory = path.join(workDirectory, "thumbnails");
      await Promise.all([mkdir(streamDirectory), mkdir(thumbnailsDirectory)]);

      // The ladder keeps both cores busy only part of the time (decoding and scaling run on one thread), so the
      // thumbnails and the poster are taken from the source alongside it.
      const interval = thumbnailInterval(info.durationSeconds * 1000);
      const expected = Math.min(MAX_THUMBNAILS, Math.ceil(info.durationSeconds / interval));
      const grid = spriteGrid(expected);
      // A tenth of the way in (at most a minute): the first seconds are often the teacher setting up.
      const posterAt = Math.min(60, info.durationSeconds / 10);
      const started = Date.now();
      const pictures = (async () => {
        await runFfmpeg(thumbnailArguments(source, interval, grid, thumbnailsDirectory), info.durationSeconds, () => {});
        await runFfmpeg(
          [
            "-ss",
            posterAt.toFixed(3),
            "-i",
            source,
            "-vf",
            fitInto(POSTER_SIZE.width, POSTER_SIZE.height),
            "-frames:v",
            "1",
            "-q:v",
            "3",
            path.join(workDirectory, "poster.jpg"),
          ],
          1,
          () => {},
        );
      })();
      const [ladder, stills] = await Promise.allSettled([
        runFfmpeg(ladderArguments(source, info, streamDirectory, this.options.preset), info.durationSeconds, progress(0, STEP_SHARE.ladder)),
        pictures,
      ]);
      if (ladder.status === "rejected") throw ladder.reason;
      if (stills.status === "rejected") throw stills.reason;
      log("info", "storage.ladder_encoded", { recordingId: request.recordingId, seconds: info.durationSeconds, tookMs: Date.now() - started });

      const thumbnails = (await readdir(thumbnailsDirectory)).filter((name) => /^thumb-\d+\.jpg$/.test(name)).sort();
      // The sprite holds the first columns × rows thumbnails (the estimate from the probed duration).
      const cues = thumbnails.slice(0, grid.columns * grid.rows).map((_, i) => {
        const x = (i % grid.columns) * THUMBNAIL_SIZE.width;
        const y = Math.floor(i / grid.columns) * THUMBNAIL_SIZE.height;
        return `sprite.jpg#xywh=${x},${y},${THUMBNAIL_SIZE.width},${THUMBNAIL_SIZE.height}`;
      });
      if (cues.length === 0) throw new PackagingError("no thumbnail could be taken from the recording");

      const thumbnailsVttKey = `${request.outputPrefix}thumbnails/thumbnails.vtt`;
      await this.store.uploadDirectory(workDirectory, request.outputPrefix, {
        isLast: (file) => /\.(mpd|m3u8)$/.test(file),
        onProgress: progress(STEP_SHARE.ladder, STEP_SHARE.upload),
      });
      await this.store.putText(thumbnailsVttKey, thumbnailsVtt(cues, interval, info.durationSeconds));
      return {
        hlsManifestKey: `${request.outputPrefix}stream/master.m3u8`,
        dashManifestKey: `${request.outputPrefix}stream/manifest.mpd`,
        posterKey: `${request.outputPrefix}poster.jpg`,
        thumbnailsVttKey,
      };
    } finally {
      await rm(workDirectory, { recursive: true, force: true });
    }
  }
}
