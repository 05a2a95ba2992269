import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { probeFormat } from "./ffmpeg";
import { type RunTiming, wallSecondsAt } from "./run-clock";

/** One segment file and where it sits on the wall clock. */
export interface Segment {
  readonly file: string;
  /** Wall-clock seconds (Unix epoch) of its first packet. */
  readonly start: number;
  /** Wall-clock seconds of its end (last packet plus its duration). */
  readonly end: number;
}

const SEGMENT_NAME = /^run-(\d+)-(\d+)\.mkv$/;

/**
 * The readable segments in a track's directory, in time order, placed on the wall clock by their run's
 * timing. A segment's media time comes from FFmpeg's segment list, or from ffprobe when the list does not
 * name it (a killed FFmpeg never lists its last segment). Empty or unreadable files (a segment opened just
 * before FFmpeg died) and runs that never got a packet are left out.
 */
export async function listSegments(dir: string): Promise<Segment[]> {
  const names = await readdir(dir);
  const runs = new Map<string, Promise<{ timing: RunTiming | undefined; listed: Map<string, ListEntry> }>>();
  const run = (index: string) => {
    let loaded = runs.get(index);
    if (!loaded) {
      loaded = Promise.all([runTiming(path.join(dir, `run-${index}.json`)), listedStarts(path.join(dir, `run-${index}.csv`))]).then(([timing, listed]) => ({
        timing,
        listed,
      }));
      runs.set(index, loaded);
    }
    return loaded;
  };
  const segments: Segment[] = [];
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (!match) continue;
    const file = path.join(dir, name);
    if ((await stat(file)).size === 0) continue;
    const { timing, listed } = await run(match[1]!);
    if (!timing) continue;
    const entry = listed.get(name);
    // A listed segment that ends where it starts has no packets (FFmpeg stopped before writing any).
    if (entry && entry.end <= entry.start) continue;
    const probed = entry ? undefined : await probeFormat(file);
    const media = entry ?? (probed ? { start: probed.startTime, end: probed.startTime + probed.duration } : undefined);
    if (!media) continue;
    const start = wallSecondsAt(timing, media.start);
    if (start !== undefined) segments.push({ file, start, end: start + (media.end - media.start) });
  }
  return segments.sort((a, b) => a.start - b.start);
}

function runTiming(file: string): Promise<RunTiming | undefined> {
  return readFile(file, "utf8").then(
    (text) => JSON.parse(text) as RunTiming,
    () => undefined,
  );
}

interface ListEntry {
  start: number;
  end: number;
}

/** Media start and end (seconds) of each segment FFmpeg's CSV segment list names. */
async function listedStarts(file: string): Promise<Map<string, ListEntry>> {
  const byName = new Map<string, ListEntry>();
  const text = await readFile(file, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [name, start, end] = line.split(",");
    if (name && start && end) byName.set(name, { start: Number(start), end: Number(end) });
  }
  return byName;
}
