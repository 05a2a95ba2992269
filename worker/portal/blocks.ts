import { and, desc, eq, gt, isNull, or, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { BlockView } from "../../schema/api/portal";
import { blocks, classes, users } from "../../schema/db";
import type { Db } from "../db";
import { toBlockView } from "./mapping";

const blockedUser = alias(users, "blocked_user");
const blocker = alias(users, "blocker");

/** Not lifted and not expired. */
export function isActiveBlock(now: number): SQL {
  return and(isNull(blocks.liftedAt), or(isNull(blocks.expiresAt), gt(blocks.expiresAt, now)))!;
}

/** Active blocks matching `filter`, newest first, with the names of who is blocked and who blocked them. */
export async function listBlockViews(db: Db, filter: SQL | undefined, page: { limit: number; offset: number }): Promise<BlockView[]> {
  const rows = await db
    .select({
      block: blocks,
      user: { id: blockedUser.id, displayName: blockedUser.displayName, email: blockedUser.email },
      blockedBy: { id: blocker.id, displayName: blocker.displayName },
    })
    .from(blocks)
    .innerJoin(blockedUser, eq(blockedUser.id, blocks.userId))
    .innerJoin(blocker, eq(blocker.id, blocks.blockedBy))
    .leftJoin(classes, eq(classes.id, blocks.classId))
    .where(and(isActiveBlock(Date.now()), filter))
    .orderBy(desc(blocks.createdAt), desc(blocks.id))
    .limit(page.limit)
    .offset(page.offset);
  return rows.map((row) => toBlockView(row.block, row.user, row.blockedBy));
}

/** Whether an active block of exactly this scope (one class, or global when `classId` is null) exists. */
export async function hasActiveBlock(db: Db, userId: string, classId: string | null): Promise<boolean> {
  const rows = await db
    .select({ id: blocks.id })
    .from(blocks)
    .where(and(eq(blocks.userId, userId), classId === null ? isNull(blocks.classId) : eq(blocks.classId, classId), isActiveBlock(Date.now())))
    .limit(1);
  return rows.length > 0;
}

/** Filters for listBlockViews. */
export const blockFilters = {
  ofClass: (classId: string) => eq(blocks.classId, classId),
  ofClassesTaughtBy: (teacherId: string) => eq(classes.teacherId, teacherId),
  byId: (blockId: string) => eq(blocks.id, blockId),
};
