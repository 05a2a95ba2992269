import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ClassResponse, FeedbackSummary } from "../../schema/api/portal";
import { attendance, blocks, enrollments, feedback, liveSessions, type User } from "../../schema/db";
import { api, createUser, db } from "./helpers";

const HOUR = 3_600_000;

/**
 * A class by a new teacher with one occurrence at [start, start + 1 h) and `students` enrolled; when the
 * occurrence is in the past, the students attended a live session of it (as the class object records).
 */
async function classWith(start: number, students: User[], options: { attended?: boolean } = {}) {
  const teacher = await createUser("teacher");
  const res = await api("/api/classes", { as: teacher, body: { title: "Rated class" } });
  const classId = (await res.json<ClassResponse>()).class.id;
  const occ = await api(`/api/classes/${classId}/occurrences`, {
    as: teacher,
    body: { startsAt: start, endsAt: start + HOUR, timezone: "UTC", allowPast: true },
  });
  expect(occ.status).toBe(201);
  for (const student of students) await db.insert(enrollments).values({ classId, userId: student.id, createdAt: Date.now() });
  if (options.attended ?? start < Date.now()) await attend(classId, students, start);
  return { teacher, classId };
}

/** A live session of the class that `students` joined and left. */
async function attend(classId: string, students: User[], at = Date.now() - HOUR) {
  const sessionId = crypto.randomUUID();
  await db.insert(liveSessions).values({ id: sessionId, classId, occurrenceId: null, startedAt: at, endedAt: at + HOUR });
  for (const student of students) {
    await db
      .insert(attendance)
      .values({ id: crypto.randomUUID(), sessionId, userId: student.id, joinedAt: at, leftAt: at + HOUR, durationMs: HOUR, leaveReason: "ended" });
  }
}

async function rows(classId: string) {
  return db
    .select()
    .from(feedback)
    .where(and(eq(feedback.targetType, "class"), eq(feedback.targetId, classId)));
}

describe("class feedback", () => {
  it("refuses a rating from an enrolled student who attended no session, then accepts it once they have", async () => {
    const student = await createUser("student");
    const { classId } = await classWith(Date.now() - 2 * HOUR, [student], { attended: false });
    const early = await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body: { rating: 5 } });
    expect(early.status).toBe(409);
    expect(await early.json()).toEqual({ error: { code: "CONFLICT", message: "Rate this class after you have attended it" } });
    expect(await rows(classId)).toHaveLength(0);
    expect((await (await api(`/api/classes/${classId}`, { as: student })).json<ClassResponse>()).class.canRate).toBe(false);

    await attend(classId, [student]);
    expect((await (await api(`/api/classes/${classId}`, { as: student })).json<ClassResponse>()).class.canRate).toBe(true);
    const res = await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body: { rating: 4, comment: "Clear explanations" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ feedback: { classId, rating: 4, comment: "Clear explanations" } });
  });

  it("an attendee of another class's session cannot rate this one", async () => {
    const student = await createUser("student");
    const { classId } = await classWith(Date.now() - 3 * HOUR, [student], { attended: false });
    const other = await classWith(Date.now() - 3 * HOUR, [student]);
    expect((await api(`/api/classes/${other.classId}/feedback`, { as: student, method: "PUT", body: { rating: 3 } })).status).toBe(200);
    const res = await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body: { rating: 2 } });
    expect(res.status).toBe(409);
    expect(await rows(classId)).toHaveLength(0);
  });

  it("keeps one rating per student; PUT again replaces it, and the class shows it as mine", async () => {
    const student = await createUser("student");
    const { classId } = await classWith(Date.now() - 2 * HOUR, [student]);
    await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body: { rating: 2, comment: "Too fast" } });
    const second = await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body: { rating: 5 } });
    expect(await second.json()).toMatchObject({ feedback: { rating: 5, comment: "" } });
    const stored = await rows(classId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ userId: student.id, rating: 5, comment: "", classId });
    const detail = await (await api(`/api/classes/${classId}`, { as: student })).json<ClassResponse>();
    expect(detail.class.myRating).toEqual({ rating: 5, comment: "" });
    expect(detail.class.rating).toEqual({ average: 5, count: 1 });
  });

  it("aggregates average, count and distribution; only the teacher and admins read the comments", async () => {
    const students = await Promise.all([1, 2, 3].map(() => createUser("student")));
    const { teacher, classId } = await classWith(Date.now() - 2 * HOUR, students);
    const admin = await createUser("admin");
    const ratings: [number, string][] = [
      [5, "Great"],
      [4, ""],
      [4, "Good pace"],
    ];
    for (const [i, [rating, comment]] of ratings.entries()) {
      expect((await api(`/api/classes/${classId}/feedback`, { as: students[i]!, method: "PUT", body: { rating, comment } })).status).toBe(200);
    }
    const forStudent = await (await api(`/api/classes/${classId}/feedback`, { as: students[0]! })).json<FeedbackSummary>();
    expect(forStudent).toEqual({ average: 4.33, count: 3, distribution: [0, 0, 0, 2, 1] });

    for (const manager of [teacher, admin]) {
      const summary = await (await api(`/api/classes/${classId}/feedback`, { as: manager })).json<FeedbackSummary>();
      expect(summary).toMatchObject({ average: 4.33, count: 3, distribution: [0, 0, 0, 2, 1] });
      expect(summary.comments?.map((c) => c.comment).sort()).toEqual(["Good pace", "Great"]);
      expect(summary.comments?.find((c) => c.comment === "Great")).toMatchObject({ userId: students[0]!.id, displayName: students[0]!.displayName, rating: 5 });
    }
    const list = await (await api("/api/classes?scope=teaching", { as: teacher })).json<{ classes: { id: string; rating: unknown }[] }>();
    expect(list.classes.find((c) => c.id === classId)?.rating).toEqual({ average: 4.33, count: 3 });
  });

  it("refuses students who are not enrolled, the teacher, and a student blocked from the class", async () => {
    const enrolled = await createUser("student");
    const outsider = await createUser("student");
    const { teacher, classId } = await classWith(Date.now() - 2 * HOUR, [enrolled]);
    for (const user of [outsider, teacher]) {
      const res = await api(`/api/classes/${classId}/feedback`, { as: user, method: "PUT", body: { rating: 1 } });
      expect(res.status).toBe(403);
    }
    await db.insert(blocks).values({ id: crypto.randomUUID(), userId: enrolled.id, classId, reason: "spam", blockedBy: teacher.id, createdAt: Date.now() });
    const blocked = await api(`/api/classes/${classId}/feedback`, { as: enrolled, method: "PUT", body: { rating: 1 } });
    expect(blocked.status).toBe(403);
    expect(((await blocked.json()) as { error: { message: string } }).error.message).toBe("You are blocked from this class, so you cannot rate it");
    expect(await rows(classId)).toHaveLength(0);
  });

  it("refuses ratings outside 1…5, fractional ratings and over-long comments", async () => {
    const student = await createUser("student");
    const { classId } = await classWith(Date.now() - 2 * HOUR, [student]);
    for (const body of [{ rating: 0 }, { rating: 6 }, { rating: 3.5 }, { rating: 3, comment: "x".repeat(2001) }]) {
      const res = await api(`/api/classes/${classId}/feedback`, { as: student, method: "PUT", body });
      expect(res.status).toBe(400);
    }
    expect(await rows(classId)).toHaveLength(0);
  });
});
