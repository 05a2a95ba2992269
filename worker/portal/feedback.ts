import { and, desc, eq, ne, sql } from "drizzle-orm";
import type { FeedbackComment, FeedbackSummary, FeedbackView } from "../../schema/api/portal";
import { type ClassRow, feedback, type User, users } from "../../schema/db";
import type { Db } from "../db";
import { roundRating } from "./mapping";

/** Teachers see the newest comments first; older ones stay in D1. */
const MAX_COMMENTS = 200;

/** What is rated: a class, or one of its recordings. */
export type FeedbackTarget = { type: "class" | "recording"; id: string };

const ofTarget = (target: FeedbackTarget) => and(eq(feedback.targetType, target.type), eq(feedback.targetId, target.id));

/** Writes the user's rating of a class, replacing an earlier one (one per user, guaranteed by feedback_once). */
export async function putClassFeedback(db: Db, user: User, cls: ClassRow, rating: number, comment: string): Promise<FeedbackView> {
  const now = Date.now();
  const [row] = await db
    .insert(feedback)
    .values({
      id: crypto.randomUUID(),
      userId: user.id,
      classId: cls.id,
      targetType: "class",
      targetId: cls.id,
      rating,
      comment,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({ target: [feedback.userId, feedback.targetType, feedback.targetId], set: { rating, comment, updatedAt: now } })
    .returning();
  return { classId: cls.id, rating: row!.rating, comment: row!.comment, createdAt: row!.createdAt, updatedAt: row!.updatedAt };
}

/** A class's ratings (see {@link feedbackSummary}). */
export function classFeedbackSummary(db: Db, classId: string, withComments: boolean): Promise<FeedbackSummary> {
  return feedbackSummary(db, { type: "class", id: classId }, withComments);
}

/** Average, count and the 1…5 distribution, all aggregated in SQL; comments only when asked for. */
export async function feedbackSummary(db: Db, target: FeedbackTarget, withComments: boolean): Promise<FeedbackSummary> {
  const [aggregate] = await db
    .select({
      average: sql<number | null>`avg(${feedback.rating})`,
      count: sql<number>`count(*)`,
      n1: sql<number>`coalesce(sum(${feedback.rating} = 1), 0)`,
      n2: sql<number>`coalesce(sum(${feedback.rating} = 2), 0)`,
      n3: sql<number>`coalesce(sum(${feedback.rating} = 3), 0)`,
      n4: sql<number>`coalesce(sum(${feedback.rating} = 4), 0)`,
      n5: sql<number>`coalesce(sum(${feedback.rating} = 5), 0)`,
    })
    .from(feedback)
    .where(ofTarget(target));
  const summary: FeedbackSummary = {
    average: roundRating(aggregate?.average ?? null),
    count: aggregate?.count ?? 0,
    distribution: [aggregate?.n1 ?? 0, aggregate?.n2 ?? 0, aggregate?.n3 ?? 0, aggregate?.n4 ?? 0, aggregate?.n5 ?? 0],
  };
  if (!withComments) return summary;
  const comments: FeedbackComment[] = await db
    .select({ userId: feedback.userId, displayName: users.displayName, rating: feedback.rating, comment: feedback.comment, updatedAt: feedback.updatedAt })
    .from(feedback)
    .innerJoin(users, eq(users.id, feedback.userId))
    .where(and(ofTarget(target), ne(feedback.comment, "")))
    .orderBy(desc(feedback.updatedAt), desc(feedback.id))
    .limit(MAX_COMMENTS);
  return { ...summary, comments };
}
