import { and, asc, desc, eq, gt, ne } from "drizzle-orm";
import { type EndedSession, endedInSlot, JOIN_OPENS_BEFORE_START_MS, type UpcomingOccurrence } from "../../schema/api/join";
import { liveSessions, occurrences, recordings } from "../../schema/db";
import type { Db } from "../db";

/** The class's next scheduled occurrence that has not ended yet, with when students may enter it. */
export async function nextOccurrence(db: Db, classId: string, now: number): Promise<UpcomingOccurrence | null> {
  const [row] = await db
    .select({ occurrenceId: occurrences.id, startsAt: occurrences.startsAt, endsAt: occurrences.endsAt })
    .from(occurrences)
    .where(and(eq(occurrences.classId, classId), eq(occurrences.status, "scheduled"), gt(occurrences.endsAt, now)))
    .orderBy(asc(occurrences.startsAt))
    .limit(1);
  return row ? { ...row, opensAt: row.startsAt - JOIN_OPENS_BEFORE_START_MS } : null;
}

/**
 * The session a moderator ended in this occurrence's slot, when it is the class's latest session (a session
 * started after it — "Start a new session" — lets everyone in again). The slot is matched by time, not by the
 * session's occurrence id: a teacher who opened the room early started the session before the slot opened,
 * with no occurrence in their token.
 */
export async function endedSessionInSlot(db: Db, classId: string, slot: Pick<UpcomingOccurrence, "opensAt">): Promise<EndedSession | null> {
  const [latest] = await db
    .select({ id: liveSessions.id, endedAt: liveSessions.endedAt, endReason: liveSessions.endReason })
    .from(liveSessions)
    .where(eq(liveSessions.classId, classId))
    .orderBy(desc(liveSessions.startedAt))
    .limit(1);
  if (!latest || latest.endedAt === null || !endedInSlot(latest, slot.opensAt)) return null;
  const [recording] = await db
    .select({ id: recordings.id, status: recordings.status })
    .from(recordings)
    .where(and(eq(recordings.sessionId, latest.id), ne(recordings.status, "failed")))
    .orderBy(desc(recordings.startedAt))
    .limit(1);
  return { sessionId: latest.id, endedAt: latest.endedAt, recording: recording ? { id: recording.id, ready: recording.status === "ready" } : null };
}
