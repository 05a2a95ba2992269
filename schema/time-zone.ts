/**
 * Wall-clock ↔ UTC for IANA time zones, the one place the product converts between them (the scheduling
 * forms, series expansion, reminders). Only Intl is used: the runtime's own tz database answers "what is the
 * offset at this instant", and the instants around a local time are searched.
 *
 * The rule for local times a zone's clocks skip or repeat is RFC 5545's and Temporal's "compatible"
 * disambiguation:
 * - a time that happens twice (clocks go back) is its first occurrence, the one before the change;
 * - a time that does not exist (clocks jump forward) moves forward by the length of the jump
 *   (02:30 on a night that jumps from 02:00 to 03:00 is 03:30).
 * `classifyLocalTime` tells which case a time is, so a form can say so before the teacher saves.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** A local wall-clock time: calendar fields without a zone. */
export interface LocalDateTime {
  year: number;
  /** 1 … 12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock fields of instant `utcMs` in `timeZone`. */
export function utcToZonedLocal(utcMs: number, timeZone: string): LocalDateTime & { second: number } {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(utcMs))) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  return { year: fields.year!, month: fields.month!, day: fields.day!, hour: fields.hour!, minute: fields.minute!, second: fields.second! };
}

/** The zone's offset from UTC at instant `utcMs`, in milliseconds (Berlin in summer: +7 200 000). */
export function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const local = utcToZonedLocal(utcMs, timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** Parses `YYYY-MM-DDTHH:mm`; null when it is not one. */
export function parseLocalDateTime(text: string): LocalDateTime | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const [, year, month, day, hour, minute] = match.map(Number) as [number, number, number, number, number, number];
  return { year, month, day, hour, minute };
}

/** Formats `local` as `YYYY-MM-DDTHH:mm` (the value of an `<input type="datetime-local">`). */
export function formatLocalDateTime(local: LocalDateTime): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}T${pad(local.hour)}:${pad(local.minute)}`;
}

/** How a zone's clocks treat a local time: shown once, twice (clocks went back), or never (clocks jumped). */
export type LocalTimeKind =
  | { kind: "normal"; utcMs: number }
  /** `utcMs` is the first occurrence (the one used); `laterUtcMs` the second. */
  | { kind: "repeated"; utcMs: number; laterUtcMs: number }
  /** The clocks jump over this time by `gapMinutes`; `utcMs` is the moved-forward instant (the one used). */
  | { kind: "skipped"; utcMs: number; gapMinutes: number };

/** Which of the three cases `local` is in `timeZone`, with the instant the product uses for it. */
export function classifyLocalTime(local: LocalDateTime | string, timeZone: string): LocalTimeKind {
  const fields = typeof local === "string" ? parseLocalDateTime(local) : local;
  if (!fields) throw new RangeError(`Not a local date-time: ${String(local)}`);
  const wallAsUtc = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute);
  // Zone transitions are months apart, so the offsets a day either side are the only ones that can apply.
  const offsetBefore = zoneOffsetMs(wallAsUtc - DAY_MS, timeZone);
  const offsetAfter = zoneOffsetMs(wallAsUtc + DAY_MS, timeZone);
  const candidates = [...new Set([wallAsUtc - offsetBefore, wallAsUtc - offsetAfter])]
    .filter((utc) => utc + zoneOffsetMs(utc, timeZone) === wallAsUtc)
    .sort((a, b) => a - b);
  if (candidates.length === 2) return { kind: "repeated", utcMs: candidates[0]!, laterUtcMs: candidates[1]! };
  if (candidates.length === 1) return { kind: "normal", utcMs: candidates[0]! };
  // In the gap: keep the offset that applied before it, which lands the same distance past the jump.
  return { kind: "skipped", utcMs: wallAsUtc - offsetBefore, gapMinutes: (offsetAfter - offsetBefore) / MINUTE_MS };
}

/** The UTC instant at which clocks in `timeZone` show `local` (repeated: the first; skipped: moved forward). */
export function zonedLocalToUtc(local: LocalDateTime | string, timeZone: string): number {
  return classifyLocalTime(local, timeZone).utcMs;
}
