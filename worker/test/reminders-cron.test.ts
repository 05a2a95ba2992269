import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { blocks, notifications } from "../../schema/db";
import { createUser, db } from "./helpers";
import {
  createClass,
  createOccurrence,
  cronTick,
  enroll,
  HOUR,
  MINUTE,
  notificationsFor,
  pendingNotification,
  providerRequests,
  settled,
  uniquePhone,
} from "./reminders-helpers";

describe("reminder cron", () => {
  it("two overlapping cron runs create and send each reminder exactly once", async () => {
    const teacher = await createUser("teacher");
    const students = await Promise.all([createUser("student"), createUser("student", { phone: uniquePhone(), remindBySms: true }), createUser("student")]);
    const cls = await createClass(teacher);
    await enroll(cls, ...students);
    const tick = Date.now();
    const occurrence = await createOccurrence(cls, tick + HOUR - 30_000);

    await Promise.all([cronTick(tick), cronTick(tick)]);
    const rows = await settled(occurrence.id);

    // teacher + 3 students by e-mail, one student also by SMS; all for the 60-minute window
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((row) => row.kind))).toEqual(new Set(["reminder:60@0"]));
    expect(rows.every((row) => row.status === "sent" && row.providerMessageId)).toBe(true);
    for (const user of [teacher, ...students]) {
      const mails = (await providerRequests("sendgrid", user.email)).filter((request) => request.answer === "ok");
      expect(mails).toHaveLength(1);
    }
    expect((await providerRequests("twilio", students[1]!.phone!)).filter((request) => request.answer === "ok")).toHaveLength(1);

    // A third run a minute later finds nothing new to send.
    await cronTick(tick + MINUTE);
    expect(await notificationsFor(occurrence.id)).toHaveLength(5);
  });

  it("honours each user's channels and skips globally and class-blocked users", async () => {
    const teacher = await createUser("teacher", { remindByEmail: false });
    const admin = await createUser("admin");
    const emailOnly = await createUser("student");
    const both = await createUser("student", { phone: uniquePhone(), remindBySms: true });
    const smsWithoutPhone = await createUser("student", { remindByEmail: false, remindBySms: true });
    const nothing = await createUser("student", { remindByEmail: false });
    const blockedEverywhere = await createUser("student");
    const blockedHere = await createUser("student");
    const blockedElsewhere = await createUser("student");
    const blockLifted = await createUser("student");
    const blockExpired = await createUser("student");
    const cls = await createClass(teacher);
    const otherClass = await createClass(teacher);
    await enroll(cls, emailOnly, both, smsWithoutPhone, nothing, blockedEverywhere, blockedHere, blockedElsewhere, blockLifted, blockExpired);
    const now = Date.now();
    const block = (userId: string, classId: string | null, extra: Partial<typeof blocks.$inferInsert> = {}) => ({
      id: crypto.randomUUID(),
      userId,
      classId,
      reason: "test",
      blockedBy: admin.id,
      createdAt: now,
      ...extra,
    });
    await db
      .insert(blocks)
      .values([
        block(blockedEverywhere.id, null),
        block(blockedHere.id, cls.id),
        block(blockedElsewhere.id, otherClass.id),
        block(blockLifted.id, null, { liftedAt: now - MINUTE, liftedBy: admin.id }),
        block(blockExpired.id, cls.id, { expiresAt: now - MINUTE }),
      ]);
    const occurrence = await createOccurrence(cls, now + 10 * MINUTE);

    await cronTick(now);
    const rows = await notificationsFor(occurrence.id);
    const got = rows.map((row) => `${row.userId}:${row.channel}`).sort();
    const expected = [
      `${emailOnly.id}:email`,
      `${both.id}:email`,
      `${both.id}:sms`,
      `${blockedElsewhere.id}:email`,
      `${blockLifted.id}:email`,
      `${blockExpired.id}:email`,
    ].sort();
    expect(got).toEqual(expected);
    expect(rows.every((row) => row.kind === "reminder:10@0")).toBe(true);
    expect(rows.find((row) => row.channel === "sms")!.destination).toBe(both.phone);
  });

  it("picks the window that just opened, each class's own windows, and nothing before or after", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher);
    const custom = await createClass(teacher, { reminderMinutes: [180, 5] });
    await enroll(cls, student);
    await enroll(custom, student);
    const start = Date.now() + 3 * 24 * HOUR;
    const occurrence = await createOccurrence(cls, start);
    const customOccurrence = await createOccurrence(custom, start);
    const kindsOf = async (id: string) => [...new Set((await notificationsFor(id)).map((row) => row.kind))].sort();

    await cronTick(start - 24 * HOUR - MINUTE);
    expect(await kindsOf(occurrence.id)).toEqual([]);
    await cronTick(start - 24 * HOUR);
    expect(await kindsOf(occurrence.id)).toEqual(["reminder:1440@0"]);
    await cronTick(start - 3 * HOUR);
    expect(await kindsOf(occurrence.id)).toEqual(["reminder:1440@0"]);
    expect(await kindsOf(customOccurrence.id)).toEqual(["reminder:180@0"]);
    // A window that opened long ago (the cron was down) is not sent late; the next one will be.
    await cronTick(start - 19 * MINUTE);
    expect(await kindsOf(occurrence.id)).toEqual(["reminder:1440@0"]);
    await cronTick(start - 5 * MINUTE);
    expect(await kindsOf(occurrence.id)).toEqual(["reminder:10@0", "reminder:1440@0"]);
    expect(await kindsOf(customOccurrence.id)).toEqual(["reminder:180@0", "reminder:5@0"]);
    await cronTick(start + MINUTE);
    expect(await kindsOf(occurrence.id)).toEqual(["reminder:10@0", "reminder:1440@0"]);
  });

  it("times the 24-hour reminder in real hours across a DST change and writes the recipient's local time", async () => {
    const teacher = await createUser("teacher", { timezone: "Europe/Berlin" });
    const student = await createUser("student", { timezone: "America/New_York", phone: uniquePhone(), remindBySms: true });
    const cls = await createClass(teacher, { title: "Physics", reminderMinutes: [1440] });
    await enroll(cls, student);
    // Sunday 28 March 2027, 09:00 in Berlin (CEST, UTC+2) — Berlin switched from CET at 01:00 UTC that morning.
    const start = Date.UTC(2027, 2, 28, 7, 0);
    const occurrence = await createOccurrence(cls, start, { timezone: "Europe/Berlin" });

    await cronTick(start - 24 * HOUR - MINUTE);
    expect(await notificationsFor(occurrence.id)).toHaveLength(0);
    await cronTick(start - 24 * HOUR);
    const rows = await settled(occurrence.id);
    expect(rows.map((row) => row.status)).toEqual(["sent", "sent", "sent"]);

    const [teacherMail] = await providerRequests("sendgrid", teacher.email);
    const teacherText = (teacherMail!.body as { content: { value: string }[] }).content[0]!.value;
    expect(teacherText).toContain("Sun 28 Mar 2027, 09:00 CEST");
    const [studentMail] = await providerRequests("sendgrid", student.email);
    const studentText = (studentMail!.body as { content: { value: string }[] }).content[0]!.value;
    // New York is already on daylight time (since 14 March): 03:00 EDT.
    expect(studentText).toContain("Sun 28 Mar 2027, 03:00 EDT");
    const [sms] = await providerRequests("twilio", student.phone!);
    expect((sms!.body as { Body: string }).Body).toContain("Sun 28 Mar 03:00 EDT");
  });
});

describe("stalled notifications", () => {
  it("re-enqueues a row whose queue message was lost or whose sender died, and sends it once", async () => {
    const teacher = await createUser("teacher", { remindByEmail: false });
    const lost = await createUser("student");
    const crashed = await createUser("student");
    const cls = await createClass(teacher, { title: "Music" });
    await enroll(cls, lost, crashed);
    const occurrence = await createOccurrence(cls, Date.now() + 50 * MINUTE);
    const twentyMinutesAgo = Date.now() - 20 * MINUTE;
    const lostRow = await pendingNotification(lost, occurrence, "email");
    const crashedRow = await pendingNotification(crashed, occurrence, "email");
    await db.update(notifications).set({ updatedAt: twentyMinutesAgo }).where(eq(notifications.id, lostRow.id));
    await db.update(notifications).set({ status: "sending", attempts: 1, updatedAt: twentyMinutesAgo }).where(eq(notifications.id, crashedRow.id));

    await cronTick(Date.now());
    const rows = await settled(occurrence.id);
    expect(rows.map((row) => row.status)).toEqual(["sent", "sent"]);
    for (const user of [lost, crashed]) expect((await providerRequests("sendgrid", user.email)).filter((request) => request.answer === "ok")).toHaveLength(1);
  });
});
