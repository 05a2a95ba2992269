/**
 * Packaging turns one composed MP4 already in the bucket into adaptive streaming renditions, thumbnails and a
 * poster, written under the recording's prefix. Two implementations: local FFmpeg (the default) and AWS
 * MediaConvert (when its settings are present).
 */

/** One rung of the adaptive bitrate ladder. */
export interface Rendition {
  name: string;
  width: number;
  height: number;
  /** Video bits per second. */
  bitrate: number;
  /**
   * x264 preset of local packaging unless FFMPEG_X264_PRESET sets one for all: at 5 and 8.5 Mbps ultrafast
   * looks like superfast at half the CPU, while the starved 360p rung needs superfast's tools to stay sharp.
   */
  preset: "ultrafast" | "superfast";
}

/**
 * The ladder from the recording issue. Every rung is produced even when the source is smaller (the composed
 * recording is 720p), so the player always sees the same three choices; the 1080p rung is then an upscale.
 */
export const LADDER: readonly Rendition[] = [
  { name: "360p", width: 640, height: 360, bitrate: 400_000, preset: "superfast" },
  { name: "720p", width: 1280, height: 720, bitrate: 5_000_000, preset: "ultrafast" },
  { name: "1080p", width: 1920, height: 1080, bitrate: 8_500_000, preset: "ultrafast" },
];

/** AAC-LC stereo, the same for every rendition. */
export const AUDIO = { bitrate: 96_000, sampleRate: 48_000, channels: 2 } as const;

/** Seconds between key frames (and the player's switching points); segments are a multiple of it. */
export const GOP_SECONDS = 2;
/** Media segment length of HLS and DASH. */
export const SEGMENT_SECONDS = 4;

/** At most this many preview thumbnails per recording. */
export const MAX_THUMBNAILS = 100;
/** Thumbnail size in the sprite and the seek preview. */
export const THUMBNAIL_SIZE = { width: 160, height: 90 } as const;

/**
 * Seconds between thumbnails: one every 5 s, spread wider for recordings over 500 s so the 100 thumbnails
 * cover the whole recording instead of only its first minutes.
 */
export function thumbnailInterval(durationMs: number): number {
  return Math.max(5, Math.ceil(durationMs / 1000 / MAX_THUMBNAILS));
}

/** `HH:MM:SS.mmm` for WebVTT cue times. */
export function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
}

/**
 * A WebVTT thumbnail track: cue i spans [i·interval, (i+1)·interval) (the last one ends at the recording's
 * end) and names its image, `sprite.jpg#xywh=x,y,w,h` for a sprite or a plain file name.
 */
export function thumbnailsVtt(images: readonly string[], intervalSeconds: number, durationSeconds: number): string {
  const cues = images.map((image, i) => {
    const start = i * intervalSeconds;
    const end = i === images.length - 1 ? Math.max(durationSeconds, start + 0.001) : (i + 1) * intervalSeconds;
    return `${vttTime(start)} --> ${vttTime(end)}\n${image}`;
  });
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

/** What a packager is asked to do. */
export interface PackageRequest {
  recordingId: string;
  /** The composed MP4 in the bucket. */
  sourceKey: string;
  /** The same file on local disk (local packaging reads it instead of downloading it back). */
  sourceFile: string;
  durationMs: number;
  /** Folder in the bucket the outputs go under (`…/recordings/<id>/`). */
  outputPrefix: string;
  /** Packaging progress 0–100 (including uploading the outputs where the packager does that). */
  onProgress(percent: number): void;
}

/** Keys of the packaged files. A `null` HLS manifest means the packager made DASH only (DRM). */
export interface PackagedRecording {
  hlsManifestKey: string | null;
  dashManifestKey: string;
  posterKey: string;
  thumbnailsVttKey: string;
}

/** Packaging failed; `message` is meant for the recording's failure reason. */
export class PackagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PackagingError";
  }
}

/** One way of packaging a recording. */
export interface Packager {
  /** `ffmpeg` or `mediaconvert`, for logs. */
  readonly name: string;
  /**
   * Packages the recording and resolves once every output is in the bucket; rejects with
   * {@link PackagingError} otherwise. Partial outputs are the caller's to delete.
   */
  package(request: PackageRequest): Promise<PackagedRecording>;
}
