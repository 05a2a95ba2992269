import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ClassNotificationsResponse, MyNotificationsResponse, NotificationView, OutboxResponse } from "../../schema/api/notifications";
import { getDb } from "../db";
import { deliver } from "../reminders/send";
import { api, createUser } from "./helpers";
import { getWithEnv } from "./with-env";
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

const subjects = async (email: string) =>
  (await providerRequests("sendgrid", email)).filter((request) => request.answer === "ok").map((request) => (request.body as { subject: string }).subject);

describe("moving and cancelling an occurrence", () => {
  it("a move cancels pending reminders, tells every enrolled student, and reminds for the new time", async () => {
    const teacher = await createUser("teacher");
    const reminded = await createUser("student", { phone: uniquePhone(), remindBySms: true });
    const cls = await createClass(teacher, { title: "Biology" });
    await enroll(cls, reminded);
    const start = Date.now() + 24 * HOUR - 30_000;
    const occurrence = await createOccurrence(cls, start);
    await cronTick(Date.now());
    await settled(occurrence.id);
    expect(await subjects(reminded.email)).toEqual(["Reminder: Biology starts in 24 hours"]);

    // A student who enrolls later has a pending reminder when the class moves.
    const late = await createUser("student");
    await enroll(cls, late);
    const stale = await pendingNotification(late, occurrence, "email", "reminder:1440@0");

    const newStart = Date.now() + 45 * MINUTE;
    const response = await api(`/api/occurrences/${occurrence.id}`, { method: "PATCH", as: teacher, body: { startsAt: newStart, endsAt: newStart + HOUR } });
    expect(response.status).toBe(200);
    const rows = await settled(occurrence.id);

    expect(rows.find((row) => row.id === stale.id)).toMatchObject({ status: "cancelled", error: "The class moved to a new time" });
    // Already reminded by e-mail and SMS: a change notice on both, then the 60-minute reminder for the new time.
    // The reminder for the new time says the real time left (the 60-minute window opened 15 minutes ago).
    const remindedSubjects = await subjects(reminded.email);
    expect(remindedSubjects.slice(0, 1)).toEqual(["Reminder: Biology starts in 24 hours"]);
    expect(remindedSubjects.slice(1).sort()).toEqual(["New time: Biology", expect.stringMatching(/^Reminder: Biology starts in 4[45] minutes$/)].sort());
    const sms = (await providerRequests("twilio", reminded.phone!)).map((request) => (request.body as { Body: string }).Body);
    expect(sms.some((body) => body.startsWith("Biology moved to "))).toBe(true);
    // Never reminded before: told of the new time too, and reminded for it.
    expect((await subjects(late.email)).sort()).toEqual(["New time: Biology", expect.stringMatching(/^Reminder: Biology starts in 4[45] minutes$/)].sort());
    expect(
      rows
        .filter((row) => row.kind === "change@1")
        .map((row) => row.userId)
        .sort(),
    ).toEqual([reminded.id, reminded.id, late.id, teacher.id].sort());
  });

  it("a cancel stops pending reminders and tells every enrolled student, reminded or not", async () => {
    const teacher = await createUser("teacher");
    const reminded = await createUser("student");
    const cls = await createClass(teacher, { title: "History" });
    await enroll(cls, reminded);
    const occurrence = await createOccurrence(cls, Date.now() + HOUR - 30_000);
    await cronTick(Date.now());
    await settled(occurrence.id);
    const late = await createUser("student");
    await enroll(cls, late);
    const stale = await pendingNotification(late, occurrence, "email", "reminder:60@0");

    const response = await api(`/api/occurrences/${occurrence.id}/cancel`, { method: "POST", as: teacher });
    expect(response.status).toBe(200);
    const rows = await settled(occurrence.id);
    expect(rows.find((row) => row.id === stale.id)!.status).toBe("cancelled");
    expect(await subjects(reminded.email)).toEqual(["Reminder: History starts in 1 hour", "Cancelled: History"]);
    expect(await subjects(late.email)).toEqual(["Cancelled: History"]);
    const [cancelMail] = (await providerRequests("sendgrid", reminded.email)).slice(-1);
    const ics = atob((cancelMail!.body as { attachments: { content: string }[] }).attachments[0]!.content);
    expect(ics).toContain("STATUS:CANCELLED");

    // The cron no longer reminds anyone for it.
    await cronTick(Date.now() + 50 * MINUTE);
    expect((await notificationsFor(occurrence.id)).length).toBe(rows.length);
  });
});

describe("notification history, class delivery status and the outbox", () => {
  it("shows users their own notifications and teachers their class's delivery status", async () => {
    const teacher = await createUser("teacher");
    const otherTeacher = await createUser("teacher");
    const student = await createUser("student");
    const bystander = await createUser("student");
    const cls = await createClass(teacher, { title: "Geography" });
    await enroll(cls, student);
    const occurrence = await createOccurrence(cls, Date.now() + 10 * MINUTE - 30_000);
    await cronTick(Date.now());
    await settled(occurrence.id);

    const mine = (await (await api("/api/me/notifications", { as: student })).json()) as MyNotificationsResponse;
    expect(mine.notifications).toHaveLength(1);
    expect(mine.notifications[0]).toMatchObject<Partial<NotificationView>>({
      classTitle: "Geography",
      channel: "email",
      kind: "reminder",
      reminderMinutes: 10,
      status: "sent",
      destination: student.email,
    });
    const theirs = (await (await api("/api/me/notifications", { as: bystander })).json()) as MyNotificationsResponse;
    expect(theirs.notifications).toEqual([]);

    const classView = (await (await api(`/api/classes/${cls.id}/notifications`, { as: teacher })).json()) as ClassNotificationsResponse;
    expect(classView.notifications.map((row) => row.user.id).sort()).toEqual([teacher.id, student.id].sort());
    expect(classView.totals).toEqual({ sent: 2 });
    expect((await api(`/api/classes/${cls.id}/notifications`, { as: otherTeacher })).status).toBe(403);
    expect((await api(`/api/classes/${cls.id}/notifications`, { as: student })).status).toBe(403);
    expect((await api("/api/me/notifications")).status).toBe(401);
    expect((await api("/api/me/notifications?unknown=1", { as: student })).status).toBe(400);
  });

  it("without provider keys, messages land in the outbox that admins can read", async () => {
    const teacher = await createUser("teacher");
    const admin = await createUser("admin");
    const student = await createUser("student", { phone: uniquePhone(), remindBySms: true, timezone: "Asia/Tokyo" });
    const cls = await createClass(teacher, { title: "Japanese" });
    await enroll(cls, student);
    const occurrence = await createOccurrence(cls, Date.UTC(2027, 0, 15, 1, 0));
    const noKeys = { ...env, SENDGRID_API_KEY: undefined, TWILIO_ACCOUNT_SID: undefined, TWILIO_AUTH_TOKEN: undefined };
    const context = {
      kind: { type: "reminder" as const, minutes: 60, revision: 0 },
      classId: cls.id,
      classTitle: cls.title,
      occurrenceId: occurrence.id,
      startsAt: occurrence.startsAt,
      endsAt: occurrence.endsAt,
      revision: 0,
      recipientName: student.displayName,
      recipientTimezone: student.timezone,
      publicUrl: "http://localhost",
    };
    const emailRow = await pendingNotification(student, occurrence, "email");
    const smsRow = await pendingNotification(student, occurrence, "sms");
    const email = await deliver(noKeys, getDb(env.DB), { notificationId: emailRow.id, channel: "email", destination: student.email, context });
    const sms = await deliver(noKeys, getDb(env.DB), { notificationId: smsRow.id, channel: "sms", destination: student.phone!, context });
    expect(email).toMatchObject({ ok: true });
    expect(sms).toMatchObject({ ok: true });
    expect(await providerRequests("sendgrid", student.email)).toEqual([]);

    // The outbox view is a local-only helper (worker/test/local-dev.test.ts): read it as `npm start` would.
    const outbox = (await (await getWithEnv("/api/admin/outbox", { LOCAL_DEV: "true" }, admin)).json()) as OutboxResponse;
    const forStudent = outbox.messages.filter((message) => message.destination === student.email || message.destination === student.phone);
    expect(forStudent.map((message) => message.channel).sort()).toEqual(["email", "sms"]);
    const mail = forStudent.find((message) => message.channel === "email")!;
    expect(mail.subject).toBe("Reminder: Japanese starts in 1 hour");
    expect(mail.text).toContain("Fri 15 Jan 2027, 10:00 GMT+9");
    expect(mail.attachments).toEqual(["class.ics"]);
    expect(forStudent.find((message) => message.channel === "sms")!.text).toContain("Fri 15 Jan 10:00 GMT+9");
    expect((await getWithEnv("/api/admin/outbox", { LOCAL_DEV: "true" }, teacher)).status).toBe(403);
  });
});
