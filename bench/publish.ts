/**
 * Recording publishing benchmark (prints figures; not a test).
 *
 *   npx tsx bench/publish.ts              # a 60-second lecture-like recording
 *   npx tsx bench/publish.ts 300          # another length in seconds
 *   FFMPEG_X264_PRESET=veryfast npx tsx bench/publish.ts
 *
 * Makes a composed-like MP4 (1280×720 25 fps slide picture with a moving camera inset, a tone; H.264/AAC
 * faststart, like the recorder's output), starts the local S3 store of `npm start` on 127.0.0.1:8885 in a
 * temporary directory, and publishes the file with local FFmpeg packaging, measuring from the call (the moment
 * the recorder hands over the composed file):
 *   - first playable file: the source MP4 stored (faststart, so a browser can play it progressively);
 *   - full ladder: ready, every HLS/DASH rendition, thumbnail, sprite, WebVTT track and poster stored;
 * each also as a ratio of the recording's length (issue 5's target for the full ladder: ≤ 0.5×).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../scripts/s3-local";
import { X264_PRESETS, type X264Preset } from "../sfu-node/src/storage/config";
import { createPublisher } from "../sfu-node/src/storage/publish";

const SECONDS = Number(process.argv[2] ?? 60);
const S3_PORT = 8885;
const BUCKET = "insp-live-recordings";
const preset = process.env.FFMPEG_X264_PRESET as X264Preset | undefined;
if (preset !== undefined && !X264_PRESETS.includes(preset)) throw new Error(`FFMPEG_X264_PRESET must be one of ${X264_PRESETS.join(", ")}`);
if (!(SECONDS > 0)) throw new Error("the length in seconds must be a positive number");

const work = mkdtempSync(path.join(os.tmpdir(), "insp-publish-bench-"));
const source = path.join(work, "composed.mp4");
console.log(`making a ${SECONDS} s composed-like recording…`);
execFileSync("ffmpeg", [
  "-hide_banner",
  "-loglevel",
  "error",
  "-y",
  "-f",
  "lavfi",
  "-i",
  "smptehdbars=size=1280x720:rate=25",
  "-f",
  "lavfi",
  "-i",
  "testsrc2=size=320x180:rate=25",
  "-f",
  "lavfi",
  "-i",
  "sine=frequency=440:sample_rate=48000",
  "-filter_complex",
  "[0:v][1:v]overlay=W-w-20:H-h-20[v]",
  "-map",
  "[v]",
  "-map",
  "2:a",
  "-t",
  String(SECONDS),
  "-c:v",
  "libx264",
  "-preset",
  "veryfast",
  "-pix_fmt",
  "yuv420p",
  "-c:a",
  "aac",
  "-movflags",
  "+faststart",
  source,
]);

const s3 = await startLocalS3({ port: S3_PORT, directory: path.join(work, "s3"), bucket: BUCKET, origins: ["http://127.0.0.1:8787"] });
const publisher = createPublisher({
  s3: { endpoint: s3.endpoint, region: "us-east-1", bucket: BUCKET, credentials: { ...LOCAL_S3_CREDENTIALS }, publicUrl: `${s3.endpoint}/${BUCKET}` },
  mediaConvert: undefined,
  ffmpegPreset: preset,
});
try {
  const started = performance.now();
  let sourceStoredAt: number | undefined;
  await publisher.publishRecording({
    classId: "bench",
    recordingId: `bench_${Date.now()}`,
    file: source,
    durationMs: SECONDS * 1000,
    report: (status) => {
      if (status === "packaging" && sourceStoredAt === undefined) sourceStoredAt = performance.now();
    },
  });
  const readyAt = performance.now();
  const firstPlayable = ((sourceStoredAt ?? readyAt) - started) / 1000;
  const fullLadder = (readyAt - started) / 1000;
  console.log(
    `recording            ${SECONDS} s, x264 preset ${preset ?? "per rung"}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end`,
  );
  console.log(`first playable file  ${firstPlayable.toFixed(2)} s after hand-over (${(firstPlayable / SECONDS).toFixed(3)}× the length)`);
  console.log(`full ladder (ready)  ${fullLadder.toFixed(2)} s after hand-over (${(fullLadder / SECONDS).toFixed(3)}× the length; target ≤ 0.5×)`);
} finally {
  publisher.close();
  await s3.close();
  rmSync(work, { recursive: true, force: true });
}
