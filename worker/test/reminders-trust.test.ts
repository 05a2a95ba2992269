import { env, SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { enrollments, notifications } from "../../schema/db";
import { fitSms } from "../reminders/gsm7";
import { buildEmail, buildSms, formatInZone, type MessageContext } from "../reminders/messages";
import { SLOW_ANSWER_MS } from "./global/provider-servers";
import { api, createUser, db } from "./helpers";
import {
  createClass,
  createOccurrence,
  cronTick,
  deliverQueued,
  enroll,
  HOUR,
  MINUTE,
  notificationsFor,
  pendingNotification,
  providerRequests,
  rowsById,
  scriptProvider,
  sendGridSign,
  settled,
  twilioSignature,
  uniquePhone,
} from "./reminders-helpers";

const taken = async (provider: "sendgrid" | "twilio", destination: string) =>
  (await providerRequests(provider, destination)).filter((request) => request.answer === "ok" || request.answer === "slow");

/** A student enrolled in a class with a session in an hour, and a reminder for it waiting in the queue. */
async function queuedReminder(channel: "email" | "sms" = "email") {
  const teacher = await createUser("teacher");
  const student = await createUser("student", channel === "sms" ? { phone: uniquePhone(), remindBySms: true } : {});
  const cls = await createClass(teacher, { title: "Physics" });
  await enroll(cls, student);
  const occurrence = await createOccurrence(cls, Date.now() + HOUR);
  const queued = await pendingNotification(student, occurrence, channel);
  return { teacher, student, cls, occurrence, queued };
}

describe("a student who leaves the class is not reminded", () => {
  it("leaving cancels the reminders already queued, and none goes out", async () => {
    const { student, cls, queued } = await queuedReminder();
    expect((await api(`/api/classes/${cls.id}/enrollment`, { as: student, method: "DELETE" })).status).toBe(204);
    const [row] = await rowsById([queued.id]);
    expect(row).toMatchObject({ status: "cancelled", error: "The recipient left the class" });
    const delivered = await deliverQueued(queued);
    expect(delivered.result.explicitAcks).toEqual([delivered.messageId]);
    expect(await taken("sendgrid", student.email)).toEqual([]);
  });

  it("a reminder claimed after the teacher removed the student is not sent (enrolment is checked at send time)", async () => {
    const { teacher, student, cls, occurrence, queued } = await queuedReminder();
    // The enrolment disappears between the cron run and the send, without the route's clean-up.
    await db.delete(enrollments).where(and(eq(enrollments.classId, cls.id), eq(enrollments.userId, student.id)));
    const { row } = await deliverQueued(queued);
    expect(row).toMatchObject({ status: "cancelled", error: "The recipient is no longer enrolled in the class" });
    expect(await taken("sendgrid", student.email)).toEqual([]);
    // The teacher is reminded of their own class without being enrolled in it.
    const teacherRow = await pendingNotification(teacher, occurrence, "email");
    expect((await deliverQueued(teacherRow)).row.status).toBe("sent");
  });
});

describe("a session scheduled late is reminded at once, with the time actually left", () => {
  async function subjectsAfterCron(reminderMinutes: number[], startsInMs: number) {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher, { title: "Geology", reminderMinutes });
    await enroll(cls, student);
    const occurrence = await createOccurrence(cls, Date.now() + startsInMs);
    await cronTick(Date.now());
    await settled(occurrence.id);
    const kinds = [...new Set((await notificationsFor(occurrence.id)).map((row) => row.kind))];
    const subjects = (await taken("sendgrid", student.email)).map((request) => (request.body as { subject: string }).subject);
    return { kinds, subjects };
  }

  it("only window 60 minutes, created 5 minutes before the start", async () => {
    expect(await subjectsAfterCron([60], 5 * MINUTE + 20_000)).toEqual({ kinds: ["reminder:60@0"], subjects: ["Reminder: Geology starts in 5 minutes"] });
  });

  it("windows 24 h and 60 minutes, created 3 hours before the start", async () => {
    expect(await subjectsAfterCron([1440, 60], 3 * HOUR + 20_000)).toEqual({ kinds: ["reminder:1440@0"], subjects: ["Reminder: Geology starts in 3 hours"] });
  });

  it("default windows, created 5 min 48 s before the start: says 6 minutes, not 10", async () => {
    expect(await subjectsAfterCron([1440, 60, 10], 5 * MINUTE + 48_000)).toEqual({
      kinds: ["reminder:10@0"],
      subjects: ["Reminder: Geology starts in 6 minutes"],
    });
  });

  it("a window that opened while the session was already scheduled is still not sent long after (the cron was down)", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher, { reminderMinutes: [60] });
    await enroll(cls, await createUser("student"));
    const occurrence = await createOccurrence(cls, Date.now() + 2 * HOUR);
    await cronTick(occurrence.startsAt - 20 * MINUTE);
    expect(await notificationsFor(occurrence.id)).toEqual([]);
  });
});

describe("a slow provider makes no duplicate", () => {
  it("an e-mail SendGrid took but answered too late is kept unknown, never resent, and settled by the signed event", { timeout: 60_000 }, async () => {
    const { student, queued } = await queuedReminder();
    await scriptProvider("sendgrid", student.email, ["slow"]);

    const first = await deliverQueued(queued, 1);
    expect(first.row.status).toBe("unknown");
    expect(first.row.error).toMatch(/did not answer in time/);
    expect(first.result.explicitAcks).toEqual([first.messageId]);
    // A redelivery of the queue message and the cron's sweep of stalled rows leave it alone.
    expect((await deliverQueued(queued, 2)).row.status).toBe("unknown");
    await db
      .update(notifications)
      .set({ updatedAt: Date.now() - 2 * HOUR })
      .where(eq(notifications.id, queued.id));
    await cronTick(Date.now());
    await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
    expect(await taken("sendgrid", student.email)).toHaveLength(1);
    expect((await rowsById([queued.id]))[0]!.status).toBe("unknown");

    const body = JSON.stringify([
      { event: "processed", notification_id: queued.id, sg_message_id: "abc.filter1", timestamp: 1 },
      { event: "delivered", notification_id: queued.id, sg_message_id: "abc.filter1", timestamp: 2 },
    ]);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await SELF.fetch("http://localhost/api/webhooks/sendgrid/events", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": await sendGridSign(JSON.parse(env.TEST_SENDGRID_WEBHOOK_PRIVATE_JWK) as JsonWebKey, timestamp, body),
        "x-twilio-email-event-webhook-timestamp": timestamp,
      },
      body,
    });
    expect(response.status).toBe(204);
    expect((await rowsById([queued.id]))[0]!.status).toBe("delivered");
  });

  it("an SMS Twilio took but answered too late is settled by the status callback that names our notification", { timeout: 60_000 }, async () => {
    const { student, queued } = await queuedReminder("sms");
    await scriptProvider("twilio", student.phone!, ["slow"]);

    expect((await deliverQueued(queued, 1)).row.status).toBe("unknown");
    const [request] = await taken("twilio", student.phone!);
    const callback = (request!.body as { StatusCallback: string }).StatusCallback;
    expect(callback).toBe(`http://localhost/api/webhooks/twilio/status?notification=${queued.id}`);
    const params = { MessageSid: "SM0123456789abcdef0123456789abcdef", MessageStatus: "delivered" };
    const response = await SELF.fetch(callback, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": await twilioSignature(env.TWILIO_AUTH_TOKEN!, callback, params) },
      body: new URLSearchParams(params).toString(),
    });
    expect(response.status).toBe(204);
    expect((await rowsById([queued.id]))[0]).toMatchObject({ status: "delivered", providerMessageId: params.MessageSid });
    expect(await taken("twilio", student.phone!)).toHaveLength(1);
  });
});

describe("user text is substituted as written", () => {
  const context = (classTitle: string): MessageContext => ({
    kind: { type: "reminder", minutes: 10, revision: 0 },
    classId: "0b6f7c52-5d1a-4c8e-9a55-1f1f3f0c2a77",
    classTitle,
    occurrenceId: "occ",
    startsAt: Date.UTC(2027, 5, 1, 16, 0),
    endsAt: Date.UTC(2027, 5, 1, 17, 0),
    revision: 0,
    recipientName: "Ana",
    recipientTimezone: "UTC",
    publicUrl: "https://live.insp.example",
  });

  it.each(["Save $& now", "Pay $$ later", "Before $` after", "Tail $' end", "$1 and $<name>"])(
    "the title %j arrives unchanged in the SMS and the e-mail",
    (title) => {
      // fitSms is what fills every SMS template (buildSms included); a short template keeps the whole title.
      expect(fitSms("{title} starts soon", title)).toBe(`${title} starts soon`);
      expect(buildSms(context(title))).not.toContain("{title}");
      const email = buildEmail(context(title));
      expect(email.subject).toBe(`Reminder: ${title} starts in 10 minutes`);
      expect(email.text).toContain(`${title} starts in 10 minutes.`);
    },
  );
});

describe("time zones in settings and messages", () => {
  it("a zone chosen as Asia/Kolkata is stored as chosen (not Asia/Calcutta) and reminders say IST", async () => {
    const student = await createUser("student");
    const response = await api("/api/me", { as: student, method: "PATCH", body: { timezone: "asia/kolkata" } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { timezone: string } }).user.timezone).toBe("Asia/Kolkata");
    const again = await api("/api/me", { as: student, method: "PATCH", body: { timezone: "europe/berlin" } });
    expect(((await again.json()) as { user: { timezone: string } }).user.timezone).toBe("Europe/Berlin");
    expect(formatInZone(Date.UTC(2027, 0, 15, 12, 0), "Asia/Kolkata")).toBe("Fri 15 Jan 2027, 17:30 IST");
    expect(formatInZone(Date.UTC(2027, 6, 15, 12, 0), "America/New_York")).toBe("Thu 15 Jul 2027, 08:00 EDT");
    expect(formatInZone(Date.UTC(2027, 6, 15, 12, 0), "Europe/Berlin")).toBe("Thu 15 Jul 2027, 14:00 CEST");
  });
});
