import { and, asc, eq, exists, gt, gte, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { CalendarEvent, CalendarRelation } from "../../schema/api/portal";
import { classes, enrollments, occurrences, type User } from "../../schema/db";
import type { Db } from "../db";

function enrolledIn(db: Db, userId: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(enrollments)
      .where(and(eq(enrollments.classId, classes.id), eq(enrollments.userId, userId))),
  );
}

/** The occurrences of classes `user` teaches or is enrolled in (admins: of every class), tagged by relation. */
function eventSelect(db: Db, user: User, includeEverything: boolean) {
  const relation = sql<CalendarRelation>`case when ${classes.teacherId} = ${user.id} then 'teaching' when ${enrolledIn(db, user.id)} then 'enrolled' else 'admin' end`;
  const mine = or(eq(classes.teacherId, user.id), enrolledIn(db, user.id));
  return {
    query: db
      .select({ occurrence: occurrences, title: classes.title, description: classes.description, relation })
      .from(occurrences)
      .innerJoin(classes, eq(classes.id, occurrences.classId)),
    filter: includeEverything ? undefined : mine,
  };
}

/**
 * Calendar events overlapping [from, to): students see their enrolled classes, teachers the classes they
 * teach plus those they are enrolled in, admins every class. Returns at most `limit` events, soonest first,
 * and whether more matched.
 */
export async function calendarEvents(
  db: Db,
  user: User,
  range: { from: number; to: number },
  limit: number,
): Promise<{ events: CalendarEvent[]; truncated: boolean }> {
  const { query, filter } = eventSelect(db, user, user.role === "admin");
  const rows = await query
    .where(and(filter, lt(occurrences.startsAt, range.to), gt(occurrences.endsAt, range.from)))
    .orderBy(asc(occurrences.startsAt), asc(occurrences.id))
    .limit(limit + 1);
  const events = rows.slice(0, limit).map(
    (row): CalendarEvent => ({
      occurrenceId: row.occurrence.id,
      classId: row.occurrence.classId,
      title: row.title,
      startsAt: row.occurrence.startsAt,
      endsAt: row.occurrence.endsAt,
      timezone: row.occurrence.timezone,
      status: row.occurrence.status,
      relation: row.relation,
    }),
  );
  return { events, truncated: rows.length > limit };
}

/** What the ICS feed needs of one occurrence. */
export interface FeedOccurrence {
  id: string;
  classId: string;
  title: string;
  description: string;
  startsAt: number;
  endsAt: number;
  cancelled: boolean;
  revision: number;
}

/**
 * The occurrences in a user's personal feed: classes they teach or are enrolled in (also for admins: a
 * subscription is personal), starting between `from` and `to`, at most `limit`.
 */
export async function feedOccurrences(db: Db, user: User, range: { from: number; to: number }, limit: number): Promise<FeedOccurrence[]> {
  const { query, filter } = eventSelect(db, user, false);
  const rows = await query
    .where(and(filter, gte(occurrences.startsAt, range.from), lte(occurrences.startsAt, range.to)))
    .orderBy(asc(occurrences.startsAt), asc(occurrences.id))
    .limit(limit);
  return rows.map((row) => ({
    id: row.occurrence.id,
    classId: row.occurrence.classId,
    title: row.title,
    description: row.description,
    startsAt: row.occurrence.startsAt,
    endsAt: row.occurrence.endsAt,
    cancelled: row.occurrence.status === "cancelled",
    revision: row.occurrence.revision,
  }));
}
