/** Time helpers: every instant is UTC milliseconds; everything shown is in the viewer's time zone. */

import { formatLocalDateTime, parseLocalDateTime, utcToZonedLocal, zonedLocalToUtc, zoneOffsetMs } from "../../schema/time-zone";

/** The browser's IANA time zone (falls back to UTC on exotic platforms). */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/**
 * The zone to show times in: the user's saved zone once one was chosen (by the insp site, the first visit or
 * Settings); before that, and while nobody is signed in, the browser's zone (which the first visit saves).
 */
export function viewerTimeZone(user: { timezone: string; timezoneChosen: boolean } | null | undefined): string {
  if (user?.timezoneChosen && isValidTimeZone(user.timezone)) return user.timezone;
  return browserTimeZone();
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Every IANA zone the browser knows, with the given zones guaranteed to be present. */
export function timeZoneOptions(...mustInclude: string[]): string[] {
  const zones = new Set<string>(Intl.supportedValuesOf("timeZone"));
  zones.add("UTC");
  for (const zone of mustInclude) if (zone) zones.add(zone);
  return [...zones].sort();
}

/**
 * The locale every time on every page is written in: the browser's. The calendar (FullCalendar) is given the
 * same one and the same options below, so "10:00 AM" never sits next to "10:00am" or a 24-hour "10:00".
 */
export function displayLocale(): string {
  return new Intl.DateTimeFormat().resolvedOptions().locale;
}

/** How a time of day is written: the locale's own hour cycle, minutes always shown. */
export const TIME_OF_DAY = { hour: "numeric", minute: "2-digit" } as const satisfies Intl.DateTimeFormatOptions;

/** Between the start and the end of a range, as in {@link formatRange}. */
export const RANGE_SEPARATOR = " – ";

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let cached = formatters.get(key);
  if (!cached) {
    cached = new Intl.DateTimeFormat(displayLocale(), { ...options, timeZone });
    formatters.set(key, cached);
  }
  return cached;
}

/** "Tue, 3 Mar 2026, 14:00" in the zone. */
export function formatDateTime(ms: number, timeZone: string): string {
  return formatter(timeZone, { weekday: "short", day: "numeric", month: "short", year: "numeric", ...TIME_OF_DAY }).format(ms);
}

/** "14:00" in the zone. */
export function formatTime(ms: number, timeZone: string): string {
  return formatter(timeZone, TIME_OF_DAY).format(ms);
}

/** "Tue, 3 Mar 2026, 14:00 – 15:00" (the end shows its date only when it falls on another day). */
export function formatRange(startsAt: number, endsAt: number, timeZone: string): string {
  const sameDay = localDate(startsAt, timeZone) === localDate(endsAt, timeZone);
  return `${formatDateTime(startsAt, timeZone)}${RANGE_SEPARATOR}${sameDay ? formatTime(endsAt, timeZone) : formatDateTime(endsAt, timeZone)}`;
}

/** The zone's short name at that instant ("CET", "GMT+5:30"), shown next to times so nobody guesses. */
export function zoneLabel(ms: number, timeZone: string): string {
  const part = formatter(timeZone, { timeZoneName: "short" })
    .formatToParts(ms)
    .find((p) => p.type === "timeZoneName");
  return part ? `${timeZone.replaceAll("_", " ")} (${part.value})` : timeZone;
}

/** Wall-clock fields of an instant in a zone. */
export const wallClock = utcToZonedLocal;

function localDate(ms: number, timeZone: string): string {
  const w = wallClock(ms, timeZone);
  return `${w.year}-${w.month}-${w.day}`;
}

/** Minutes the zone is ahead of UTC at that instant. */
export function offsetMinutes(ms: number, timeZone: string): number {
  return Math.round(zoneOffsetMs(ms, timeZone) / 60_000);
}

/** "YYYY-MM-DDTHH:mm" for an <input type="datetime-local">, in the zone. */
export function toLocalInputValue(ms: number, timeZone: string): string {
  return formatLocalDateTime(wallClock(ms, timeZone));
}

/**
 * Parses "YYYY-MM-DDTHH:mm" as wall time in the zone; null when malformed. A time the zone's clocks skip or
 * repeat follows schema/time-zone.ts's rule (skipped: moved forward; repeated: the first).
 */
export function fromLocalInputValue(value: string, timeZone: string): number | null {
  const local = parseLocalDateTime(value);
  return local ? zonedLocalToUtc(local, timeZone) : null;
}

/** "in 3 hours", "5 minutes ago". */
export function relativeTime(ms: number, now: number): string {
  const rtf = new Intl.RelativeTimeFormat(displayLocale(), { numeric: "auto" });
  const diffMinutes = Math.round((ms - now) / 60000);
  if (Math.abs(diffMinutes) < 60) return rtf.format(diffMinutes, "minute");
  const diffHours = Math.round(diffMinutes / 60);
  if (Math.abs(diffHours) < 48) return rtf.format(diffHours, "hour");
  return rtf.format(Math.round(diffHours / 24), "day");
}
