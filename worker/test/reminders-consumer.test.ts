import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { User } from "../../schema/db";
import { MAX_DELIVERY_ATTEMPTS } from "../reminders/consumer";
import worker from "../index";
import { createUser } from "./helpers";
import {
  createClass,
  createOccurrence,
  deliverQueued as deliver,
  enroll,
  HOUR,
  pendingNotification,
  providerRequests,
  rowsById,
  scriptProvider,
  uniquePhone,
} from "./reminders-helpers";

async function setup(channel: "email" | "sms", student?: User) {
  const teacher = await createUser("teacher");
  const recipient = student ?? (await createUser("student", channel === "sms" ? { phone: uniquePhone(), remindBySms: true } : {}));
  const cls = await createClass(teacher, { title: "Chemistry" });
  await enroll(cls, recipient);
  const occurrence = await createOccurrence(cls, Date.now() + HOUR);
  const notification = await pendingNotification(recipient, occurrence, channel);
  const destination = channel === "email" ? recipient.email : recipient.phone!;
  return { recipient, cls, occurrence, notification, destination };
}

const accepted = async (provider: "sendgrid" | "twilio", destination: string) =>
  (await providerRequests(provider, destination)).filter((request) => request.answer === "ok");

describe("reminder queue consumer", () => {
  it("sends a redelivered message only once, even when both deliveries run at the same time", async () => {
    const { notification, destination } = await setup("email");
    const [first, second] = await Promise.all([deliver(notification, 1), deliver(notification, 1)]);
    expect(await accepted("sendgrid", destination)).toHaveLength(1);
    expect(first.row.status).toBe("sent");
    // One delivery sent it and was acked; the other either saw it sent (acked) or in flight (asked to look again).
    const outcomes = [first, second].map((delivery) => (delivery.result.explicitAcks.length === 1 ? "ack" : `retry:${delivery.retryDelays[0]}`));
    expect([
      ["ack", "ack"],
      ["ack", "retry:60"],
    ]).toContainEqual(outcomes.sort());

    const third = await deliver(notification, 2);
    expect(third.result.explicitAcks).toEqual([third.messageId]);
    expect(await accepted("sendgrid", destination)).toHaveLength(1);
    expect(third.row.providerMessageId).toBe(first.row.providerMessageId);
  });

  it("fails a 400 (bad address or number) at once without retrying", async () => {
    for (const channel of ["email", "sms"] as const) {
      const { notification, destination } = await setup(channel);
      await scriptProvider(channel === "email" ? "sendgrid" : "twilio", destination, ["400"]);
      const { result, row, messageId } = await deliver(notification);
      expect(row.status).toBe("failed");
      expect(row.error).toMatch(channel === "email" ? /SendGrid answered 400: .*valid address/ : /Twilio answered 400: code 21211/);
      expect(result.explicitAcks).toEqual([messageId]);
      expect(result.retryMessages).toEqual([]);
    }
  });

  it("retries 429, 500 and dropped connections with growing backoff, then sends", async () => {
    const { notification, destination } = await setup("sms");
    await scriptProvider("twilio", destination, ["429", "500", "drop"]);

    const first = await deliver(notification, 1);
    expect(first.row.status).toBe("pending");
    expect(first.row.error).toMatch(/Twilio answered 429/);
    expect(first.result.retryMessages).toEqual([{ msgId: first.messageId }]);
    expect(first.retryDelays).toEqual([30]);

    const second = await deliver(notification, 2);
    expect(second.row.error).toMatch(/Twilio answered 500/);
    expect(second.retryDelays).toEqual([60]);

    const third = await deliver(notification, 3);
    expect(third.row.status).toBe("pending");
    expect(third.row.error).toMatch(/Twilio unreachable/);
    expect(third.retryDelays).toEqual([120]);

    const fourth = await deliver(notification, 4);
    expect(fourth.row.status).toBe("sent");
    expect(fourth.row.attempts).toBe(4);
    expect(fourth.row.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(fourth.result.explicitAcks).toEqual([fourth.messageId]);
    expect(await accepted("twilio", destination)).toHaveLength(1);
  });

  it("marks the notification dead and hands the message to the dead-letter queue after the last attempt", async () => {
    const { notification, destination } = await setup("email");
    await scriptProvider("sendgrid", destination, ["500"]);
    const { result, row, messageId } = await deliver(notification, MAX_DELIVERY_ATTEMPTS);
    expect(row.status).toBe("dead");
    expect(row.error).toMatch(/SendGrid answered 500.*gave up/);
    // A retry on the last attempt is what moves a message to the queue's dead_letter_queue.
    expect(result.retryMessages.map((message) => message.msgId)).toEqual([messageId]);
    expect(await accepted("sendgrid", destination)).toHaveLength(0);
  });

  it("does not send when the recipient turned the channel off or was blocked meanwhile", async () => {
    const { notification, recipient, destination } = await setup("email");
    await env.DB.prepare("UPDATE users SET remind_by_email = 0 WHERE id = ?").bind(recipient.id).run();
    const { row, result, messageId } = await deliver(notification);
    expect(row.status).toBe("cancelled");
    expect(row.error).toBe("E-mail reminders were turned off");
    expect(result.explicitAcks).toEqual([messageId]);
    expect(await providerRequests("sendgrid", destination)).toHaveLength(0);
  });

  it("sends SendGrid and Twilio requests the way the providers require", async () => {
    const email = await setup("email");
    await deliver(email.notification);
    const [mail] = await providerRequests("sendgrid", email.destination);
    expect(mail!.answer).toBe("ok");
    expect(mail!.authorization).toBe(`Bearer ${env.SENDGRID_API_KEY}`);
    expect(mail!.contentType).toMatch(/^application\/json/);
    const body = mail!.body as {
      personalizations: { to: { email: string }[]; custom_args: Record<string, string> }[];
      from: { email: string; name: string };
      subject: string;
      content: { type: string; value: string }[];
      attachments: { filename: string; type: string; content: string }[];
    };
    expect(body.personalizations[0]!.to[0]!.email).toBe(email.destination);
    expect(body.personalizations[0]!.custom_args.notification_id).toBe(email.notification.id);
    expect(body.from).toEqual({ email: "live@insp.test", name: "insp live" });
    expect(body.subject).toBe("Reminder: Chemistry starts in 1 hour");
    expect(body.content.map((part) => part.type)).toEqual(["text/plain", "text/html"]);
    expect(body.content[1]!.value).toContain(`href="http://localhost/classes/${email.cls.id}/live"`);
    expect(body.attachments[0]!.filename).toBe("class.ics");
    const ics = atob(body.attachments[0]!.content);
    expect(ics).toContain("BEGIN:VCALENDAR");
    expect(ics).toContain(`UID:${email.occurrence.id}@insp-live`);

    const sms = await setup("sms");
    await deliver(sms.notification);
    const [message] = await providerRequests("twilio", sms.destination);
    expect(message!.answer).toBe("ok");
    expect(message!.authorization).toBe(`Basic ${btoa(`${env.TWILIO_ACCOUNT_SID}:${env.TWILIO_AUTH_TOKEN}`)}`);
    expect(message!.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    const form = message!.body as Record<string, string>;
    expect(form.To).toBe(sms.destination);
    expect(form.From).toBe(env.TWILIO_FROM);
    expect(form.StatusCallback).toBe(`http://localhost/api/webhooks/twilio/status?notification=${sms.notification.id}`);
    expect(form.Body).toMatch(/^Chemistry starts in 1 h, .* Join: http:\/\/localhost\/classes\//);
    expect(form.Body!.length).toBeLessThanOrEqual(160);
  });

  it("reports a wrong API key as a permanent failure (the look-alike checks auth like SendGrid)", async () => {
    const { notification } = await setup("email");
    const batch = createMessageBatch("insp-live-reminders", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { notificationId: notification.id } }]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, { ...env, SENDGRID_API_KEY: "SG.wrong" });
    await getQueueResult(batch, ctx);
    const [row] = await rowsById([notification.id]);
    expect(row!.status).toBe("failed");
    expect(row!.error).toMatch(/SendGrid answered 401: The provided authorization grant is invalid/);
  });
});
