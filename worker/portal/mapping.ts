import type { BlockView, Occurrence } from "../../schema/api/portal";
import type { Block, Occurrence as OccurrenceRow } from "../../schema/db";

/** The wire shape of an occurrence row. */
export function toOccurrence(row: OccurrenceRow): Occurrence {
  return { id: row.id, classId: row.classId, startsAt: row.startsAt, endsAt: row.endsAt, timezone: row.timezone, status: row.status, seriesId: row.seriesId };
}

/** Averages are shown with two decimals at most (4.333… → 4.33). */
export function roundRating(average: number | null): number | null {
  return average === null ? null : Math.round(average * 100) / 100;
}

export function toBlockView(row: Block, user: { id: string; displayName: string; email: string }, blockedBy: { id: string; displayName: string }): BlockView {
  return { id: row.id, user, classId: row.classId, reason: row.reason, blockedBy, createdAt: row.createdAt, expiresAt: row.expiresAt };
}
