/**
 * The arithmetic of the attendance report, apart from D1 so it reads (and is tested) on its own: merging a
 * person's stretches in a session, the presence over time, and the CSV text.
 */

/** A stretch of presence, [from, to) in UTC milliseconds. */
export interface Interval {
  from: number;
  to: number;
}

/**
 * A person's attendance rows as stretches inside the session: an open row (no leave yet) lasts until `end` (now,
 * or the session's end once it ended); everything is cut to [start, end]; overlapping or touching stretches —
 * two tabs, or rows written twice — become one, so no moment is counted twice.
 */
export function mergeIntervals(rows: { joinedAt: number; leftAt: number | null }[], start: number, end: number): Interval[] {
  const clipped = rows
    .map((row) => ({ from: Math.max(start, row.joinedAt), to: Math.min(end, row.leftAt ?? end) }))
    .filter((interval) => interval.to > interval.from)
    .sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const interval of clipped) {
    const last = merged[merged.length - 1];
    if (last && interval.from <= last.to) last.to = Math.max(last.to, interval.to);
    else merged.push({ ...interval });
  }
  return merged;
}

export function totalMs(intervals: Interval[]): number {
  return intervals.reduce((sum, interval) => sum + (interval.to - interval.from), 0);
}

/** At most this many points in a presence series: one a minute for sessions up to 12 hours, longer steps beyond. */
const MAX_POINTS = 720;
const MINUTE_MS = 60_000;

/**
 * How many people were present at each step of the session: one point a minute from the start, plus the end.
 * A person counts at a moment when one of their merged stretches holds it ([from, to)); at the very end, the
 * people still in at that moment (their stretch reaches the end).
 */
export function presenceSeries(people: Interval[][], start: number, end: number): { at: number; present: number }[] {
  const step = Math.max(MINUTE_MS, Math.ceil((end - start) / MAX_POINTS / MINUTE_MS) * MINUTE_MS);
  const count = (at: number, atEnd: boolean) =>
    people.filter((intervals) => intervals.some((i) => (atEnd ? i.from < at && i.to >= at : i.from <= at && at < i.to))).length;
  const points: { at: number; present: number }[] = [];
  for (let at = start; at < end; at += step) points.push({ at, present: count(at, false) });
  points.push({ at: end, present: end > start ? count(end, true) : 0 });
  return points;
}

/** The most people present at once (exact, from the stretches' edges, not sampled). */
export function peakPresent(people: Interval[][]): number {
  const edges = people.flatMap((intervals) =>
    intervals.flatMap((i) => [
      { at: i.from, delta: 1 },
      { at: i.to, delta: -1 },
    ]),
  );
  // A leave at the same moment as a join is taken first: those two people were not in together.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const edge of edges) {
    now += edge.delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

/**
 * One CSV cell (RFC 4180). A text that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or
 * a carriage return) gets a leading single quote, so a display name like `=HYPERLINK(…)` stays text; a cell with
 * a comma, a quote or a line break is quoted, its quotes doubled. Numbers are written as they are.
 */
export function csvCell(value: string | number): string {
  if (typeof value === "number") return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The whole file: a byte order mark (spreadsheet apps then read UTF-8), then CRLF-separated rows (RFC 4180). */
export function csvText(rows: (string | number)[][]): string {
  return `\uFEFF${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

/**
 * `attachment` with a file name safe everywhere: letters, digits, dots, dashes and underscores only (runs of
 * anything else become one dash), at most 100 characters; an ASCII `filename` for old clients and the same name
 * in UTF-8 (RFC 6266 / 5987) for the rest.
 */
export function attachmentDisposition(baseName: string, extension: string): string {
  const dashed = baseName
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  // Cut by code points, so a letter outside the BMP is never split in half.
  const clean = Array.from(dashed).slice(0, 100).join("") || "attendance";
  const ascii = clean.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/-{2,}/g, "-") || "attendance";
  return `attachment; filename="${ascii}.${extension}"; filename*=UTF-8''${encodeURIComponent(`${clean}.${extension}`)}`;
}

/** Rows grouped by a key, in first-seen order (Map.groupBy is ES2024; the Worker compiles against ES2023). */
export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}
