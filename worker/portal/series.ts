import { and, asc, eq, gt, sql } from "drizzle-orm";
import { MAX_TIMESTAMP, type SeriesMove } from "../../schema/api/portal";
import { type ClassRow, classSeries, occurrences, type Occurrence as OccurrenceRow } from "../../schema/db";
import { utcToZonedLocal, zonedLocalToUtc } from "../../schema/time-zone";
import type { Db } from "../db";
import { ApiError } from "../errors";

export type SeriesRow = typeof classSeries.$inferSelect;

export async function loadSeries(db: Db, seriesId: string): Promise<SeriesRow> {
  const row = await db.query.classSeries.findFirst({ where: eq(classSeries.id, seriesId) });
  if (!row) throw new ApiError("NOT_FOUND", "No such series");
  return row;
}

/** The sessions of a series that are still to come: scheduled and not started at `now`, soonest first. */
async function remainingSessions(db: Db, series: SeriesRow, now: number): Promise<OccurrenceRow[]> {
  return db
    .select()
    .from(occurrences)
    .where(and(eq(occurrences.seriesId, series.id), eq(occurrences.status, "scheduled"), gt(occurrences.startsAt, now)))
    .orderBy(asc(occurrences.startsAt), asc(occurrences.id));
}

const nothingLeft = () => new ApiError("CONFLICT", "No session of this series is still to come");

/**
 * Cancels every session of the series that has not started yet, in one statement; past sessions and one in
 * progress are left as they are. Each cancelled session's revision is bumped, as for a single cancel.
 */
export async function cancelSeries(db: Db, series: SeriesRow, now: number): Promise<OccurrenceRow[]> {
  const rows = await db
    .update(occurrences)
    .set({ status: "cancelled", revision: sql`${occurrences.revision} + 1`, updatedAt: now })
    .where(and(eq(occurrences.seriesId, series.id), eq(occurrences.status, "scheduled"), gt(occurrences.startsAt, now)))
    .returning();
  if (rows.length === 0) throw nothingLeft();
  return rows.sort((a, b) => a.startsAt - b.startsAt);
}

/**
 * Gives every session of the series that has not started yet a new time of day and/or duration. Each keeps its
 * local date in the series' zone, and the new time is converted on that date, so a 09:00 → 10:00 move stays
 * 10:00 local on both sides of a daylight-saving change. Refused as a whole, nothing written, when a session
 * would then start in the past or leave the calendar's range. `changed` is false when every time stays as it was.
 */
export async function moveSeries(
  db: Db,
  cls: ClassRow,
  series: SeriesRow,
  move: SeriesMove,
  now: number,
): Promise<{ occurrences: OccurrenceRow[]; changed: boolean }> {
  if (cls.status === "archived") throw new ApiError("CONFLICT", "This class is archived; reactivate it before scheduling");
  const sessions = await remainingSessions(db, series, now);
  if (sessions.length === 0) throw nothingLeft();
  const [hour, minute] = (move.startTime ?? "00:00").split(":").map(Number) as [number, number];
  const planned = sessions.map((session) => {
    const local = utcToZonedLocal(session.startsAt, series.timezone);
    const startsAt = move.startTime === undefined ? session.startsAt : zonedLocalToUtc({ ...local, hour, minute }, series.timezone);
    const durationMs = move.durationMinutes === undefined ? session.endsAt - session.startsAt : move.durationMinutes * 60_000;
    const date = `${String(local.year).padStart(4, "0")}-${String(local.month).padStart(2, "0")}-${String(local.day).padStart(2, "0")}`;
    return { session, startsAt, endsAt: startsAt + durationMs, date };
  });
  const tooEarly = planned.find((plan) => plan.startsAt <= now);
  if (tooEarly) {
    const message = `The session on ${tooEarly.date} would then start in the past. Choose a later time, or move that session on its own.`;
    throw new ApiError("INVALID_MESSAGE", message, undefined, { startTime: message });
  }
  const tooLate = planned.find((plan) => plan.endsAt > MAX_TIMESTAMP);
  if (tooLate) throw new ApiError("INVALID_MESSAGE", `The session on ${tooLate.date} would then end after year 9999.`);
  const unchanged = planned.every((plan) => plan.startsAt === plan.session.startsAt && plan.endsAt === plan.session.endsAt);
  if (unchanged) return { occurrences: sessions, changed: false };
  // One statement per session in one batch (all or nothing); a session cancelled meanwhile is left alone.
  const [first, ...rest] = planned.map((plan) => moveStatement(db, plan.session.id, plan.startsAt, plan.endsAt, now));
  const results = await db.batch([first!, ...rest]);
  return { occurrences: results.flat().sort((a, b) => a.startsAt - b.startsAt), changed: true };
}

function moveStatement(db: Db, occurrenceId: string, startsAt: number, endsAt: number, now: number) {
  return db
    .update(occurrences)
    .set({ startsAt, endsAt, revision: sql`${occurrences.revision} + 1`, updatedAt: now })
    .where(and(eq(occurrences.id, occurrenceId), eq(occurrences.status, "scheduled")))
    .returning();
}
