import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from "../../scripts/s3-local";
import type { StorageConfig } from "../src/storage/config";

const run = promisify(execFile);

export const BUCKET = "insp-live-recordings";
export const APP_ORIGIN = "http://127.0.0.1:8787";

/**
 * A file like the recorder's composed output: H.264 + AAC (48 kHz stereo) MP4 with faststart, a moving test
 * picture and a tone. `bitrate` (bits/s) sets its size, so a test can force a multipart upload.
 */
export async function makeComposedLikeMp4(file: string, options: { seconds: number; width: number; height: number; bitrate?: number }): Promise<void> {
  const bitrate = options.bitrate ?? 1_000_000;
  await run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${options.width}x${options.height}:rate=25`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    String(options.seconds),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-b:v",
    String(bitrate),
    "-minrate",
    String(bitrate),
    "-maxrate",
    String(bitrate),
    "-bufsize",
    String(bitrate),
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ac",
    "2",
    "-movflags",
    "+faststart",
    file,
  ]);
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  bit_rate?: string;
  channels?: number;
}

/** ffprobe's streams and format of a file or URL (HLS playlists, DASH manifests over HTTP). */
export async function probe(input: string): Promise<{ streams: ProbedStream[]; format: { duration?: string; format_name: string } }> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-show_streams", "-show_format", "-of", "json", input], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration?: string; format_name: string } };
}

/** A local S3 in a fresh directory, and the storage settings pointing at it. */
export async function startTestS3(port: number): Promise<{ s3: LocalS3; config: StorageConfig; directory: string; close(): Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), "insp-s3-test-"));
  const s3 = await startLocalS3({ port, directory, bucket: BUCKET, origins: [APP_ORIGIN] });
  const config: StorageConfig = {
    s3: { endpoint: s3.endpoint, region: "us-east-1", bucket: BUCKET, credentials: { ...LOCAL_S3_CREDENTIALS }, publicUrl: `${s3.endpoint}/${BUCKET}` },
    mediaConvert: undefined,
    ffmpegPreset: "superfast",
  };
  return {
    s3,
    config,
    directory,
    close: async () => {
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
