import { eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { getServerByName } from "partyserver";
import * as v from "valibot";
import {
  ClassCreateSchema,
  ClassListQuerySchema,
  ClassUpdateSchema,
  EnrollByEmailSchema,
  EnrollmentListQuerySchema,
  IdSchema,
  OccurrenceMoveSchema,
} from "../../schema/api/portal";
import { classes, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { requireUser } from "../auth/session";
import { ApiError } from "../errors";
import { classDetail, listClassSummaries, loadClass, loadVisibleClass } from "../portal/classes";
import { enrollByEmail, enrollSelf, listEnrolled, unenroll } from "../portal/enrollment";
import { toOccurrence } from "../portal/mapping";
import { cancelOccurrence, createOccurrences, loadOccurrence, moveOccurrence, parseOccurrenceCreate } from "../portal/occurrences";
import { page } from "../portal/paging";
import { canCreateClass, requireManageClass } from "../portal/permissions";
import { occurrenceChanged } from "../reminders/changes";
import { jsonBody, parse, queryParams } from "../validate";

/** Classes, their occurrences and enrollment (see /work/coord/API.md "Portal"). */
export const classesRoutes = new Hono<AppEnv>();

classesRoutes.get("/api/classes", async (c) => {
  const viewer = requireUser(c);
  const query = queryParams(c, ClassListQuerySchema);
  return c.json({ classes: await listClassSummaries(c.var.db, viewer, query.scope ?? "all", page(query)) });
});

classesRoutes.post("/api/classes", async (c) => {
  const user = requireUser(c);
  if (!canCreateClass(user)) throw new ApiError("FORBIDDEN", "Only teachers and admins create classes");
  const body = await jsonBody(c, ClassCreateSchema);
  let teacherId = user.id;
  if (body.teacherId !== undefined && body.teacherId !== user.id) {
    if (user.role !== "admin") throw new ApiError("FORBIDDEN", "Teachers create classes for themselves only");
    const teacher = await c.var.db.query.users.findFirst({ where: eq(users.id, body.teacherId) });
    if (!teacher || teacher.role === "student") throw new ApiError("INVALID_MESSAGE", "teacherId must be a teacher or admin account");
    teacherId = teacher.id;
  }
  const now = Date.now();
  const id = crypto.randomUUID();
  await c.var.db.insert(classes).values({
    id,
    title: body.title,
    description: body.description ?? "",
    teacherId,
    kind: body.kind ?? "live",
    ...(body.reminderMinutes ? { reminderMinutes: body.reminderMinutes } : {}),
    createdAt: now,
    updatedAt: now,
  });
  return c.json({ class: await classDetail(c.var.db, user, id) }, 201);
});

classesRoutes.get("/api/classes/:id", async (c) => {
  const viewer = requireUser(c);
  return c.json({ class: await classDetail(c.var.db, viewer, parse(IdSchema, c.req.param("id"))) });
});

classesRoutes.patch("/api/classes/:id", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const body = await jsonBody(c, ClassUpdateSchema);
  await c.var.db
    .update(classes)
    .set({ ...body, updatedAt: Date.now() })
    .where(eq(classes.id, cls.id));
  return c.json({ class: await classDetail(c.var.db, user, cls.id) });
});

classesRoutes.delete("/api/classes/:id", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  // Occurrences, enrollments, feedback, class blocks, sessions and recordings go with it (ON DELETE CASCADE).
  await c.var.db.delete(classes).where(eq(classes.id, cls.id));
  return c.body(null, 204);
});

// ─── occurrences ────────────────────────────────────────────────────────────────────────────────────────────

classesRoutes.post("/api/classes/:id/occurrences", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const request = parseOccurrenceCreate(await jsonBody(c, v.unknown()));
  return c.json({ occurrences: await createOccurrences(c.var.db, cls, request) }, 201);
});

/** The occurrence and its class, after checking that `user` manages the class. */
async function loadManagedOccurrence(c: Context<AppEnv>, occurrenceId: string) {
  const user = requireUser(c);
  const occurrence = await loadOccurrence(c.var.db, parse(IdSchema, occurrenceId));
  const cls = await loadClass(c.var.db, occurrence.classId);
  requireManageClass(user, cls);
  return occurrence;
}

classesRoutes.patch("/api/occurrences/:id", async (c) => {
  const occurrence = await loadManagedOccurrence(c, c.req.param("id"));
  const body = await jsonBody(c, OccurrenceMoveSchema);
  if (body.startsAt === occurrence.startsAt && body.endsAt === occurrence.endsAt) return c.json({ occurrence: toOccurrence(occurrence) });
  const moved = await moveOccurrence(c.var.db, occurrence, body.startsAt, body.endsAt);
  await occurrenceChanged(c.env, { occurrenceId: moved.id, kind: "moved" });
  return c.json({ occurrence: toOccurrence(moved) });
});

classesRoutes.post("/api/occurrences/:id/cancel", async (c) => {
  const occurrence = await loadManagedOccurrence(c, c.req.param("id"));
  const cancelled = await cancelOccurrence(c.var.db, occurrence);
  await occurrenceChanged(c.env, { occurrenceId: cancelled.id, kind: "cancelled" });
  return c.json({ occurrence: toOccurrence(cancelled) });
});

// ─── enrollment ─────────────────────────────────────────────────────────────────────────────────────────────

classesRoutes.post("/api/classes/:id/enrollment", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  await enrollSelf(c.var.db, cls, user);
  return c.json({ class: await classDetail(c.var.db, user, cls.id) }, 201);
});

classesRoutes.delete("/api/classes/:id/enrollment", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  await unenroll(c.var.db, cls.id, user.id, "You are not enrolled in this class");
  await (await getServerByName(c.env.CLASSROOM, cls.id)).revokeEnrollment(user.id);
  return c.body(null, 204);
});

classesRoutes.get("/api/classes/:id/enrollments", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const query = queryParams(c, EnrollmentListQuerySchema);
  return c.json({ students: await listEnrolled(c.var.db, cls.id, page(query)) });
});

classesRoutes.post("/api/classes/:id/enrollments", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const body = await jsonBody(c, EnrollByEmailSchema);
  return c.json({ student: await enrollByEmail(c.var.db, cls, body.email, user) }, 201);
});

classesRoutes.delete("/api/classes/:id/enrollments/:userId", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const studentId = parse(IdSchema, c.req.param("userId"));
  await unenroll(c.var.db, cls.id, studentId, "That user is not enrolled in this class");
  // A student sitting in the live class is put out of it now, not when their socket next reconnects.
  await (await getServerByName(c.env.CLASSROOM, cls.id)).revokeEnrollment(studentId);
  return c.body(null, 204);
});
