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
  /** How far its first segment starts before the recording (seconds, 0 if after): it is moved that much later. */
  lateBy: number;
  /** Every segment of the source (`segments` may be a window's share of them). */
  all: Segment[];
  /** How many of `all` come before `segments[0]`. */
  skipped: number;
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
  const { inputs, filters } = await composeGraph(input, { from: 0, to: durationSeconds }, path.join(input.workDir, "compose"));

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
    ...composedVideoCodec(canvas),
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

/** A stretch of the recording's timeline, seconds from its start. */
export interface TimelineWindow {
  from: number;
  to: number;
}

/**
 * The H.264 settings of every composed picture. Pieces composed while recording use the same ones, so
 * their joined file is what composing at once would give.
 */
export function composedVideoCodec(canvas: Canvas): string[] {
  return [
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
  ];
}

/**
 * FFmpeg inputs and a filter graph that compose `window` of the recording into `[vout]` (the picture, from
 * the window's start) and `[aout]` (the mixed sound, 48 kHz stereo, endless: the caller cuts it). Only the
 * segments that reach into the window are read, each still placed at its own wall-clock start, so a window
 * composes exactly what that stretch of a whole-recording compose shows. Concat lists are written to `listDir`.
 */
export async function composeGraph(input: ComposeInput, window: TimelineWindow, listDir: string): Promise<{ inputs: string[]; filters: string[] }> {
  const canvas = input.canvas ?? DEFAULT_CANVAS;
  const length = Math.max(0.1, window.to - window.from);
  const placed = (await sourceGroups(input))
    .map((group) => inWindow(group, input.startedAt / 1000 + window.from, input.startedAt / 1000 + window.to))
    .filter((group) => group.segments.length > 0);
  await mkdir(listDir, { recursive: true });

  const inputs: string[] = [];
  const filters: string[] = [`color=c=black:s=${canvas.width}x${canvas.height}:r=${canvas.fps}:d=${length.toFixed(3)},format=yuv420p[base0]`];
  const audioLabels: string[] = [];
  // Where the window's first segment of a source goes, in whole milliseconds from the window's start (negative
  // for one that began before the window: the filters drop what comes before 0, aresample by its first_pts and
  // the overlays by taking the latest picture at each instant). It is worked out as the concat demuxer places
  // that segment in a whole-recording compose (the first segment's offset, then the list's durations, each
  // rounded to the segments' millisecond time base), so every window puts every frame on the same tick of the
  // output frame rate as composing at once does: a millisecond apart, a frame half-way between two ticks would
  // round to the other one. A source whose first segment is placed before the recording's start is moved to 0.
  const offsetMsOf = (group: SourceGroup) => {
    const firstMs = Math.round((group.all[0]!.start - input.startedAt / 1000 + group.lateBy) * 1000);
    let beforeUs = 0;
    for (let index = 0; index < group.skipped; index++) beforeUs += Math.round(listDuration(group.all, index) * 1e6);
    return firstMs + Math.round(beforeUs / 1000) - Math.round(window.from * 1000);
  };
  const shift = (intervals: [number, number][]): [number, number][] => intervals.map(([from, to]) => [from - window.from, to - window.from]);

  for (const [index, group] of placed.entries()) {
    const list = path.join(listDir, `${index}-${safeName(group.userId)}-${group.source}.ffconcat`);
    await writeFile(list, concatList(group.segments));
    if (group.source !== "audio") inputs.push("-reinit_filter", "0");
    inputs.push("-f", "concat", "-safe", "0", "-i", list);
    const offsetMs = offsetMsOf(group);
    const setpts = `PTS-STARTPTS${offsetMs < 0 ? "-" : "+"}round(${(Math.abs(offsetMs) / 1000).toFixed(3)}/TB)`;
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
      const lastEnd = Math.max(...group.segments.map((segment) => segment.end)) - input.startedAt / 1000 - window.from;
      const hold = Math.max(0, Math.min(length, Math.max(...shift(group.intervals).map(([, to]) => to))) - lastEnd);
      filters.push(`[${index}:v]setpts=${setpts},fps=${canvas.fps},tpad=stop_mode=clone:stop_duration=${hold.toFixed(3)},format=yuv420p[v${index}]`);
    }
  }

  // The board (slide or screen with its annotations) is laid over the screen share, so while both exist the
  // recording shows what students saw on the board; the plain screen shows while only it is shared.
  const presentations = placed
    .map((group, index) => ({ group, index }))
    .filter(({ group }) => group.source === "screen" || group.source === "board")
    .sort((a, b) => Number(a.group.source === "board") - Number(b.group.source === "board"));
  const cameras = placed
    .map((group, index) => ({ group, index }))
    .filter(({ group }) => group.source === "video")
    .sort((a, b) => rank(input.userIds, a.group.userId) - rank(input.userIds, b.group.userId));
  const presentationActive = activeExpression(shift(presentations.flatMap(({ group }) => group.intervals)));
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
    overlay(`present${index}`, `x=0:y=0:enable='gt(${activeExpression(shift(group.intervals))},0)'`);
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
  return { inputs, filters };
}

/**
 * The group's segments that reach into the window `[from, to)` (wall-clock seconds): those starting before
 * its end, from the last one that started at or before its start (whose last picture may still be showing).
 */
function inWindow(group: SourceGroup, from: number, to: number): SourceGroup {
  const first = Math.max(
    0,
    group.all.findLastIndex((segment) => segment.start <= from),
  );
  return { ...group, skipped: first, segments: group.all.slice(first).filter((segment) => segment.start < to) };
}

async function sourceGroups(input: ComposeInput): Promise<SourceGroup[]> {
  const groups = new Map<string, SourceGroup>();
  for (const track of input.tracks) {
    const key = `${track.userId}\u0000${track.source}`;
    let group = groups.get(key);
    if (!group) {
      group = { userId: track.userId, source: track.source, segments: [], intervals: [], lateBy: 0, all: [], skipped: 0 };
      groups.set(key, group);
    }
    const segments = await listSegments(track.dir);
    if (segments.length === 0) continue;
    group.segments.push(...segments);
    // The layout follows the pictures actually received, not the producer's existence (no black while the first key frame comes).
    group.intervals.push([Math.max(0, segments[0]!.start - input.startedAt / 1000), ((track.closedAt ?? input.endedAt) - input.startedAt) / 1000]);
  }
  for (const group of groups.values()) {
    group.segments.sort((a, b) => a.start - b.start);
    if (group.segments[0]) group.lateBy = Math.max(0, input.startedAt / 1000 - group.segments[0].start);
    group.all = group.segments;
  }
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
    if (segments[index + 1]) lines.push(`duration ${listDuration(segments, index).toFixed(6)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The duration a concat list gives segment `index`: up to the next one's start. */
function listDuration(segments: readonly Segment[], index: number): number {
  return Math.max(0.001, segments[index + 1]!.start - segments[index]!.start);
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
