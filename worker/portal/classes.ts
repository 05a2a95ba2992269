import { and, asc, eq, exists, or, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { ClassDetail, ClassSummary } from "../../schema/api/portal";
import { attendance, type ClassRow, classes, enrollments, feedback, liveSessions, occurrences, type User, users } from "../../schema/db";
import { activeBlock } from "../auth/session";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { roundRating, toOccurrence } from "./mapping";
import { canManageClass, canViewClass } from "./permissions";

/** A class's detail page lists at most this many occurrences (a series holds at most 100). */
const MAX_OCCURRENCES_IN_DETAIL = 1000;

const nextOccurrence = alias(occurrences, "next_occurrence");

/**
 * One query for a page of class summaries: counts, the viewer's enrollment, the rating aggregate and the next
 * occurrence are correlated subqueries, so the page costs one round trip however many classes it holds.
 */
function summarySelect(db: Db, viewer: User, now: number) {
  return db
    .select({
      cls: classes,
      teacher: { id: users.id, displayName: users.displayName },
      enrolled: sql<number>`exists(select 1 from ${enrollments} where ${enrollments.classId} = ${classes.id} and ${enrollments.userId} = ${viewer.id})`,
      enrolledCount: sql<number>`(select count(*) from ${enrollments} where ${enrollments.classId} = ${classes.id})`,
      ratingAverage: sql<
        number | null
      >`(select avg(${feedback.rating}) from ${feedback} where ${feedback.targetType} = 'class' and ${feedback.targetId} = ${classes.id})`,
      ratingCount: sql<number>`(select count(*) from ${feedback} where ${feedback.targetType} = 'class' and ${feedback.targetId} = ${classes.id})`,
      next: nextOccurrence,
    })
    .from(classes)
    .innerJoin(users, eq(users.id, classes.teacherId))
    .leftJoin(
      nextOccurrence,
      eq(
        nextOccurrence.id,
        sql`(select o.id from ${occurrences} o where o.class_id = ${classes.id} and o.status = 'scheduled' and o.ends_at > ${now} order by o.starts_at limit 1)`,
      ),
    );
}

type SummaryRow = Awaited<ReturnType<ReturnType<typeof summarySelect>["all"]>>[number];

function toSummary(row: SummaryRow): ClassSummary {
  return {
    id: row.cls.id,
    title: row.cls.title,
    description: row.cls.description,
    kind: row.cls.kind,
    status: row.cls.status,
    teacher: row.teacher,
    enrolled: Boolean(row.enrolled),
    enrolledCount: row.enrolledCount,
    nextOccurrence: row.next ? toOccurrence(row.next) : null,
    rating: { average: roundRating(row.ratingAverage), count: row.ratingCount },
    reminderMinutes: row.cls.reminderMinutes,
  };
}

export type ClassScope = "all" | "teaching" | "enrolled";

/**
 * The classes `viewer` sees in a list, soonest next occurrence first (classes with none last, by title).
 * Archived classes are listed only for the people who manage them.
 */
export async function listClassSummaries(db: Db, viewer: User, scope: ClassScope, page: { limit: number; offset: number }): Promise<ClassSummary[]> {
  const visibleToViewer: SQL | undefined = viewer.role === "admin" ? undefined : or(eq(classes.status, "active"), eq(classes.teacherId, viewer.id));
  const scopeFilter: SQL | undefined =
    scope === "teaching"
      ? eq(classes.teacherId, viewer.id)
      : scope === "enrolled"
        ? exists(
            db
              .select({ one: sql`1` })
              .from(enrollments)
              .where(and(eq(enrollments.classId, classes.id), eq(enrollments.userId, viewer.id))),
          )
        : undefined;
  const rows = await summarySelect(db, viewer, Date.now())
    .where(and(visibleToViewer, scopeFilter))
    .orderBy(sql`${nextOccurrence.startsAt} is null`, asc(nextOccurrence.startsAt), asc(classes.title), asc(classes.id))
    .limit(page.limit)
    .offset(page.offset);
  return rows.map(toSummary);
}

/** A class row, or NOT_FOUND. */
export async function loadClass(db: Db, classId: string): Promise<ClassRow> {
  const row = await db.query.classes.findFirst({ where: eq(classes.id, classId) });
  if (!row) throw new ApiError("NOT_FOUND", "No such class");
  return row;
}

export async function isEnrolled(db: Db, classId: string, userId: string): Promise<boolean> {
  const row = await db
    .select({ one: sql`1` })
    .from(enrollments)
    .where(and(eq(enrollments.classId, classId), eq(enrollments.userId, userId)))
    .limit(1);
  return row.length > 0;
}

/** A class the viewer may see (NOT_FOUND otherwise, so hidden classes are not revealed). */
export async function loadVisibleClass(db: Db, viewer: User, classId: string): Promise<{ cls: ClassRow; enrolled: boolean }> {
  const cls = await loadClass(db, classId);
  const enrolled = await isEnrolled(db, classId, viewer.id);
  if (!canViewClass(viewer, cls, enrolled)) throw new ApiError("NOT_FOUND", "No such class");
  return { cls, enrolled };
}

/**
 * Why `user` may not rate `cls` now, or null when they may: only enrolled students who attended at least one of
 * its live sessions, and are not blocked from it. A blocked student is told that first, as the real reason.
 */
export async function ratingRefusal(db: Db, user: User, cls: ClassRow, enrolled: boolean): Promise<ApiError | null> {
  if (user.id === cls.teacherId) return new ApiError("FORBIDDEN", "Teachers do not rate their own classes");
  if (await activeBlock(db, user.id, cls.id)) return new ApiError("FORBIDDEN", "You are blocked from this class, so you cannot rate it");
  if (!enrolled) return new ApiError("FORBIDDEN", "Only students enrolled in this class may rate it");
  const attended = await db
    .select({ one: sql`1` })
    .from(attendance)
    .innerJoin(liveSessions, eq(liveSessions.id, attendance.sessionId))
    .where(and(eq(liveSessions.classId, cls.id), eq(attendance.userId, user.id)))
    .limit(1);
  if (attended.length === 0) return new ApiError("CONFLICT", "Rate this class after you have attended it");
  return null;
}

/** The full class page for `viewer` (NOT_FOUND when they may not see it). */
export async function classDetail(db: Db, viewer: User, classId: string): Promise<ClassDetail> {
  const [row] = await summarySelect(db, viewer, Date.now()).where(eq(classes.id, classId)).limit(1);
  if (!row) throw new ApiError("NOT_FOUND", "No such class");
  const summary = toSummary(row);
  if (!canViewClass(viewer, row.cls, summary.enrolled)) throw new ApiError("NOT_FOUND", "No such class");
  const [occurrenceRows, myFeedback, refusal] = await Promise.all([
    db
      .select()
      .from(occurrences)
      .where(eq(occurrences.classId, classId))
      .orderBy(asc(occurrences.startsAt), asc(occurrences.id))
      .limit(MAX_OCCURRENCES_IN_DETAIL),
    db
      .select({ rating: feedback.rating, comment: feedback.comment })
      .from(feedback)
      .where(and(eq(feedback.userId, viewer.id), eq(feedback.targetType, "class"), eq(feedback.targetId, classId)))
      .limit(1),
    ratingRefusal(db, viewer, row.cls, summary.enrolled),
  ]);
  return {
    ...summary,
    occurrences: occurrenceRows.map(toOccurrence),
    canManage: canManageClass(viewer, row.cls),
    myRating: myFeedback[0] ?? null,
    canRate: refusal === null,
    rateRefusal: refusal?.message ?? null,
    recordingDownloads: row.cls.recordingDownloads,
  };
}
