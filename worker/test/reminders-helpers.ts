/** Shared set-up for the reminders tests: classes, occurrences, enrolments, and the provider look-alikes' controls. */
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { type ClassRow, classes, enrollments, type Notification, notifications, type Occurrence, occurrences, type User } from "../../schema/db";
import type { CapturedRequest, Outcome } from "./global/provider-servers";
import worker from "../index";
import { db } from "./helpers";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_SENDGRID_WEBHOOK_PRIVATE_JWK: string;
    }
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export async function createClass(teacher: User, overrides: Partial<ClassRow> = {}): Promise<ClassRow> {
  const now = Date.now();
  const row: ClassRow = {
    id: crypto.randomUUID(),
    title: "Algebra II",
    description: "",
    teacherId: teacher.id,
    kind: "live",
    status: "active",
    reminderMinutes: [1440, 60, 10],
    recordingDownloads: true,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
  await db.insert(classes).values(row);
  return row;
}

export async function createOccurrence(cls: ClassRow, startsAt: number, overrides: Partial<Occurrence> = {}): Promise<Occurrence> {
  const row: Occurrence = {
    id: crypto.randomUUID(),
    classId: cls.id,
    seriesId: null,
    startsAt,
    endsAt: startsAt + HOUR,
    timezone: "UTC",
    status: "scheduled",
    revision: 0,
    createdAt: Date.now(),
    updatedAt: Date.now(),
    ...overrides,
  };
  await db.insert(occurrences).values(row);
  return row;
}

export async function enroll(cls: ClassRow, ...students: User[]): Promise<void> {
  await db.insert(enrollments).values(students.map((student) => ({ classId: cls.id, userId: student.id, enrolledBy: null, createdAt: Date.now() })));
}

/** Runs the Worker's scheduled handler (the Cron Trigger) as if it fired at `at`. */
export async function cronTick(at: number): Promise<void> {
  await worker.scheduled!(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env);
}

export async function notificationsFor(occurrenceId: string): Promise<Notification[]> {
  return db.select().from(notifications).where(eq(notifications.occurrenceId, occurrenceId));
}

/** Polls until every listed notification has left pending/sending (the real queue consumer runs in the background). */
export async function settled(occurrenceId: string, timeoutMs = 20_000): Promise<Notification[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await notificationsFor(occurrenceId);
    if (rows.length > 0 && rows.every((row) => row.status !== "pending" && row.status !== "sending")) return rows;
    if (Date.now() > deadline) throw new Error(`notifications still in flight: ${JSON.stringify(rows.map((row) => [row.kind, row.channel, row.status]))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function rowsById(ids: string[]): Promise<Notification[]> {
  return db.select().from(notifications).where(inArray(notifications.id, ids));
}

type Provider = "sendgrid" | "twilio";

function providerUrl(provider: Provider): string {
  return provider === "sendgrid" ? env.SENDGRID_BASE_URL! : env.TWILIO_BASE_URL!;
}

/** Tells a look-alike how to answer the next requests for `match` (an e-mail address or phone number). */
export async function scriptProvider(provider: Provider, match: string, outcomes: Outcome[]): Promise<void> {
  const response = await fetch(`${providerUrl(provider)}/__script`, { method: "POST", body: JSON.stringify({ match, outcomes }) });
  if (!response.ok) throw new Error(`scripting ${provider} failed: ${response.status}`);
}

/** Every request a look-alike saw for `match`. */
export async function providerRequests(provider: Provider, match: string): Promise<CapturedRequest[]> {
  const response = await fetch(`${providerUrl(provider)}/__requests?match=${encodeURIComponent(match)}`);
  return ((await response.json()) as { requests: CapturedRequest[] }).requests;
}

/** A notification row ready to send, inserted directly (not enqueued), for driving the consumer by hand. */
export async function pendingNotification(user: User, occurrence: Occurrence, channel: "email" | "sms", kind = "reminder:60@0"): Promise<Notification> {
  const now = Date.now();
  const row: Notification = {
    id: crypto.randomUUID(),
    userId: user.id,
    occurrenceId: occurrence.id,
    channel,
    kind,
    status: "pending",
    attempts: 0,
    providerMessageId: null,
    error: null,
    destination: channel === "email" ? user.email : user.phone,
    scheduledFor: now,
    sentAt: null,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(notifications).values(row);
  return row;
}

/**
 * A valid E.164 test number that no other test uses, so look-alike scripts and captured requests never mix. The
 * look-alikes serve every test file of the run and each file has its own module state, so a per-file counter
 * repeats across files: the number is all random (32 bits, like the test e-mail addresses), not counted.
 */
export function uniquePhone(): string {
  const [random] = crypto.getRandomValues(new Uint32Array(1));
  return `+1555${String(random).padStart(10, "0")}`;
}

/** Twilio's algorithm, written independently of the Worker's: HMAC-SHA1 over URL + sorted name/value pairs. */
export async function twilioSignature(token: string, url: string, params: Record<string, string>): Promise<string> {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((key) => key + params[key])
      .join("");
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(token), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)))));
}

/** r‖s (WebCrypto) → DER, the form SendGrid puts in its signature header. */
function rawToDer(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
    const trimmed = bytes.subarray(start);
    const padded = trimmed[0]! & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
    return Uint8Array.of(0x02, padded.length, ...padded);
  };
  const body = Uint8Array.of(...integer(raw.subarray(0, 32)), ...integer(raw.subarray(32)));
  return Uint8Array.of(0x30, body.length, ...body);
}

export async function sendGridSign(privateJwk: JsonWebKey, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("jwk", privateJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(timestamp + body)));
  return btoa(String.fromCharCode(...rawToDer(raw)));
}

/** Delivers one queue message for `notification` to the consumer, as the queue would on attempt `attempts`. */
export async function deliverQueued(notification: Notification, attempts = 1, messageId = crypto.randomUUID()) {
  const batch = createMessageBatch("insp-live-reminders", [{ id: messageId, timestamp: new Date(), attempts, body: { notificationId: notification.id } }]);
  // getQueueResult does not report retry delays, so note what the consumer asked for on the way through.
  const retryDelays: (number | undefined)[] = [];
  const message = batch.messages[0]!;
  const retry = message.retry.bind(message);
  message.retry = (options?: QueueRetryOptions) => {
    retryDelays.push(options?.delaySeconds);
    retry(options);
  };
  const ctx = createExecutionContext();
  await worker.queue!(batch, env);
  const result = await getQueueResult(batch, ctx);
  const row = (await rowsById([notification.id]))[0]!;
  return { result, row, messageId, retryDelays };
}
