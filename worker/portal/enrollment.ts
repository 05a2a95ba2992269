import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { EnrolledStudent } from "../../schema/api/portal";
import { type ClassRow, enrollments, notifications, occurrences, type User, users } from "../../schema/db";
import { activeBlock, randomToken } from "../auth/session";
import type { Db } from "../db";
import { ApiError } from "../errors";

/**
 * Refuses enrolling `userId` in `cls` when the class is archived or they teach it, and throws `whenBlocked`
 * when they are blocked from the class (or everywhere).
 */
async function checkCanBeEnrolled(db: Db, cls: ClassRow, userId: string, whenBlocked: ApiError): Promise<void> {
  if (cls.status === "archived") throw new ApiError("CONFLICT", "This class is archived");
  if (cls.teacherId === userId) throw new ApiError("CONFLICT", "The teacher of a class cannot enroll in it");
  if (await activeBlock(db, userId, cls.id)) throw whenBlocked;
}

/** Inserts the enrollment; CONFLICT when it already exists. */
async function insertEnrollment(db: Db, classId: string, userId: string, enrolledBy: string): Promise<void> {
  const inserted = await db
    .insert(enrollments)
    .values({ classId, userId, enrolledBy, createdAt: Date.now() })
    .onConflictDoNothing()
    .returning({ userId: enrollments.userId });
  if (inserted.length === 0) throw new ApiError("CONFLICT", "Already enrolled");
}

/** A user enrolls themself. */
export async function enrollSelf(db: Db, cls: ClassRow, user: User): Promise<void> {
  await checkCanBeEnrolled(db, cls, user.id, new ApiError("FORBIDDEN", "You are blocked from this class"));
  await insertEnrollment(db, cls.id, user.id, user.id);
}

/**
 * A teacher (or admin) enrolls someone by e-mail. When nobody has that address yet, a placeholder student
 * is created (no password, no insp id) together with the enrollment; signing in through insp SSO later with
 * the same address links to it.
 */
export async function enrollByEmail(db: Db, cls: ClassRow, email: string, enrolledBy: User): Promise<EnrolledStudent> {
  const existing = await db.query.users.findFirst({ where: sql`lower(${users.email}) = lower(${email})` });
  if (existing) {
    await checkCanBeEnrolled(db, cls, existing.id, new ApiError("CONFLICT", "This user is blocked; lift the block first"));
    await insertEnrollment(db, cls.id, existing.id, enrolledBy.id);
    return { id: existing.id, displayName: existing.displayName, email: existing.email };
  }
  if (cls.status === "archived") throw new ApiError("CONFLICT", "This class is archived");
  const now = Date.now();
  const placeholder = {
    id: crypto.randomUUID(),
    email,
    displayName: email.slice(0, email.indexOf("@")) || email,
    role: "student" as const,
    calendarSecret: randomToken(),
    createdAt: now,
    updatedAt: now,
  };
  await db.batch([
    db.insert(users).values(placeholder),
    db.insert(enrollments).values({ classId: cls.id, userId: placeholder.id, enrolledBy: enrolledBy.id, createdAt: now }),
  ]);
  return { id: placeholder.id, displayName: placeholder.displayName, email: placeholder.email };
}

/**
 * Removes an enrollment and, in the same batch, cancels the user's reminders for the class that are still waiting
 * in the queue (the consumer checks enrolment again before sending, for those already claimed); NOT_FOUND when
 * there was none.
 */
export async function unenroll(db: Db, classId: string, userId: string, notFoundMessage: string): Promise<void> {
  const now = Date.now();
  const [removed] = await db.batch([
    db
      .delete(enrollments)
      .where(and(eq(enrollments.classId, classId), eq(enrollments.userId, userId)))
      .returning({ userId: enrollments.userId }),
    db
      .update(notifications)
      .set({ status: "cancelled", error: "The recipient left the class", updatedAt: now })
      .where(
        and(
          eq(notifications.userId, userId),
          eq(notifications.status, "pending"),
          inArray(notifications.occurrenceId, db.select({ id: occurrences.id }).from(occurrences).where(eq(occurrences.classId, classId))),
        ),
      ),
  ]);
  if (removed.length === 0) throw new ApiError("NOT_FOUND", notFoundMessage);
}

/** A page of a class's students, by name. */
export async function listEnrolled(db: Db, classId: string, page: { limit: number; offset: number }): Promise<EnrolledStudent[]> {
  return db
    .select({ id: users.id, displayName: users.displayName, email: users.email })
    .from(enrollments)
    .innerJoin(users, eq(users.id, enrollments.userId))
    .where(eq(enrollments.classId, classId))
    .orderBy(asc(users.displayName), asc(users.id))
    .limit(page.limit)
    .offset(page.offset);
}
