import { and, eq, gt, isNull } from "drizzle-orm";
import { getServerByName } from "partyserver";
import { Hono } from "hono";
import { BlockCreateSchema, BlockListQuerySchema, IdSchema } from "../../schema/api/portal";
import { attendance, blocks, classEntries, liveSessions, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import type { Db } from "../db";
import { requireUser } from "../auth/session";
import { ApiError } from "../errors";
import { blockFilters, hasActiveBlock, listBlockViews } from "../portal/blocks";
import { loadClass } from "../portal/classes";
import { page } from "../portal/paging";
import { canBlock, requireManageClass } from "../portal/permissions";
import { jsonBody, parse, queryParams } from "../validate";

/**
 * Moderation blocks. A global block (admins only) signs the user out everywhere at their next request; a
 * class block (that class's teacher or an admin) refuses enrollment, rating and joining that class.
 */
export const blocksRoutes = new Hono<AppEnv>();

blocksRoutes.get("/api/blocks", async (c) => {
  const user = requireUser(c);
  const query = queryParams(c, BlockListQuerySchema);
  if (query.classId !== undefined) {
    requireManageClass(user, await loadClass(c.var.db, query.classId));
    return c.json({ blocks: await listBlockViews(c.var.db, blockFilters.ofClass(query.classId), page(query)) });
  }
  if (user.role === "admin") return c.json({ blocks: await listBlockViews(c.var.db, undefined, page(query)) });
  if (user.role === "teacher") return c.json({ blocks: await listBlockViews(c.var.db, blockFilters.ofClassesTaughtBy(user.id), page(query)) });
  throw new ApiError("FORBIDDEN", "Only teachers and admins see blocks");
});

blocksRoutes.post("/api/blocks", async (c) => {
  const user = requireUser(c);
  if (user.role === "student") throw new ApiError("FORBIDDEN", "Only teachers and admins block users");
  const body = await jsonBody(c, BlockCreateSchema);
  const cls = body.classId === undefined ? null : await loadClass(c.var.db, body.classId);
  if (!canBlock(user, cls ? { global: false, cls } : { global: true })) {
    throw new ApiError("FORBIDDEN", cls ? "Teachers block users only from classes they teach" : "Only admins block users everywhere");
  }
  const target = await c.var.db.query.users.findFirst({ where: eq(users.id, body.userId) });
  if (!target) throw new ApiError("NOT_FOUND", "No such user");
  if (target.id === user.id) throw new ApiError("CONFLICT", "You cannot block yourself");
  if (cls && target.id === cls.teacherId) throw new ApiError("CONFLICT", "The teacher of a class cannot be blocked from it");
  if (target.role === "admin" && user.role !== "admin") throw new ApiError("FORBIDDEN", "Only admins block admins");
  const now = Date.now();
  if (body.expiresAt !== undefined && body.expiresAt <= now) throw new ApiError("INVALID_MESSAGE", "expiresAt must be in the future");
  if (await hasActiveBlock(c.var.db, target.id, cls?.id ?? null)) throw new ApiError("CONFLICT", "This user is already blocked here");
  const id = crypto.randomUUID();
  await c.var.db
    .insert(blocks)
    .values({ id, userId: target.id, classId: cls?.id ?? null, reason: body.reason, blockedBy: user.id, createdAt: now, expiresAt: body.expiresAt ?? null });
  // The block is in D1 (joins are refused from now on); a user sitting in a live class is put out of it too.
  const liveClassIds = cls ? [cls.id] : await liveClassesOf(c.var.db, target.id);
  await Promise.all(liveClassIds.map(async (classId) => (await getServerByName(c.env.CLASSROOM, classId)).applyBlock(target.id)));
  const [view] = await listBlockViews(c.var.db, blockFilters.byId(id), { limit: 1, offset: 0 });
  return c.json({ block: view }, 201);
});

/** Lifting keeps the row (who blocked whom and when stays on record). */
blocksRoutes.delete("/api/blocks/:id", async (c) => {
  const user = requireUser(c);
  const block = await c.var.db.query.blocks.findFirst({ where: eq(blocks.id, parse(IdSchema, c.req.param("id"))) });
  if (!block) throw new ApiError("NOT_FOUND", "No such block");
  const cls = block.classId === null ? null : await loadClass(c.var.db, block.classId);
  if (!canBlock(user, cls ? { global: false, cls } : { global: true })) throw new ApiError("FORBIDDEN", "You may not lift this block");
  const lifted = await c.var.db
    .update(blocks)
    .set({ liftedAt: Date.now(), liftedBy: user.id })
    .where(and(eq(blocks.id, block.id), isNull(blocks.liftedAt)))
    .returning({ id: blocks.id });
  if (lifted.length === 0) throw new ApiError("CONFLICT", "This block was already lifted");
  // The class object keeps its own record of a fresh block (for class tokens issued before it); it must forget
  // it too, or the student would be turned away at the door for minutes after the block was lifted.
  const classIds = cls ? [cls.id] : await liveClassesOf(c.var.db, block.userId);
  await Promise.all(classIds.map(async (classId) => (await getServerByName(c.env.CLASSROOM, classId)).liftBlock(block.userId)));
  return c.body(null, 204);
});

/**
 * A class token handed out this long ago may still be holding a live socket whose attendance has not reached D1
 * (the class object writes it through its outbox, which may be behind or failing): such classes are told too.
 */
const RECENT_ENTRY_MS = 24 * 3600_000;

/**
 * Classes the user may be sitting in live (a global block ends their presence in each): those whose current
 * session they joined according to D1, and those they took a class token for recently, whatever the outbox's
 * state. Telling a class the user is not in costs one call and changes nothing there.
 */
async function liveClassesOf(db: Db, userId: string): Promise<string[]> {
  const [attended, entered] = await Promise.all([
    db
      .selectDistinct({ classId: liveSessions.classId })
      .from(attendance)
      .innerJoin(liveSessions, eq(liveSessions.id, attendance.sessionId))
      .where(and(eq(attendance.userId, userId), isNull(liveSessions.endedAt))),
    db
      .select({ classId: classEntries.classId })
      .from(classEntries)
      .where(and(eq(classEntries.userId, userId), gt(classEntries.issuedAt, Date.now() - RECENT_ENTRY_MS))),
  ]);
  return [...new Set([...attended, ...entered].map((row) => row.classId))];
}
