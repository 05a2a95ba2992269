import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { probeFormat } from "./ffmpeg";

/** One segment file and where it sits on the wall clock. */
export interface Segment {
  readonly file: string;
  /** Wall-clock seconds (Unix epoch) of its first packet. */
  readonly start: number;
}

const SEGMENT_NAME = /^run-(\d+)-(\d+)\.mkv$/;

/**
 * The readable segments in a track's directory, in time order. Starts come from FFmpeg's segment lists
 * where they name them (the first entry of a list reads 0, and a killed FFmpeg never lists its last
 * segment), otherwise from ffprobe. Empty or unreadable files (a segment opened just before FFmpeg died)
 * are left out.
 */
export async function listSegments(dir: string): Promise<Segment[]> {
  const names = (await readdir(dir)).filter((name) => SEGMENT_NAME.test(name));
  const listed = await listedStarts(dir);
  const segments: Segment[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if ((await stat(file)).size === 0) continue;
    const fromList = listed.get(name);
    const start = fromList !== undefined && fromList > 0 ? fromList : (await probeFormat(file))?.startTime;
    if (start !== undefined && start > 0) segments.push({ file, start });
  }
  return segments.sort((a, b) => a.start - b.start);
}

async function listedStarts(dir: string): Promise<Map<string, number>> {
  const starts = new Map<string, number>();
  for (const name of await readdir(dir)) {
    if (!/^run-\d+\.csv$/.test(name)) continue;
    for (const line of (await readFile(path.join(dir, name), "utf8")).split("\n")) {
      const [file, start] = line.split(",");
      if (file && start) starts.set(file, Number(start));
    }
  }
  return starts;
}
