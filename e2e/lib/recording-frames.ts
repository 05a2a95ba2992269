import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Frames are read back at this size: enough for a thick stroke (several pixels) and cheap to scan. */
export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 360;
/** Frames per second of the recording that are read back. */
const SAMPLE_FPS = 2;

/** One decoded picture of the recording, RGB bytes row by row. */
export interface Frame {
  /** Seconds into the recording. */
  at: number;
  rgb: Buffer;
}

/**
 * Decodes a packaged recording (its HLS or DASH manifest, as the player reads it) with FFmpeg into RGB frames of
 * FRAME_WIDTH×FRAME_HEIGHT, two a second. FFmpeg picks the ladder's largest rendition by itself.
 */
export async function readRecordingFrames(manifestUrl: string): Promise<Frame[]> {
  const { stdout } = await run(
    "ffmpeg",
    [
      "-v",
      "error",
      "-i",
      manifestUrl,
      "-map",
      "0:v:0",
      "-vf",
      `fps=${SAMPLE_FPS},scale=${FRAME_WIDTH}:${FRAME_HEIGHT}`,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "pipe:1",
    ],
    { encoding: "buffer", maxBuffer: 512 * 1024 * 1024 },
  );
  const size = FRAME_WIDTH * FRAME_HEIGHT * 3;
  const frames: Frame[] = [];
  for (let offset = 0; offset + size <= stdout.length; offset += size)
    frames.push({ at: frames.length / SAMPLE_FPS, rgb: stdout.subarray(offset, offset + size) });
  return frames;
}

export type Rgb = readonly [number, number, number];

/** The share (0…1) of pixels in a box of the frame (in frame pixels, end exclusive) for which `test` holds. */
export function shareOf(frame: Frame, box: { x1: number; y1: number; x2: number; y2: number }, test: (pixel: Rgb) => boolean): number {
  let hits = 0;
  let total = 0;
  for (let y = Math.max(0, Math.floor(box.y1)); y < Math.min(FRAME_HEIGHT, Math.ceil(box.y2)); y += 1) {
    for (let x = Math.max(0, Math.floor(box.x1)); x < Math.min(FRAME_WIDTH, Math.ceil(box.x2)); x += 1) {
      const at = (y * FRAME_WIDTH + x) * 3;
      total += 1;
      if (test([frame.rgb[at]!, frame.rgb[at + 1]!, frame.rgb[at + 2]!])) hits += 1;
    }
  }
  return total === 0 ? 0 : hits / total;
}

/** Whether the pixel is within `tolerance` of `colour` on every channel (video coding shifts colours a little). */
export function near(colour: Rgb, tolerance = 45): (pixel: Rgb) => boolean {
  return ([r, g, b]) => Math.abs(r - colour[0]) <= tolerance && Math.abs(g - colour[1]) <= tolerance && Math.abs(b - colour[2]) <= tolerance;
}

/** Writes a frame as a PNG (FFmpeg converts it), to look at what a failed check saw. */
export async function saveFrame(frame: Frame, file: string): Promise<void> {
  const convert = run("ffmpeg", [
    "-v",
    "error",
    "-y",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    `${FRAME_WIDTH}x${FRAME_HEIGHT}`,
    "-i",
    "pipe:0",
    "-frames:v",
    "1",
    file,
  ]);
  convert.child.stdin!.end(frame.rgb);
  await convert;
}
