/**
 * The REMINDERS queue consumer: sends each notification at most once and records what became of it.
 *
 * Exactly once across redelivery: a message is sent only after claiming its row with
 * `UPDATE … SET status = 'sending' WHERE status = 'pending'`; a redelivered message finds the row sent (ack),
 * or still being sent by another delivery (look again later). Retryable failures (429, 5xx, network) put the
 * row back to pending and retry the message with backoff; permanent ones (bad address or number) fail it at
 * once; after the last delivery attempt the row is dead and the queue moves the message to the dead-letter queue.
 * A provider that did not answer in time may have sent the message: that row becomes `unknown` and is never sent
 * again; the provider's delivery report settles it (at most once, even under a slow provider).
 */
import * as v from "valibot";
import { ReminderQueueMessageSchema, type ReminderQueueMessage } from "../../schema/api/notifications";
import { activeBlock } from "../auth/session";
import { getDb } from "../db";
import type { Env } from "../env";
import { type NotificationKind, parseKind, type SessionTime } from "./messages";
import type { SendResult } from "./provider-result";
import { deliver, publicUrl } from "./send";

/** Deliveries per message: wrangler.toml's max_retries (5) + 1. On the last one a failure dead-letters the message. */
export const MAX_DELIVERY_ATTEMPTS = 6;
/** Retry delays: 30 s, 1 min, 2 min, 4 min, 8 min (capped at 10 min, even if the provider asks for more). */
const BASE_RETRY_SECONDS = 30;
const MAX_RETRY_SECONDS = 600;
/** How long to wait before looking again at a row another delivery is sending. */
const IN_FLIGHT_RECHECK_SECONDS = 60;

export function retryDelaySeconds(attempt: number, retryAfterSeconds?: number): number {
  const backoff = BASE_RETRY_SECONDS * 2 ** Math.max(0, attempt - 1);
  return Math.min(MAX_RETRY_SECONDS, Math.max(backoff, Math.ceil(retryAfterSeconds ?? 0)));
}

interface ClaimedNotification {
  id: string;
  userId: string;
  channel: "email" | "sms";
  kind: string;
  attempts: number;
  occurrenceId: string;
  startsAt: number;
  endsAt: number;
  revision: number;
  occurrenceStatus: "scheduled" | "cancelled";
  seriesId: string | null;
  classId: string;
  classTitle: string;
  classStatus: string;
  teacherId: string;
  /** 1 when the recipient is enrolled in the class now. */
  enrolled: number;
  displayName: string;
  timezone: string;
  email: string;
  phone: string | null;
  remindByEmail: number;
  remindBySms: number;
}

/** The queue handler: every message is handled on its own, so one failure never holds back the others. */
export async function consumeReminders(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.all(batch.messages.map((message) => handleMessage(message, env)));
}

async function handleMessage(message: Message<unknown>, env: Env): Promise<void> {
  const parsed = v.safeParse(ReminderQueueMessageSchema, message.body);
  if (!parsed.success) {
    console.error(JSON.stringify({ event: "reminder_bad_message", messageId: message.id }));
    message.ack();
    return;
  }
  try {
    await handleNotification(parsed.output, message, env);
  } catch (error) {
    // D1 trouble or a bug: the row was not (or not fully) updated; try the message again later.
    console.error(JSON.stringify({ event: "reminder_consumer_error", notificationId: parsed.output.notificationId, error: String(error) }));
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

async function handleNotification(body: ReminderQueueMessage, message: Message<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  const claimed = await env.DB.prepare(
    `UPDATE notifications SET status = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1 AND status = 'pending' RETURNING id`,
  )
    .bind(body.notificationId, now)
    .first<{ id: string }>();
  if (!claimed) {
    const current = await env.DB.prepare(`SELECT status FROM notifications WHERE id = ?1`).bind(body.notificationId).first<{ status: string }>();
    // Another delivery of this message is sending it right now; look again later in case that one dies.
    if (current?.status === "sending") message.retry({ delaySeconds: IN_FLIGHT_RECHECK_SECONDS });
    else message.ack();
    return;
  }

  const row = await env.DB.prepare(
    `SELECT n.id, n.user_id AS userId, n.channel, n.kind, n.attempts, n.occurrence_id AS occurrenceId,
            o.starts_at AS startsAt, o.ends_at AS endsAt, o.revision, o.status AS occurrenceStatus, o.series_id AS seriesId,
            c.id AS classId, c.title AS classTitle, c.status AS classStatus, c.teacher_id AS teacherId,
            EXISTS (SELECT 1 FROM enrollments e WHERE e.class_id = c.id AND e.user_id = n.user_id) AS enrolled,
            u.display_name AS displayName, u.timezone, u.email, u.phone, u.remind_by_email AS remindByEmail, u.remind_by_sms AS remindBySms
     FROM notifications n
     JOIN occurrences o ON o.id = n.occurrence_id
     JOIN classes c ON c.id = o.class_id
     JOIN users u ON u.id = n.user_id
     WHERE n.id = ?1`,
  )
    .bind(body.notificationId)
    .first<ClaimedNotification>();
  if (!row) {
    message.ack();
    return;
  }

  const kind = parseKind(row.kind);
  const destination = row.channel === "email" ? row.email : row.phone;
  const sessions = kind ? await seriesSessions(env, row, kind) : undefined;
  const reasonToSkip = kind ? await skipReason(env, row, kind, destination, now, sessions) : `Unknown notification kind ${row.kind}`;
  if (reasonToSkip) {
    await finish(env, row.id, { status: "cancelled", error: reasonToSkip });
    message.ack();
    return;
  }

  const result = await deliver(env, getDb(env.DB), {
    notificationId: row.id,
    channel: row.channel,
    destination: destination!,
    context: {
      kind: kind!,
      classId: row.classId,
      classTitle: row.classTitle,
      occurrenceId: row.occurrenceId,
      startsAt: row.startsAt,
      endsAt: row.endsAt,
      revision: row.revision,
      recipientName: row.displayName,
      recipientTimezone: row.timezone,
      publicUrl: publicUrl(env),
      now: Date.now(),
      ...(sessions ? { sessions } : {}),
    },
  });
  await record(env, row, destination!, result, message);
}

/**
 * For a series notice, the sessions it is about as they are now: the series' cancelled (or, for a move, scheduled)
 * sessions from the one the notice hangs on. Read at send time, so a session restored meanwhile is not listed.
 */
async function seriesSessions(env: Env, row: ClaimedNotification, kind: NotificationKind): Promise<SessionTime[] | undefined> {
  if ((kind.type !== "series-cancel" && kind.type !== "series-change") || row.seriesId === null) return undefined;
  const { results } = await env.DB.prepare(
    `SELECT id AS occurrenceId, starts_at AS startsAt, ends_at AS endsAt, revision FROM occurrences
     WHERE series_id = ?1 AND status = ?2 AND starts_at >= ?3 ORDER BY starts_at, id`,
  )
    .bind(row.seriesId, kind.type === "series-cancel" ? "cancelled" : "scheduled", row.startsAt)
    .all<SessionTime>();
  return results;
}

/** Why a claimed notification should not go out after all, or null to send it. */
async function skipReason(
  env: Env,
  row: ClaimedNotification,
  kind: NotificationKind,
  destination: string | null,
  now: number,
  sessions: readonly SessionTime[] | undefined,
): Promise<string | null> {
  if (kind.type === "reminder") {
    if (row.occurrenceStatus === "cancelled") return "The class was cancelled";
    if (kind.revision !== row.revision) return "The class moved to a new time";
    // A reminder that arrives after the start would only confuse.
    if (row.startsAt <= now) return "Too late: the class had already started";
  }
  if ((kind.type === "change" || kind.type === "restore") && (row.occurrenceStatus === "cancelled" || kind.revision !== row.revision))
    return "Superseded by a later change";
  if (kind.type === "cancel" && row.occurrenceStatus === "scheduled") return "The session was restored";
  if ((kind.type === "series-cancel" || kind.type === "series-change") && (sessions ?? []).length === 0) return "No session of the series is affected any more";
  // Decided now, not when the row was written: the recipient may have left the class since the cron ran.
  if (row.userId !== row.teacherId && !row.enrolled) return "The recipient is no longer enrolled in the class";
  if (row.classStatus !== "active") return "The class is archived";
  if (row.channel === "email" && !row.remindByEmail) return "E-mail reminders were turned off";
  if (row.channel === "sms" && !row.remindBySms) return "SMS reminders were turned off";
  if (!destination) return row.channel === "sms" ? "No phone number" : "No e-mail address";
  if (await activeBlock(getDb(env.DB), row.userId, row.classId)) return "The recipient is blocked";
  return null;
}

async function record(env: Env, row: ClaimedNotification, destination: string, result: SendResult, message: Message<unknown>): Promise<void> {
  if (result.ok === "unknown") {
    // The provider may have taken it: sending again could make a duplicate. The row waits for the provider's
    // signed delivery report (which names our notification id) to say what became of it; nothing resends it.
    await finish(env, row.id, { status: "unknown", error: result.error, destination });
    message.ack();
    console.warn(JSON.stringify({ event: "reminder_outcome_unknown", notificationId: row.id, error: result.error }));
    return;
  }
  if (result.ok) {
    await finish(env, row.id, { status: "sent", providerMessageId: result.providerMessageId, destination, sentAt: Date.now() });
    message.ack();
    return;
  }
  if (!result.retryable) {
    await finish(env, row.id, { status: "failed", error: result.error, destination });
    message.ack();
    return;
  }
  if (message.attempts >= MAX_DELIVERY_ATTEMPTS) {
    await finish(env, row.id, { status: "dead", error: `${result.error} (gave up after ${row.attempts} attempts)`, destination });
    // Retrying on the last attempt hands the message to the queue's dead-letter queue.
    message.retry();
    console.error(JSON.stringify({ event: "reminder_dead_lettered", notificationId: row.id, error: result.error }));
    return;
  }
  await finish(env, row.id, { status: "pending", error: result.error, destination });
  message.retry({ delaySeconds: retryDelaySeconds(message.attempts, result.retryAfterSeconds) });
}

interface Outcome {
  status: "sent" | "failed" | "dead" | "pending" | "cancelled" | "unknown";
  error?: string;
  providerMessageId?: string;
  destination?: string;
  sentAt?: number;
}

/** Leaves the `sending` claim: only the delivery holding the claim may write the outcome. */
async function finish(env: Env, id: string, outcome: Outcome): Promise<void> {
  await env.DB.prepare(
    `UPDATE notifications
     SET status = ?2, error = ?3, provider_message_id = COALESCE(?4, provider_message_id), destination = COALESCE(?5, destination),
         sent_at = COALESCE(?6, sent_at), updated_at = ?7
     WHERE id = ?1 AND status = 'sending'`,
  )
    .bind(id, outcome.status, outcome.error ?? null, outcome.providerMessageId ?? null, outcome.destination ?? null, outcome.sentAt ?? null, Date.now())
    .run();
}
