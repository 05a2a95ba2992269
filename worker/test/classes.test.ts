import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ClassDetail, ClassListResponse, ClassResponse, EnrollmentListResponse, OccurrencesResponse } from "../../schema/api/portal";
import { classes, enrollments, occurrences, type User, users } from "../../schema/db";
import { api, createUser, db } from "./helpers";

const HOUR = 3_600_000;

async function createClass(as: User, body: Record<string, unknown> = {}) {
  const res = await api("/api/classes", { as, body: { title: "Algebra", ...body } });
  expect(res.status).toBe(201);
  return (await res.json<ClassResponse>()).class;
}

describe("classes", () => {
  it("a teacher creates a class for themself, with defaults the class page shows", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher, { title: "  Linear algebra  ", description: "Vectors", reminderMinutes: [10, 1440] });
    expect(cls).toMatchObject({
      title: "Linear algebra",
      description: "Vectors",
      kind: "live",
      status: "active",
      teacher: { id: teacher.id, displayName: teacher.displayName },
      enrolled: false,
      enrolledCount: 0,
      nextOccurrence: null,
      rating: { average: null, count: 0 },
      reminderMinutes: [1440, 10],
      occurrences: [],
      canManage: true,
      myRating: null,
      canRate: false,
    });
    const res = await api(`/api/classes/${cls.id}`, { as: teacher });
    expect((await res.json<ClassResponse>()).class.title).toBe("Linear algebra");
  });

  it("an admin creates a class for a teacher, but not for a student", async () => {
    const admin = await createUser("admin");
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(admin, { teacherId: teacher.id });
    expect(cls.teacher.id).toBe(teacher.id);
    const refused = await api("/api/classes", { as: admin, body: { title: "X", teacherId: student.id } });
    expect(refused.status).toBe(400);
    expect(await db.select().from(classes).where(eq(classes.teacherId, student.id))).toHaveLength(0);
  });

  it("a teacher cannot create a class for another teacher", async () => {
    const teacher = await createUser("teacher");
    const other = await createUser("teacher");
    const res = await api("/api/classes", { as: teacher, body: { title: "Sneaky", teacherId: other.id } });
    expect(res.status).toBe(403);
    expect(await db.select().from(classes).where(eq(classes.title, "Sneaky"))).toHaveLength(0);
  });

  it("edits and archives a class; archived classes leave the catalog except for their teacher", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher, { title: "Archive me" });
    const patched = await api(`/api/classes/${cls.id}`, { method: "PATCH", as: teacher, body: { title: "Archived", kind: "recorded", status: "archived" } });
    expect(patched.status).toBe(200);
    expect((await patched.json<ClassResponse>()).class).toMatchObject({ title: "Archived", kind: "recorded", status: "archived" });

    const studentList = await (await api("/api/classes", { as: student })).json<ClassListResponse>();
    expect(studentList.classes.map((c) => c.id)).not.toContain(cls.id);
    expect((await api(`/api/classes/${cls.id}`, { as: student })).status).toBe(404);
    const teacherList = await (await api("/api/classes?scope=teaching", { as: teacher })).json<ClassListResponse>();
    expect(teacherList.classes.map((c) => c.id)).toContain(cls.id);
  });

  it("lists by scope, soonest next occurrence first, with counts and the viewer's enrollment", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const later = await createClass(teacher, { title: "Later" });
    const sooner = await createClass(teacher, { title: "Sooner" });
    const now = Date.now();
    for (const [cls, start] of [
      [later, now + 48 * HOUR],
      [sooner, now + 2 * HOUR],
    ] as const) {
      const res = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { startsAt: start, endsAt: start + HOUR, timezone: "UTC" } });
      expect(res.status).toBe(201);
    }
    expect((await api(`/api/classes/${sooner.id}/enrollment`, { as: student, method: "POST" })).status).toBe(201);

    const teaching = await (await api("/api/classes?scope=teaching", { as: teacher })).json<ClassListResponse>();
    expect(teaching.classes.map((c) => c.title)).toEqual(["Sooner", "Later"]);
    expect(teaching.classes[0]).toMatchObject({ enrolledCount: 1, enrolled: false, nextOccurrence: { startsAt: now + 2 * HOUR } });

    const enrolled = await (await api("/api/classes?scope=enrolled", { as: student })).json<ClassListResponse>();
    expect(enrolled.classes.map((c) => c.id)).toEqual([sooner.id]);
    expect(enrolled.classes[0]!.enrolled).toBe(true);

    const limited = await (await api("/api/classes?scope=teaching&limit=1&offset=1", { as: teacher })).json<ClassListResponse>();
    expect(limited.classes.map((c) => c.title)).toEqual(["Later"]);
  });

  it("deleting a class removes its occurrences and enrollments", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher);
    await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { startsAt: Date.now() + HOUR, endsAt: Date.now() + 2 * HOUR, timezone: "UTC" } });
    await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "POST" });
    const res = await api(`/api/classes/${cls.id}`, { as: teacher, method: "DELETE" });
    expect(res.status).toBe(204);
    expect((await api(`/api/classes/${cls.id}`, { as: teacher })).status).toBe(404);
    expect(await db.select().from(occurrences).where(eq(occurrences.classId, cls.id))).toHaveLength(0);
    expect(await db.select().from(enrollments).where(eq(enrollments.classId, cls.id))).toHaveLength(0);
  });
});

describe("occurrences", () => {
  it("refuses an end before the start, more than 12 hours, and an unknown time zone", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const start = Date.now() + HOUR;
    for (const body of [
      { startsAt: start, endsAt: start, timezone: "UTC" },
      { startsAt: start, endsAt: start + 12 * HOUR + 60_000, timezone: "UTC" },
      { startsAt: start, endsAt: start + HOUR, timezone: "Mars/Olympus_Mons" },
    ]) {
      const res = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    }
    expect(await db.select().from(occurrences).where(eq(occurrences.classId, cls.id))).toHaveLength(0);
  });

  it("moves an occurrence (bumping its revision) and cancels it once; a cancelled one cannot move", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const start = Date.now() + 24 * HOUR;
    const created = await (
      await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { startsAt: start, endsAt: start + HOUR, timezone: "Europe/Berlin" } })
    ).json<OccurrencesResponse>();
    const id = created.occurrences[0]!.id;

    const moved = await api(`/api/occurrences/${id}`, { method: "PATCH", as: teacher, body: { startsAt: start + HOUR, endsAt: start + 2 * HOUR } });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({
      occurrence: { id, startsAt: start + HOUR, endsAt: start + 2 * HOUR, status: "scheduled", timezone: "Europe/Berlin" },
    });
    expect((await db.query.occurrences.findFirst({ where: eq(occurrences.id, id) }))!.revision).toBe(1);

    const cancelled = await api(`/api/occurrences/${id}/cancel`, { method: "POST", as: teacher });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ occurrence: { id, status: "cancelled" } });

    const again = await api(`/api/occurrences/${id}/cancel`, { method: "POST", as: teacher });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "CONFLICT" } });
    const moveCancelled = await api(`/api/occurrences/${id}`, { method: "PATCH", as: teacher, body: { startsAt: start, endsAt: start + HOUR } });
    expect(moveCancelled.status).toBe(409);
    const row = await db.query.occurrences.findFirst({ where: eq(occurrences.id, id) });
    expect(row).toMatchObject({ startsAt: start + HOUR, status: "cancelled" });

    const detail = await (await api(`/api/classes/${cls.id}`, { as: teacher })).json<ClassResponse>();
    expect(detail.class.nextOccurrence).toBeNull();
    expect(detail.class.occurrences.map((o) => o.status)).toEqual(["cancelled"]);
  });
});

describe("enrollment", () => {
  it("a student enrolls and leaves; enrolling twice is a conflict", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher);
    const res = await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "POST" });
    expect(res.status).toBe(201);
    expect((await res.json<{ class: ClassDetail }>()).class).toMatchObject({ enrolled: true, enrolledCount: 1, canManage: false });
    expect((await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "POST" })).status).toBe(409);
    expect((await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "DELETE" })).status).toBe(204);
    expect((await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "DELETE" })).status).toBe(404);
    const after = await (await api(`/api/classes/${cls.id}`, { as: student })).json<ClassResponse>();
    expect(after.class).toMatchObject({ enrolled: false, enrolledCount: 0 });
  });

  it("a teacher enrolls by e-mail, creating a placeholder account for a new address", async () => {
    const teacher = await createUser("teacher");
    const existing = await createUser("student");
    const cls = await createClass(teacher);
    const known = await api(`/api/classes/${cls.id}/enrollments`, { as: teacher, body: { email: existing.email.toUpperCase() } });
    expect(known.status).toBe(201);
    expect(await known.json()).toEqual({ student: { id: existing.id, displayName: existing.displayName, email: existing.email } });

    const fresh = await api(`/api/classes/${cls.id}/enrollments`, { as: teacher, body: { email: "new.person@example.test" } });
    expect(fresh.status).toBe(201);
    const { student } = await fresh.json<{ student: { id: string } }>();
    const placeholder = await db.query.users.findFirst({ where: eq(users.id, student.id) });
    expect(placeholder).toMatchObject({ email: "new.person@example.test", displayName: "new.person", role: "student", passwordHash: null, inspId: null });

    const duplicate = await api(`/api/classes/${cls.id}/enrollments`, { as: teacher, body: { email: "NEW.person@example.test" } });
    expect(duplicate.status).toBe(409);

    const list = await (await api(`/api/classes/${cls.id}/enrollments`, { as: teacher })).json<EnrollmentListResponse>();
    expect(list.students.map((s) => s.id).sort()).toEqual([existing.id, student.id].sort());

    expect((await api(`/api/classes/${cls.id}/enrollments/${existing.id}`, { as: teacher, method: "DELETE" })).status).toBe(204);
    const after = await (await api(`/api/classes/${cls.id}/enrollments`, { as: teacher })).json<EnrollmentListResponse>();
    expect(after.students.map((s) => s.id)).toEqual([student.id]);
  });

  it("the teacher of a class cannot enroll in it, and nobody enrolls in an archived class", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher);
    expect((await api(`/api/classes/${cls.id}/enrollment`, { as: teacher, method: "POST" })).status).toBe(409);
    await api(`/api/classes/${cls.id}`, { method: "PATCH", as: teacher, body: { status: "archived" } });
    expect((await api(`/api/classes/${cls.id}/enrollments`, { as: teacher, body: { email: student.email } })).status).toBe(409);
    expect(await db.select().from(enrollments).where(eq(enrollments.classId, cls.id))).toHaveLength(0);
  });
});

describe("refused forms name their fields in plain words", () => {
  it("a blank title is refused at the title, without a field-name prefix, and nothing is written", async () => {
    const teacher = await createUser("teacher");
    const res = await api("/api/classes", { as: teacher, body: { title: "   ", description: "Kept" } });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string; fields?: Record<string, string> } }>();
    expect(error).toEqual({ code: "INVALID_MESSAGE", message: "Give the class a title.", fields: { title: "Give the class a title." } });
    expect(await db.select().from(classes).where(eq(classes.teacherId, teacher.id))).toHaveLength(0);
  });

  it("a title over the limit is refused, not cut", async () => {
    const teacher = await createUser("teacher");
    const res = await api("/api/classes", { as: teacher, body: { title: "x".repeat(201) } });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { fields: Record<string, string> } }>();
    expect(error.fields.title).toBe("Keep the title to 200 characters or fewer.");
  });

  it("a series with too many sessions names the count", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const series = { firstStartLocal: "2099-06-01T10:00", durationMinutes: 60, timezone: "UTC", frequency: "weekly", count: 101 };
    const res = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { series } });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { message: string; fields: Record<string, string> } }>();
    expect(error.fields).toEqual({ "series.count": "A series has at most 100 sessions; add another series for more." });
    expect(error.message).not.toMatch(/^[\w.]+: /);
  });
});

describe("sessions in the past", () => {
  it("refuses a session five days ago unless the teacher confirms it", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const startsAt = Date.now() - 5 * 24 * HOUR;
    const body = { startsAt, endsAt: startsAt + HOUR, timezone: "UTC" };
    const refused = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body });
    expect(refused.status).toBe(400);
    const { error } = await refused.json<{ error: { message: string; fields: Record<string, string> } }>();
    expect(error.message).toMatch(/already passed/);
    expect(Object.keys(error.fields)).toEqual(["startsAt"]);
    expect(await db.select().from(occurrences).where(eq(occurrences.classId, cls.id))).toHaveLength(0);

    const confirmed = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { ...body, allowPast: true } });
    expect(confirmed.status).toBe(201);
    expect((await confirmed.json<OccurrencesResponse>()).occurrences[0]).toMatchObject({ startsAt });
  });

  it("refuses a series whose first session has passed unless confirmed", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const series = { firstStartLocal: "2020-01-06T10:00", durationMinutes: 60, timezone: "UTC", frequency: "weekly", count: 2 };
    const refused = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { series } });
    expect(refused.status).toBe(400);
    expect(Object.keys((await refused.json<{ error: { fields: Record<string, string> } }>()).error.fields)).toEqual(["series.firstStartLocal"]);
    expect(await db.select().from(occurrences).where(eq(occurrences.classId, cls.id))).toHaveLength(0);
    const confirmed = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { series, allowPast: true } });
    expect(confirmed.status).toBe(201);
  });

  it("a class started a minute ago is not a past session", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const startsAt = Date.now() - 60_000;
    const res = await api(`/api/classes/${cls.id}/occurrences`, { as: teacher, body: { startsAt, endsAt: startsAt + HOUR, timezone: "UTC" } });
    expect(res.status).toBe(201);
  });
});
