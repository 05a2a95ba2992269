/**
 * Wall-clock ↔ UTC conversion for IANA time zones using only Intl (no tz library): the runtime's own tz
 * database answers "what is the offset at this instant", and we search the instants around a local time.
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

/** Parses `YYYY-MM-DDTHH:mm` (already validated by the request schema). */
export function parseLocalDateTime(text: string): LocalDateTime {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(text);
  if (!match) throw new RangeError(`Not a local date-time: ${text}`);
  const [, year, month, day, hour, minute] = match.map(Number) as [number, number, number, number, number, number];
  return { year, month, day, hour, minute };
}

/**
 * The UTC instant at which clocks in `timeZone` show `local`.
 *
 * A time in a spring-forward gap does not exist; it moves forward by the gap (02:30 on a night that jumps
 * from 02:00 to 03:00 becomes 03:30), the way calendar apps and Temporal's "compatible" mode do. A time in a
 * fall-back overlap happens twice; the first (earlier) instant is taken.
 */
export function zonedLocalToUtc(local: LocalDateTime | string, timeZone: string): number {
  const fields = typeof local === "string" ? parseLocalDateTime(local) : local;
  const wallAsUtc = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute);
  // Zone transitions are months apart, so the offsets a day either side are the only ones that can apply.
  const offsetBefore = zoneOffsetMs(wallAsUtc - DAY_MS, timeZone);
  const offsetAfter = zoneOffsetMs(wallAsUtc + DAY_MS, timeZone);
  const candidates = [wallAsUtc - offsetBefore, wallAsUtc - offsetAfter].filter((utc) => utc + zoneOffsetMs(utc, timeZone) === wallAsUtc);
  if (candidates.length > 0) return Math.min(...candidates);
  // In the gap: keep the offset that applied before it, which lands the same distance past the jump.
  return wallAsUtc - offsetBefore;
}

/** Formats `local` back as `YYYY-MM-DDTHH:mm`. */
export function formatLocalDateTime(local: LocalDateTime): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}T${pad(local.hour)}:${pad(local.minute)}`;
}
