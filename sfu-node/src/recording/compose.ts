import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { runFfmpeg } from "./ffmpeg";
import { listSegments, type Segment } from "./segments";
import type { CapturedTrack } from "./TrackCapture";

/** Size and frame rate of the composed picture. */
export interface Canvas {
  width: number;
  height: number;
  fps: number;
}

export const DEFAULT_CANVAS: Canvas = { width: 1280, height: 720, fps: 25 };

export interface ComposeInput {
  tracks: readonly CapturedTrack[];
  /** Users in recording order: the first one's camera is the main picture while no board or screen is shown. */
  userIds: readonly string[];
  /** The recording's timeline, wall-clock ms. */
  startedAt: number;
  endedAt: number;
  /** Concat lists go here. */
  workDir: string;
  output: string;
  canvas?: Canvas;
}

/** Everything one user captured from one source, across producers and FFmpeg runs. */
interface SourceGroup {
  userId: string;
  source: MediaSource;
  segments: Segment[];
  /** When that source was live, seconds from the recording's start (for the layout). */
  intervals: [number, number][];
}

/**
 * Composes the captured segments into one H.264/AAC MP4 with faststart, `endedAt - startedAt` long.
 * Every source is placed on the timeline at its segments' wall-clock starts: silence fills audio gaps and
 * the time before a late start; the last frame fills video gaps (a mute), black shows where there is no
 * video. The board (or else a shared screen) is the main picture with cameras as picture-in-picture; without
 * either the first user's camera fills the frame.
 */
export async function composeRecording(input: ComposeInput): Promise<void> {
  const canvas = input.canvas ?? DEFAULT_CANVAS;
  const durationSeconds = Math.max(0.1, (input.endedAt - input.startedAt) / 1000);
  const groups = await sourceGroups(input);
  const listDir = path.join(input.workDir, "compose");
  await mkdir(listDir, { recursive: true });

  const inputs: string[] = [];
  const filters: string[] = [`color=c=black:s=${canvas.width}x${canvas.height}:r=${canvas.fps}:d=${durationSeconds.toFixed(3)},format=yuv420p[base0]`];
  const audioLabels: string[] = [];
  const offsetOf = (group: SourceGroup) => Math.max(0, group.segments[0]!.start - input.startedAt / 1000);

  for (const [index, group] of groups.entries()) {
    const list = path.join(listDir, `${index}-${safeName(group.userId)}-${group.source}.ffconcat`);
    await writeFile(list, concatList(group.segments));
    if (group.source !== "audio") inputs.push("-reinit_filter", "0");
    inputs.push("-f", "concat", "-safe", "0", "-i", list);
    const setpts = `PTS-STARTPTS+${offsetOf(group).toFixed(3)}/TB`;
    if (group.source === "audio") {
      // Browsers send Opus with DTX: no packets through silence, so the audio's timestamps jump (by hundreds of
      // ms, or by one to three 20 ms packets just before speech). aresample fills a jump with silence only when
      // it is at least `min_hard_comp` long (default 100 ms): at the default, the sound after a short jump slid
      // earlier by the jump. 10 ms is under one Opus packet, so every missing packet is filled.
      filters.push(
        `[${index}:a]asetpts=${setpts},aresample=48000:async=1:min_hard_comp=0.01:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo[a${index}]`,
      );
      audioLabels.push(`[a${index}]`);
    } else {
      // The last picture stays up until the source ended (a sender that stalls, or a mute at the very end).
      const lastEnd = Math.max(...group.segments.map((segment) => segment.end)) - input.startedAt / 1000;
      const hold = Math.max(0, Math.max(...group.intervals.map(([, to]) => to)) - lastEnd);
      filters.push(`[${index}:v]setpts=${setpts},fps=${canvas.fps},tpad=stop_mode=clone:stop_duration=${hold.toFixed(3)},format=yuv420p[v${index}]`);
    }
  }

  // The board (slide or screen with its annotations) is laid over the screen share, so while both exist the
  // recording shows what students saw on the board; the plain screen shows while only it is shared.
  const presentations = groups
    .map((group, index) => ({ group, index }))
    .filter(({ group }) => group.source === "screen" || group.source === "board")
    .sort((a, b) => Number(a.group.source === "board") - Number(b.group.source === "board"));
  const cameras = groups
    .map((group, index) => ({ group, index }))
    .filter(({ group }) => group.source === "video")
    .sort((a, b) => rank(input.userIds, a.group.userId) - rank(input.userIds, b.group.userId));
  const presentationActive = activeExpression(presentations.flatMap(({ group }) => group.intervals));
  const main = `scale=${canvas.width}:${canvas.height}:force_original_aspect_ratio=decrease,pad=${canvas.width}:${canvas.height}:(ow-iw)/2:(oh-ih)/2,setsar=1`;
  const pipWidth = even(canvas.width / 4);
  const pipHeight = even(canvas.height / 4);
  const margin = even(canvas.height / 40);
  const pip = `scale=${pipWidth}:${pipHeight}:force_original_aspect_ratio=decrease,setsar=1`;

  let layer = 0;
  // format=yuv420: every layer is yuv420p already; `auto` blends in a wider format and costs half the compose time.
  const overlay = (label: string, options: string) => {
    filters.push(`[base${layer}][${label}]overlay=${options}:eof_action=pass:format=yuv420[base${layer + 1}]`);
    layer += 1;
  };
  const [mainCamera, ...otherCameras] = cameras;
  if (mainCamera) {
    filters.push(`[v${mainCamera.index}]split=2[cm${mainCamera.index}][cp${mainCamera.index}]`);
    filters.push(`[cm${mainCamera.index}]${main}[cmain]`);
    overlay("cmain", `x=0:y=0:enable='eq(${presentationActive},0)'`);
  }
  for (const { group, index } of presentations) {
    filters.push(`[v${index}]${main}[present${index}]`);
    overlay(`present${index}`, `x=0:y=0:enable='gt(${activeExpression(group.intervals)},0)'`);
  }
  const pips = [
    ...(mainCamera ? [{ label: `cp${mainCamera.index}`, onlyWithPresentation: true }] : []),
    ...otherCameras.map(({ index }) => ({ label: `v${index}`, onlyWithPresentation: false })),
  ];
  for (const [slot, { label, onlyWithPresentation }] of pips.entries()) {
    filters.push(`[${label}]${pip}[pip${slot}]`);
    const y = `main_h-overlay_h-${margin + slot * (pipHeight + margin)}`;
    overlay(`pip${slot}`, `x=main_w-overlay_w-${margin}:y=${y}${onlyWithPresentation ? `:enable='gt(${presentationActive},0)'` : ""}`);
  }
  filters.push(`[base${layer}]null[vout]`);

  if (audioLabels.length === 0) filters.push(`anullsrc=r=48000:cl=stereo[aout]`);
  else if (audioLabels.length === 1) filters.push(`${audioLabels[0]}apad[aout]`);
  else filters.push(`${audioLabels.join("")}amix=inputs=${audioLabels.length}:normalize=0:duration=longest,apad[aout]`);

  await mkdir(path.dirname(input.output), { recursive: true });
  await runFfmpeg([
    "-y",
    ...inputs,
    "-filter_complex",
    filters.join(";"),
    "-map",
    "[vout]",
    "-map",
    "[aout]",
    // ultrafast: the composed file is the first thing students can watch, so it must be ready seconds after the
    // stop; the quality target (crf) stays, the file is larger than a slower preset's.
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-crf",
    "22",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(canvas.fps * 2),
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ar",
    "48000",
    "-t",
    durationSeconds.toFixed(3),
    "-movflags",
    "+faststart",
    input.output,
  ]);
}

async function sourceGroups(input: ComposeInput): Promise<SourceGroup[]> {
  const groups = new Map<string, SourceGroup>();
  for (const track of input.tracks) {
    const key = `${track.userId}\u0000${track.source}`;
    let group = groups.get(key);
    if (!group) {
      group = { userId: track.userId, source: track.source, segments: [], intervals: [] };
      groups.set(key, group);
    }
    const segments = await listSegments(track.dir);
    if (segments.length === 0) continue;
    group.segments.push(...segments);
    // The layout follows the pictures actually received, not the producer's existence (no black while the first key frame comes).
    group.intervals.push([Math.max(0, segments[0]!.start - input.startedAt / 1000), ((track.closedAt ?? input.endedAt) - input.startedAt) / 1000]);
  }
  for (const group of groups.values()) group.segments.sort((a, b) => a.start - b.start);
  return [...groups.values()].filter((group) => group.segments.length > 0);
}

/**
 * An ffconcat list that keeps the gaps: each file's `duration` runs to the next file's start, so the
 * concat demuxer puts every segment at its own offset from the first.
 */
function concatList(segments: readonly Segment[]): string {
  const lines = ["ffconcat version 1.0"];
  for (const [index, segment] of segments.entries()) {
    lines.push(`file '${segment.file.replaceAll("'", "'\\''")}'`);
    const next = segments[index + 1];
    if (next) lines.push(`duration ${Math.max(0.001, next.start - segment.start).toFixed(6)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** An expression of `t` that is positive inside any of `intervals` (seconds) and 0 outside. */
function activeExpression(intervals: readonly [number, number][]): string {
  if (intervals.length === 0) return "0";
  return intervals.map(([from, to]) => `between(t\\,${from.toFixed(3)}\\,${to.toFixed(3)})`).join("+");
}

function rank(userIds: readonly string[], userId: string): number {
  const index = userIds.indexOf(userId);
  return index === -1 ? userIds.length : index;
}

function even(value: number): number {
  return Math.max(2, 2 * Math.round(value / 2));
}

function safeName(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
}
