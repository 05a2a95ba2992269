import { eq, inArray, or, sql } from "drizzle-orm";
import { attendance, blocks, classes, classSeries, enrollments, feedback, liveSessions, occurrences, type Role, type User, users } from "../../schema/db";
import { db, userRow } from "./helpers";

const HOUR = 3_600_000;

/** Who calls a route in the authorization matrix. */
export const PERSONAS = ["anonymous", "student", "enrolled", "teacher", "otherTeacher", "admin"] as const;
export type Persona = (typeof PERSONAS)[number];

/**
 * A fresh class world for one portal test: class `classId` taught by `teacher`, with `enrolled` and `victim`
 * enrolled, one ended occurrence whose live session they attended (so they may rate) and one upcoming, a class block on
 * `classBlocked` and a global block on `globallyBlocked`. Built with direct inserts so each case is cheap.
 */
export async function portalFixture() {
  const now = Date.now();
  const person = (role: Role, name: string): User => {
    const id = crypto.randomUUID();
    return userRow(role, { id, email: `${name}-${id.slice(0, 8)}@example.test`, displayName: name, createdAt: now, updatedAt: now });
  };
  const teacher = person("teacher", "teacher");
  const otherTeacher = person("teacher", "other-teacher");
  const admin = person("admin", "admin");
  const student = person("student", "student");
  const enrolled = person("student", "enrolled");
  const victim = person("student", "victim");
  const classBlocked = person("student", "class-blocked");
  const globallyBlocked = person("student", "globally-blocked");
  const bystander = person("student", "bystander");
  const classId = crypto.randomUUID();
  const pastOccurrenceId = crypto.randomUUID();
  const futureOccurrenceId = crypto.randomUUID();
  const classBlockId = crypto.randomUUID();
  const globalBlockId = crypto.randomUUID();
  await db.batch([
    db.insert(users).values(teacher),
    ...[otherTeacher, admin, student, enrolled, victim, classBlocked, globallyBlocked, bystander].map((user) => db.insert(users).values(user)),
    db.insert(classes).values({ id: classId, title: "Fixture class", teacherId: teacher.id, createdAt: now, updatedAt: now }),
    db
      .insert(occurrences)
      .values({ id: pastOccurrenceId, classId, startsAt: now - 3 * HOUR, endsAt: now - 2 * HOUR, timezone: "UTC", createdAt: now, updatedAt: now }),
    db
      .insert(occurrences)
      .values({ id: futureOccurrenceId, classId, startsAt: now + 24 * HOUR, endsAt: now + 25 * HOUR, timezone: "UTC", createdAt: now, updatedAt: now }),
    db.insert(enrollments).values({ classId, userId: enrolled.id, createdAt: now }),
    db.insert(enrollments).values({ classId, userId: victim.id, createdAt: now }),
    db
      .insert(liveSessions)
      .values({ id: `${pastOccurrenceId}-session`, classId, occurrenceId: pastOccurrenceId, startedAt: now - 3 * HOUR, endedAt: now - 2 * HOUR }),
    ...[enrolled, victim].map((user) =>
      db.insert(attendance).values({
        id: crypto.randomUUID(),
        sessionId: `${pastOccurrenceId}-session`,
        userId: user.id,
        joinedAt: now - 3 * HOUR,
        leftAt: now - 2 * HOUR,
        durationMs: HOUR,
        leaveReason: "ended",
      }),
    ),
    db.insert(blocks).values({ id: classBlockId, userId: classBlocked.id, classId, reason: "fixture", blockedBy: teacher.id, createdAt: now }),
    db.insert(blocks).values({ id: globalBlockId, userId: globallyBlocked.id, reason: "fixture", blockedBy: admin.id, createdAt: now }),
  ]);
  const personas: Record<Persona, User | null> = { anonymous: null, student, enrolled, teacher, otherTeacher, admin };
  return {
    teacher,
    otherTeacher,
    admin,
    student,
    enrolled,
    victim,
    bystander,
    classBlocked,
    globallyBlocked,
    classId,
    pastOccurrenceId,
    futureOccurrenceId,
    classBlockId,
    globalBlockId,
    personas,
    now,
  };
}
export type PortalFixture = Awaited<ReturnType<typeof portalFixture>>;

/**
 * Every row a portal route could have written for fixture `f`: the fixture's own rows in full, plus the row
 * count of each table (a refused call knows only the fixture's ids, so anything else it wrote is a new row).
 * Sessions are left out: signing the caller in writes one.
 */
export async function snapshotPortalTables(f: PortalFixture) {
  const userIds = [f.teacher, f.otherTeacher, f.admin, f.student, f.enrolled, f.victim, f.bystander, f.classBlocked, f.globallyBlocked].map((u) => u.id);
  const count = (table: typeof classes | typeof classSeries | typeof occurrences | typeof enrollments | typeof feedback | typeof blocks | typeof users) =>
    db
      .select({ n: sql<number>`count(*)` })
      .from(table)
      .then((rows) => rows[0]!.n);
  const [counts, classRows, seriesRows, occurrenceRows, enrollmentRows, feedbackRows, blockRows, userRows] = await Promise.all([
    Promise.all([classes, classSeries, occurrences, enrollments, feedback, blocks, users].map(count)),
    db.select().from(classes).where(eq(classes.id, f.classId)),
    db.select().from(classSeries).where(eq(classSeries.classId, f.classId)).orderBy(classSeries.id),
    db.select().from(occurrences).where(eq(occurrences.classId, f.classId)).orderBy(occurrences.id),
    db
      .select()
      .from(enrollments)
      .where(or(eq(enrollments.classId, f.classId), inArray(enrollments.userId, userIds)))
      .orderBy(enrollments.classId, enrollments.userId),
    db
      .select()
      .from(feedback)
      .where(or(eq(feedback.classId, f.classId), inArray(feedback.userId, userIds)))
      .orderBy(feedback.id),
    db
      .select()
      .from(blocks)
      .where(or(eq(blocks.classId, f.classId), inArray(blocks.userId, userIds)))
      .orderBy(blocks.id),
    db.select().from(users).where(inArray(users.id, userIds)).orderBy(users.id),
  ]);
  return { counts, classRows, seriesRows, occurrenceRows, enrollmentRows, feedbackRows, blockRows, userRows };
}
