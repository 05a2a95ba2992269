import { and, eq, gt, sql } from "drizzle-orm";
import * as v from "valibot";
import { LIMITS, MAX_TIMESTAMP, type Occurrence, OccurrenceSeriesCreateSchema, OccurrenceSingleCreateSchema, type Series } from "../../schema/api/portal";
import { type ClassRow, classSeries, occurrences, type Occurrence as OccurrenceRow } from "../../schema/db";
import { type ExpandedOccurrence, expandSeries } from "../calendar/series";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { parse } from "../validate";
import { toOccurrence } from "./mapping";

const MAX_DURATION_MS = LIMITS.occurrenceMaxMinutes * 60_000;

/** Refuses an end before the start or a meeting longer than 12 hours. */
export function checkTimes(startsAt: number, endsAt: number): void {
  if (endsAt <= startsAt) throw new ApiError("INVALID_MESSAGE", "A session ends after it starts.", undefined, { endsAt: "A session ends after it starts." });
  if (endsAt - startsAt > MAX_DURATION_MS) {
    throw new ApiError("INVALID_MESSAGE", "A session lasts at most 12 hours.", undefined, { endsAt: "A session lasts at most 12 hours." });
  }
}

/** How far in the past a start may be without `allowPast` (see LIMITS.pastStartGraceMinutes). */
export const PAST_START_GRACE_MS = LIMITS.pastStartGraceMinutes * 60_000;

/** Refuses a start in the past unless the request says it means it (see `allowPast` in the schema). */
export function checkNotPast(startsAt: number, now: number, allowPast: boolean | undefined, field: string): void {
  if (allowPast || startsAt >= now - PAST_START_GRACE_MS) return;
  const message = "This start time has already passed. Choose a later time, or confirm that you are recording a past session.";
  throw new ApiError("INVALID_MESSAGE", message, undefined, { [field]: message });
}

/**
 * A series is held to the bounds of a single occurrence (TimestampSchema) at every date it expands to: the
 * schema can only check the first local date, and an occurrence stored past year 9999 (or before 1970 UTC)
 * could never be moved, since a move is parsed with those bounds. The whole series is refused, nothing written.
 */
function checkSeriesBounds(expanded: readonly ExpandedOccurrence[]): void {
  const index = expanded.findIndex((occurrence) => occurrence.startsAt < 0 || occurrence.endsAt > MAX_TIMESTAMP);
  if (index === -1) return;
  const { startsAt, localDate } = expanded[index]!;
  const problem =
    startsAt < 0 ? "starts before 1970 (UTC); choose a later first date" : "ends after year 9999; choose an earlier first date or fewer occurrences";
  throw new ApiError("INVALID_MESSAGE", `series: occurrence ${index + 1} of ${expanded.length} (${localDate}) ${problem}`);
}

/**
 * A series ended by a date must end on or after its first session and fit the same maximum as one ended by a
 * count; the refusal names the end-date field so the form shows it there.
 */
function checkSeriesEnd(series: Series, expanded: readonly ExpandedOccurrence[]): void {
  if (series.until === undefined) return;
  const refuse = (message: string) => {
    throw new ApiError("INVALID_MESSAGE", message, undefined, { "series.until": message });
  };
  if (series.until < series.firstStartLocal.slice(0, 10)) refuse("The end date is before the first session. Choose a later end date.");
  if (expanded.length === 0) refuse("No session falls between the first session and the end date. Choose a later end date or other days.");
  if (expanded.length > LIMITS.seriesMaxCount) {
    refuse(
      `A series has at most ${LIMITS.seriesMaxCount} sessions, and this end date would make more. Choose an earlier end date, or add another series for the rest.`,
    );
  }
}

/**
 * Parses a POST /api/classes/:id/occurrences body. The two forms are told apart by the `series` key so a
 * mistake in either gets that form's own error message instead of a generic "matches neither".
 */
export function parseOccurrenceCreate(body: unknown): v.InferOutput<typeof OccurrenceSingleCreateSchema> | v.InferOutput<typeof OccurrenceSeriesCreateSchema> {
  const isSeries = typeof body === "object" && body !== null && "series" in body;
  return isSeries ? parse(OccurrenceSeriesCreateSchema, body) : parse(OccurrenceSingleCreateSchema, body);
}

/** Creates one occurrence or a whole series (the series row and all its occurrences in one batch). */
export async function createOccurrences(db: Db, cls: ClassRow, request: ReturnType<typeof parseOccurrenceCreate>): Promise<Occurrence[]> {
  if (cls.status === "archived") throw new ApiError("CONFLICT", "This class is archived; reactivate it before scheduling");
  const now = Date.now();
  if ("startsAt" in request) {
    checkTimes(request.startsAt, request.endsAt);
    checkNotPast(request.startsAt, now, request.allowPast, "startsAt");
    const [row] = await db
      .insert(occurrences)
      .values({
        id: crypto.randomUUID(),
        classId: cls.id,
        startsAt: request.startsAt,
        endsAt: request.endsAt,
        timezone: request.timezone,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    return [toOccurrence(row!)];
  }
  const { series } = request;
  const expandedOccurrences = expandSeries(series, LIMITS.seriesMaxCount);
  checkSeriesEnd(series, expandedOccurrences);
  checkSeriesBounds(expandedOccurrences);
  if (expandedOccurrences[0]) checkNotPast(expandedOccurrences[0].startsAt, now, request.allowPast, "series.firstStartLocal");
  const seriesId = crypto.randomUUID();
  const rows: OccurrenceRow[] = expandedOccurrences.map((expanded) => ({
    id: crypto.randomUUID(),
    classId: cls.id,
    seriesId,
    startsAt: expanded.startsAt,
    endsAt: expanded.endsAt,
    timezone: series.timezone,
    status: "scheduled",
    revision: 0,
    createdAt: now,
    updatedAt: now,
  }));
  // One statement per occurrence: D1 allows 100 bound parameters per statement, a 100-row insert has 1000.
  await db.batch([
    db.insert(classSeries).values({
      id: seriesId,
      classId: cls.id,
      frequency: series.frequency,
      interval: series.interval ?? 1,
      weekdays: series.weekdays ?? [],
      firstStartLocal: series.firstStartLocal,
      durationMinutes: series.durationMinutes,
      timezone: series.timezone,
      count: expandedOccurrences.length,
      until: series.until ?? null,
      createdAt: now,
    }),
    ...rows.map((row) => db.insert(occurrences).values(row)),
  ]);
  return rows.map(toOccurrence);
}

export async function loadOccurrence(db: Db, occurrenceId: string): Promise<OccurrenceRow> {
  const row = await db.query.occurrences.findFirst({ where: eq(occurrences.id, occurrenceId) });
  if (!row) throw new ApiError("NOT_FOUND", "No such occurrence");
  return row;
}

/**
 * Moves a scheduled occurrence and bumps its revision (reminders and calendar clients key on it). The
 * status check is part of the UPDATE, so a cancel racing a move cannot be overwritten.
 */
export async function moveOccurrence(db: Db, occurrence: OccurrenceRow, startsAt: number, endsAt: number): Promise<OccurrenceRow> {
  checkTimes(startsAt, endsAt);
  const [row] = await db
    .update(occurrences)
    .set({ startsAt, endsAt, revision: sql`${occurrences.revision} + 1`, updatedAt: Date.now() })
    .where(and(eq(occurrences.id, occurrence.id), eq(occurrences.status, "scheduled")))
    .returning();
  if (!row) throw new ApiError("CONFLICT", "This occurrence is cancelled; it cannot be moved");
  return row;
}

/** Cancels a scheduled occurrence (CONFLICT when it already is). */
export async function cancelOccurrence(db: Db, occurrence: OccurrenceRow): Promise<OccurrenceRow> {
  const [row] = await db
    .update(occurrences)
    .set({ status: "cancelled", revision: sql`${occurrences.revision} + 1`, updatedAt: Date.now() })
    .where(and(eq(occurrences.id, occurrence.id), eq(occurrences.status, "scheduled")))
    .returning();
  if (!row) throw new ApiError("CONFLICT", "This occurrence is already cancelled");
  return row;
}

/**
 * Puts a cancelled occurrence back on the schedule and bumps its revision (so the reminders made for it before
 * are told apart from the new ones). A session that has already ended stays cancelled: nobody can attend it and
 * there is no one to tell. The status and time checks are part of the UPDATE, so a racing restore does nothing.
 */
export async function restoreOccurrence(db: Db, cls: ClassRow, occurrence: OccurrenceRow, now: number): Promise<OccurrenceRow> {
  if (cls.status === "archived") throw new ApiError("CONFLICT", "This class is archived; reactivate it before scheduling");
  if (occurrence.status !== "cancelled") throw new ApiError("CONFLICT", "This session is not cancelled");
  if (occurrence.endsAt <= now) throw new ApiError("CONFLICT", "This session's time has passed, so it cannot be restored. Add a new session instead.");
  const [row] = await db
    .update(occurrences)
    .set({ status: "scheduled", revision: sql`${occurrences.revision} + 1`, updatedAt: now })
    .where(and(eq(occurrences.id, occurrence.id), eq(occurrences.status, "cancelled"), gt(occurrences.endsAt, now)))
    .returning();
  if (!row) throw new ApiError("CONFLICT", "This session was changed meanwhile; reload the schedule and try again");
  return row;
}
