/**
 * The local outbox: with no provider keys configured, e-mail and SMS end here instead of at SendGrid or Twilio.
 * Each message is stored (admins list it at /outbox) and printed to the console, which `npm start` shows.
 */
import { outboxMessages } from "../../schema/db";
import type { Db } from "../db";
import type { EmailContent } from "./messages";
import type { SendResult } from "./provider-result";

export interface OutboxEmail {
  /** Null for a message that belongs to no reminder (an account notice, worker/auth/account-notice.ts). */
  notificationId: string | null;
  to: string;
  email: EmailContent;
}

export interface OutboxSms {
  notificationId: string;
  to: string;
  body: string;
}

/** Stores an e-mail in the outbox; the outbox row id stands in for the provider's message id. */
export async function outboxEmail(db: Db, message: OutboxEmail): Promise<SendResult> {
  const id = `outbox-${crypto.randomUUID()}`;
  await db.insert(outboxMessages).values({
    id,
    notificationId: message.notificationId,
    channel: "email",
    destination: message.to,
    subject: message.email.subject,
    text: message.email.text,
    html: message.email.html,
    attachments: message.email.attachments.map((attachment) => attachment.filename),
    createdAt: Date.now(),
  });
  console.log(`[outbox] e-mail to ${message.to}: ${message.email.subject}\n${indent(message.email.text)}`);
  return { ok: true, providerMessageId: id };
}

/** Stores an SMS in the outbox. */
export async function outboxSms(db: Db, message: OutboxSms): Promise<SendResult> {
  const id = `outbox-${crypto.randomUUID()}`;
  await db.insert(outboxMessages).values({
    id,
    notificationId: message.notificationId,
    channel: "sms",
    destination: message.to,
    subject: null,
    text: message.body,
    html: null,
    attachments: [],
    createdAt: Date.now(),
  });
  console.log(`[outbox] SMS to ${message.to}: ${message.body}`);
  return { ok: true, providerMessageId: id };
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}
