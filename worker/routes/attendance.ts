import { Hono } from "hono";
import * as v from "valibot";
import {
  AttendanceSessionsResponseSchema,
  ClassAttendanceResponseSchema,
  SessionAttendanceResponseSchema,
  SessionListQuerySchema,
} from "../../schema/api/attendance";
import { IdSchema } from "../../schema/api/portal";
import type { AppEnv } from "../app-env";
import { requireUser } from "../auth/session";
import { loadVisibleClass } from "../portal/classes";
import { attendanceAudience, classAttendance, listSessions, loadSession, sessionCsv, sessionReport } from "../portal/attendance";
import { attachmentDisposition } from "../portal/attendance-math";
import { page } from "../portal/paging";
import { requireManageClass } from "../portal/permissions";
import { parse, queryParams } from "../validate";

/**
 * The attendance and engagement report of a class (README "Attendance report"): its teacher and admins see
 * everyone, its enrolled students their own line; anyone else is refused.
 */
export const attendanceRoutes = new Hono<AppEnv>();

/**
 * The response after checking it against its schema: a report that does not match is our bug, so it is a 500
 * (logged) rather than a half-right answer, and never a 400 that would blame the caller.
 */
function checked<S extends v.GenericSchema>(schema: S, body: v.InferInput<S>): v.InferOutput<S> {
  const result = v.safeParse(schema, body);
  if (!result.success) throw new Error(`Attendance response does not match its schema: ${v.summarize(result.issues)}`);
  return result.output;
}

attendanceRoutes.get("/api/classes/:id/sessions", async (c) => {
  const user = requireUser(c);
  const { cls, enrolled } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  attendanceAudience(user, cls, enrolled);
  const query = queryParams(c, SessionListQuerySchema);
  return c.json(checked(AttendanceSessionsResponseSchema, { sessions: await listSessions(c.var.db, cls.id, page(query)) }));
});

attendanceRoutes.get("/api/classes/:id/sessions/:sessionId/attendance", async (c) => {
  const user = requireUser(c);
  const { cls, enrolled } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const audience = attendanceAudience(user, cls, enrolled);
  const session = await loadSession(c.var.db, cls.id, parse(IdSchema, c.req.param("sessionId")));
  return c.json(checked(SessionAttendanceResponseSchema, await sessionReport(c.var.db, cls, session, user, audience, Date.now())));
});

attendanceRoutes.get("/api/classes/:id/sessions/:sessionId/attendance.csv", async (c) => {
  const user = requireUser(c);
  const { cls, enrolled } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const audience = attendanceAudience(user, cls, enrolled);
  const session = await loadSession(c.var.db, cls.id, parse(IdSchema, c.req.param("sessionId")));
  const { text, fileName } = await sessionCsv(c.var.db, cls, session, user, audience, Date.now());
  return c.body(text, 200, {
    "content-type": "text/csv; charset=utf-8; header=present",
    "content-disposition": attachmentDisposition(fileName, "csv"),
    "cache-control": "private, no-store",
  });
});

attendanceRoutes.get("/api/classes/:id/attendance", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  return c.json(checked(ClassAttendanceResponseSchema, await classAttendance(c.var.db, cls, Date.now())));
});
