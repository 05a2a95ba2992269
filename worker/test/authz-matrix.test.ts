import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, ORIGIN } from "./helpers";
import { PERSONAS, type PortalFixture, portalFixture, snapshotPortalTables } from "./portal-fixture";

const HOUR = 3_600_000;

/** Expected status per persona, in PERSONAS order: anonymous, student, enrolled, teacher, otherTeacher, admin. */
type Row = [number, number, number, number, number, number];

interface RouteCase {
  name: string;
  request: (f: PortalFixture) => { method: string; path: string; body?: unknown };
  expect: Row;
  /** Requests that need no cookie (the ICS feed) are sent without one. */
  noCookie?: boolean;
}

const ROUTES: RouteCase[] = [
  { name: "GET /api/classes", request: () => ({ method: "GET", path: "/api/classes" }), expect: [401, 200, 200, 200, 200, 200] },
  {
    name: "POST /api/classes",
    request: () => ({ method: "POST", path: "/api/classes", body: { title: "New class" } }),
    expect: [401, 403, 403, 201, 201, 201],
  },
  { name: "GET /api/classes/:id", request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}` }), expect: [401, 200, 200, 200, 200, 200] },
  {
    name: "PATCH /api/classes/:id",
    request: (f) => ({ method: "PATCH", path: `/api/classes/${f.classId}`, body: { title: "Renamed" } }),
    expect: [401, 403, 403, 200, 403, 200],
  },
  { name: "DELETE /api/classes/:id", request: (f) => ({ method: "DELETE", path: `/api/classes/${f.classId}` }), expect: [401, 403, 403, 204, 403, 204] },
  {
    name: "POST /api/classes/:id/occurrences",
    request: (f) => ({
      method: "POST",
      path: `/api/classes/${f.classId}/occurrences`,
      body: { startsAt: f.now + 48 * HOUR, endsAt: f.now + 49 * HOUR, timezone: "UTC" },
    }),
    expect: [401, 403, 403, 201, 403, 201],
  },
  {
    name: "PATCH /api/occurrences/:id",
    request: (f) => ({ method: "PATCH", path: `/api/occurrences/${f.futureOccurrenceId}`, body: { startsAt: f.now + 30 * HOUR, endsAt: f.now + 31 * HOUR } }),
    expect: [401, 403, 403, 200, 403, 200],
  },
  {
    name: "POST /api/occurrences/:id/cancel",
    request: (f) => ({ method: "POST", path: `/api/occurrences/${f.futureOccurrenceId}/cancel` }),
    expect: [401, 403, 403, 200, 403, 200],
  },
  {
    name: "GET /api/calendar",
    request: (f) => ({ method: "GET", path: `/api/calendar?from=${f.now - 24 * HOUR}&to=${f.now + 48 * HOUR}` }),
    expect: [401, 200, 200, 200, 200, 200],
  },
  { name: "GET /api/me/calendar-feed", request: () => ({ method: "GET", path: "/api/me/calendar-feed" }), expect: [401, 200, 200, 200, 200, 200] },
  {
    name: "POST /api/me/calendar-feed/rotate",
    request: () => ({ method: "POST", path: "/api/me/calendar-feed/rotate" }),
    expect: [401, 200, 200, 200, 200, 200],
  },
  {
    name: "GET /calendar/:secret.ics",
    request: (f) => ({ method: "GET", path: `/calendar/${f.teacher.calendarSecret}.ics` }),
    expect: [200, 200, 200, 200, 200, 200],
    noCookie: true,
  },
  {
    name: "POST /api/classes/:id/enrollment",
    request: (f) => ({ method: "POST", path: `/api/classes/${f.classId}/enrollment` }),
    expect: [401, 201, 409, 409, 201, 201],
  },
  {
    name: "DELETE /api/classes/:id/enrollment",
    request: (f) => ({ method: "DELETE", path: `/api/classes/${f.classId}/enrollment` }),
    expect: [401, 404, 204, 404, 404, 404],
  },
  {
    name: "GET /api/classes/:id/enrollments",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/enrollments` }),
    expect: [401, 403, 403, 200, 403, 200],
  },
  {
    name: "POST /api/classes/:id/enrollments",
    request: (f) => ({ method: "POST", path: `/api/classes/${f.classId}/enrollments`, body: { email: f.bystander.email } }),
    expect: [401, 403, 403, 201, 403, 201],
  },
  {
    name: "DELETE /api/classes/:id/enrollments/:userId",
    request: (f) => ({ method: "DELETE", path: `/api/classes/${f.classId}/enrollments/${f.victim.id}` }),
    expect: [401, 403, 403, 204, 403, 204],
  },
  {
    name: "PUT /api/classes/:id/feedback",
    request: (f) => ({ method: "PUT", path: `/api/classes/${f.classId}/feedback`, body: { rating: 4 } }),
    expect: [401, 403, 200, 403, 403, 403],
  },
  {
    name: "GET /api/classes/:id/feedback",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/feedback` }),
    expect: [401, 200, 200, 200, 200, 200],
  },
  { name: "GET /api/blocks?classId=", request: (f) => ({ method: "GET", path: `/api/blocks?classId=${f.classId}` }), expect: [401, 403, 403, 200, 403, 200] },
  { name: "GET /api/blocks", request: () => ({ method: "GET", path: "/api/blocks" }), expect: [401, 403, 403, 200, 200, 200] },
  {
    name: "POST /api/blocks (class)",
    request: (f) => ({ method: "POST", path: "/api/blocks", body: { userId: f.bystander.id, classId: f.classId, reason: "Disruptive" } }),
    expect: [401, 403, 403, 201, 403, 201],
  },
  {
    name: "POST /api/blocks (global)",
    request: (f) => ({ method: "POST", path: "/api/blocks", body: { userId: f.bystander.id, reason: "Abuse" } }),
    expect: [401, 403, 403, 403, 403, 201],
  },
  {
    name: "DELETE /api/blocks/:id (class)",
    request: (f) => ({ method: "DELETE", path: `/api/blocks/${f.classBlockId}` }),
    expect: [401, 403, 403, 204, 403, 204],
  },
  {
    name: "DELETE /api/blocks/:id (global)",
    request: (f) => ({ method: "DELETE", path: `/api/blocks/${f.globalBlockId}` }),
    expect: [401, 403, 403, 403, 403, 204],
  },
  {
    name: "GET /api/classes/:id/sessions",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/sessions` }),
    expect: [401, 403, 200, 200, 403, 200],
  },
  {
    name: "GET /api/classes/:id/sessions/:sessionId/attendance",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/sessions/${f.pastOccurrenceId}-session/attendance` }),
    expect: [401, 403, 200, 200, 403, 200],
  },
  {
    name: "GET /api/classes/:id/sessions/:sessionId/attendance.csv",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/sessions/${f.pastOccurrenceId}-session/attendance.csv` }),
    expect: [401, 403, 200, 200, 403, 200],
  },
  {
    name: "GET /api/classes/:id/attendance",
    request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/attendance` }),
    expect: [401, 403, 403, 200, 403, 200],
  },
  { name: "GET /api/admin/users", request: () => ({ method: "GET", path: "/api/admin/users" }), expect: [401, 403, 403, 403, 403, 200] },
  {
    name: "GET /api/admin/classes/:id/media",
    request: (f) => ({ method: "GET", path: `/api/admin/classes/${f.classId}/media` }),
    expect: [401, 403, 403, 403, 403, 200],
  },
  {
    name: "PATCH /api/admin/users/:id",
    request: (f) => ({ method: "PATCH", path: `/api/admin/users/${f.bystander.id}`, body: { role: "teacher" } }),
    expect: [401, 403, 403, 403, 403, 200],
  },
  {
    name: "POST /api/admin/users",
    request: () => ({
      method: "POST",
      path: "/api/admin/users",
      body: { email: `local-${crypto.randomUUID()}@example.test`, displayName: "Local", role: "student", password: "correct horse battery" },
    }),
    expect: [401, 403, 403, 403, 403, 201],
  },
];

describe.each(ROUTES)("$name", (route) => {
  it.each(PERSONAS.map((persona, i) => ({ persona, status: route.expect[i]! })))("$persona → $status", async ({ persona, status }) => {
    const f = await portalFixture();
    const { method, path, body } = route.request(f);
    const before = await snapshotPortalTables(f);
    const res = route.noCookie ? await SELF.fetch(`${ORIGIN}${path}`) : await api(path, { method, body, as: f.personas[persona] });
    const text = await res.text();
    expect(res.status, text).toBe(status);
    const after = await snapshotPortalTables(f);
    if (status >= 400) {
      expect(JSON.parse(text)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
      expect(after, "a refused call must change nothing").toEqual(before);
    } else if (method === "GET") {
      expect(after, "a read must change nothing").toEqual(before);
    } else {
      expect(after, "an allowed change must be stored").not.toEqual(before);
    }
  });
});
