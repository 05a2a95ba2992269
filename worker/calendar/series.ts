import type { Series } from "../../schema/api/portal";
import { type LocalDateTime, parseLocalDateTime, zonedLocalToUtc } from "../../schema/time-zone";

const DAY_MS = 24 * 60 * 60 * 1000;

/** One expanded occurrence of a series, in UTC milliseconds. */
export interface ExpandedOccurrence {
  startsAt: number;
  endsAt: number;
  /** The local wall-clock start it was computed from (`YYYY-MM-DD`). */
  localDate: string;
}

/** ISO weekday 1 (Mon) … 7 (Sun) of a calendar date. */
function isoWeekday(dayNumber: number): number {
  const weekday = new Date(dayNumber * DAY_MS).getUTCDay();
  return weekday === 0 ? 7 : weekday;
}

/** The day number (days since 1970-01-01) of a `YYYY-MM-DD` date. */
function dayNumber(date: string): number {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  return Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
}

/**
 * Expands a series into its occurrences: `count` of them, or every one up to and including the local date
 * `until`, stopping at `limit` + 1 so that a caller can tell "too many" without expanding years of dates.
 * Calendar dates are stepped as plain dates and each keeps the local wall-clock time of `firstStartLocal` in the
 * series' zone, so a weekly 09:00 Berlin class stays at 09:00 local time when summer time starts (its UTC start
 * moves from 08:00 to 07:00).
 *
 * Daily: every `interval` days from the first date. Weekly: on `weekdays` (default: the first date's weekday)
 * of every `interval`-th week, counting weeks (Monday-based) from the week of the first date; dates before
 * the first date are skipped.
 */
export function expandSeries(series: Series, limit = Number.POSITIVE_INFINITY): ExpandedOccurrence[] {
  const first = parseLocalDateTime(series.firstStartLocal);
  if (!first) throw new RangeError(`Not a local date-time: ${series.firstStartLocal}`);
  const interval = series.interval ?? 1;
  const firstDay = Math.floor(Date.UTC(first.year, first.month - 1, first.day) / DAY_MS);
  const durationMs = series.durationMinutes * 60_000;
  const lastDay = series.until === undefined ? Number.POSITIVE_INFINITY : dayNumber(series.until);
  const wanted = Math.min(series.count ?? Number.POSITIVE_INFINITY, limit + 1);
  const days: number[] = [];

  if (series.frequency === "daily") {
    for (let day = firstDay; day <= lastDay && days.length < wanted; day += interval) days.push(day);
  } else {
    const weekdays = [...(series.weekdays ?? [isoWeekday(firstDay)])].sort((a, b) => a - b);
    const firstMonday = firstDay - (isoWeekday(firstDay) - 1);
    for (let week = 0; days.length < wanted && firstMonday + week * 7 <= lastDay; week += interval) {
      for (const weekday of weekdays) {
        const day = firstMonday + week * 7 + (weekday - 1);
        if (day >= firstDay && day <= lastDay && days.length < wanted) days.push(day);
      }
    }
  }

  return days.map((day) => {
    const date = new Date(day * DAY_MS);
    const local: LocalDateTime = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: first.hour, minute: first.minute };
    const startsAt = zonedLocalToUtc(local, series.timezone);
    // Not toISOString: past year 9999 it writes "+010000-…", and an out-of-range date is exactly what a refusal names.
    const localDate = `${String(local.year).padStart(4, "0")}-${String(local.month).padStart(2, "0")}-${String(local.day).padStart(2, "0")}`;
    return { startsAt, endsAt: startsAt + durationMs, localDate };
  });
}
