/** One thumbnail of the WebVTT sprite track: the image (or a region of a sprite) shown for [start, end). */
export interface ThumbnailCue {
  start: number;
  end: number;
  /** Absolute URL of the image. */
  image: string;
  /** The region of the sprite (from a `#xywh=x,y,w,h` fragment), or null for the whole image. */
  region: { x: number; y: number; width: number; height: number } | null;
}

/** "01:02:03.500" or "02:03.500" → seconds; NaN when it is not a WebVTT timestamp. */
function parseTimestamp(text: string): number {
  const match = /^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$/.exec(text.trim());
  if (!match) return Number.NaN;
  const [, hours, minutes, seconds, millis] = match;
  return Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(seconds) + Number(millis) / 1000;
}

/**
 * Parses a thumbnails WebVTT track (each cue's text is an image URL, relative to the track, optionally with a
 * `#xywh=` sprite region). Malformed cues are skipped: a bad thumbnail must not break playback.
 */
export function parseThumbnailsVtt(text: string, trackUrl: string): ThumbnailCue[] {
  const cues: ThumbnailCue[] = [];
  for (const block of text.replace(/\r\n?/g, "\n").split(/\n{2,}/)) {
    const lines = block
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [from, to] = lines[timing]!.split("-->");
    const start = parseTimestamp(from ?? "");
    const end = parseTimestamp((to ?? "").trim().split(/\s+/)[0] ?? "");
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
    let url: URL;
    try {
      url = new URL(lines[timing + 1]!, trackUrl);
    } catch {
      continue;
    }
    const xywh = /^xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(url.hash.slice(1));
    url.hash = "";
    cues.push({
      start,
      end,
      image: url.href,
      region: xywh ? { x: Number(xywh[1]), y: Number(xywh[2]), width: Number(xywh[3]), height: Number(xywh[4]) } : null,
    });
  }
  return cues.sort((a, b) => a.start - b.start);
}

/** The cue shown at `time` seconds (the last one before it when `time` falls in a gap), or null. */
export function thumbnailAt(cues: readonly ThumbnailCue[], time: number): ThumbnailCue | null {
  let low = 0;
  let high = cues.length - 1;
  let found: ThumbnailCue | null = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const cue = cues[middle]!;
    if (cue.start <= time) {
      found = cue;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
