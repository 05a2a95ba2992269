/**
 * The reminder Cron Trigger (every minute): finds occurrences that entered a reminder window, creates one
 * notification per occurrence × user × channel × window, and enqueues exactly the rows it created.
 *
 * Exactly once: rows are written with INSERT … ON CONFLICT DO NOTHING RETURNING on the unique key
 * (occurrence, user, channel, kind), and only the returned ids are enqueued, so two overlapping runs never
 * enqueue the same reminder twice. The consumer then sends a row only if it can claim it while still pending.
 */
import { LIMITS } from "../../schema/api/portal";
import type { ReminderQueueMessage } from "../../schema/api/notifications";
import type { Env } from "../env";
import { reminderKind } from "./messages";

const MINUTE_MS = 60_000;
/** The furthest ahead any class may ask to be reminded. */
const HORIZON_MS = LIMITS.reminderMaxMinutes * MINUTE_MS;
/**
 * A window that opened longer ago than this is no longer picked up by the cron (it was handled then, or the
 * cron was down and the next window will do); it still covers students who enrol shortly after a window.
 */
export const CATCH_UP_MS = 30 * MINUTE_MS;
/**
 * A pending or sending row untouched for this long lost its queue message (a failed enqueue or a consumer that
 * died mid-send): the cron re-enqueues it. Longer than the largest retry delay, so waiting retries are left alone.
 */
export const STALLED_MS = 15 * MINUTE_MS;
/** Queue sendBatch takes at most 100 messages. */
const QUEUE_BATCH = 100;

export interface DueOccurrence {
  id: string;
  classId: string;
  teacherId: string;
  startsAt: number;
  revision: number;
  reminderMinutes: number[];
  /** When the occurrence got its current time (created or last moved); null when unknown. */
  scheduledAt: number | null;
}

export interface CronReport {
  /** Occurrences with a window due in this run. */
  occurrences: number;
  /** Notification rows this run created (and enqueued). */
  created: number;
  /** Stalled rows re-enqueued. */
  requeued: number;
}

/**
 * The reminder window due at `now` for an occurrence: the smallest window that has opened (earlier windows that
 * were missed are not sent late, since a later one is about to go), or null before the first window and after
 * the start. With `catchUpMs`, a window is due for that long after it opened — or after the occurrence got its
 * time, when that was later: a session scheduled inside a window (5 minutes before its start, in a class reminded
 * 60 minutes ahead) gets that window's reminder at once, saying the time actually left.
 */
export function dueWindow(
  occurrence: Pick<DueOccurrence, "startsAt" | "reminderMinutes"> & { scheduledAt?: number | null },
  now: number,
  catchUpMs = Number.POSITIVE_INFINITY,
): number | null {
  if (occurrence.startsAt <= now) return null;
  const opened = occurrence.reminderMinutes.filter((minutes) => occurrence.startsAt - minutes * MINUTE_MS <= now);
  if (opened.length === 0) return null;
  const minutes = Math.min(...opened);
  const effectiveOpening = Math.max(occurrence.startsAt - minutes * MINUTE_MS, occurrence.scheduledAt ?? Number.NEGATIVE_INFINITY);
  return now - effectiveOpening <= catchUpMs ? minutes : null;
}

/** Who is notified for a class, on one channel, as an INSERT … SELECT with the preference and block filters. */
function insertForRecipients(
  env: Env,
  options: {
    occurrenceId: string;
    classId: string;
    teacherId: string;
    channel: "email" | "sms";
    kind: string;
    scheduledFor: number;
    now: number;
    onlyUsersNotifiedBefore?: boolean;
  },
): D1PreparedStatement {
  const destination = options.channel === "email" ? "u.email" : "u.phone";
  const preference = options.channel === "email" ? "u.remind_by_email = 1" : "u.remind_by_sms = 1 AND u.phone IS NOT NULL AND u.phone <> ''";
  // Change and cancel notices go to every enrolled student (the scheduling form promises it); the teacher, who
  // made or saw the change, only when they had been told about the old time on this channel.
  const notifiedBefore = options.onlyUsersNotifiedBefore
    ? `AND (u.id <> ?3 OR u.id IN (SELECT n.user_id FROM notifications n WHERE n.occurrence_id = ?1 AND n.channel = ?4 AND n.status IN ('sending', 'sent', 'delivered')))`
    : "";
  return env.DB.prepare(
    `INSERT INTO notifications (id, user_id, occurrence_id, channel, kind, status, attempts, destination, scheduled_for, created_at, updated_at)
     SELECT lower(hex(randomblob(16))), u.id, ?1, ?4, ?5, 'pending', 0, ${destination}, ?6, ?8, ?8
     FROM users u
     WHERE u.id IN (SELECT e.user_id FROM enrollments e WHERE e.class_id = ?2 UNION SELECT ?3)
       AND ${preference}
       AND NOT EXISTS (
         SELECT 1 FROM blocks b
         WHERE b.user_id = u.id AND b.lifted_at IS NULL AND (b.expires_at IS NULL OR b.expires_at > ?7)
           AND (b.class_id IS NULL OR b.class_id = ?2))
       ${notifiedBefore}
     ON CONFLICT (occurrence_id, user_id, channel, kind) DO NOTHING
     RETURNING id`,
  ).bind(options.occurrenceId, options.classId, options.teacherId, options.channel, options.kind, options.scheduledFor, options.now, Date.now());
}

/** Statements creating one kind of notification for every recipient on both channels. */
export function recipientInserts(
  env: Env,
  occurrence: Pick<DueOccurrence, "id" | "classId" | "teacherId">,
  kind: string,
  scheduledFor: number,
  now: number,
  onlyUsersNotifiedBefore = false,
): D1PreparedStatement[] {
  return (["email", "sms"] as const).map((channel) =>
    insertForRecipients(env, {
      occurrenceId: occurrence.id,
      classId: occurrence.classId,
      teacherId: occurrence.teacherId,
      channel,
      kind,
      scheduledFor,
      now,
      onlyUsersNotifiedBefore,
    }),
  );
}

/** Runs statements that RETURN ids in one batch (all or nothing) and collects the ids. */
export async function insertedIds(env: Env, statements: D1PreparedStatement[]): Promise<string[]> {
  if (statements.length === 0) return [];
  const results = await env.DB.batch<{ id: string }>(statements);
  return results.flatMap((result) => result.results.map((row) => row.id));
}

/** Puts notification ids on the REMINDERS queue, 100 per call. */
export async function enqueueNotifications(env: Env, ids: readonly string[]): Promise<void> {
  const chunks: ReminderQueueMessage[][] = [];
  for (let start = 0; start < ids.length; start += QUEUE_BATCH)
    chunks.push(ids.slice(start, start + QUEUE_BATCH).map((notificationId) => ({ notificationId })));
  await Promise.all(chunks.map((chunk) => env.REMINDERS.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })))));
}

/** Occurrences of active classes starting within the horizon, with their class's windows. */
async function upcomingOccurrences(env: Env, now: number): Promise<DueOccurrence[]> {
  const { results } = await env.DB.prepare(
    `SELECT o.id, o.class_id AS classId, c.teacher_id AS teacherId, o.starts_at AS startsAt, o.revision, c.reminder_minutes AS reminderMinutes,
            o.updated_at AS scheduledAt
     FROM occurrences o JOIN classes c ON c.id = o.class_id
     WHERE o.status = 'scheduled' AND c.status = 'active' AND o.starts_at > ?1 AND o.starts_at <= ?2`,
  )
    .bind(now, now + HORIZON_MS)
    .all<Omit<DueOccurrence, "reminderMinutes"> & { reminderMinutes: string }>();
  return results.map((row) => ({ ...row, reminderMinutes: parseWindows(row.reminderMinutes) }));
}

function parseWindows(json: string): number[] {
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parsed.filter((value): value is number => Number.isInteger(value) && value > 0) : [];
  } catch {
    return [];
  }
}

/** Statements for the reminder of `occurrence` due at `now`, if any (also used after a move). */
export function dueReminderInserts(env: Env, occurrence: DueOccurrence, now: number, catchUpMs?: number): D1PreparedStatement[] {
  const minutes = dueWindow(occurrence, now, catchUpMs);
  if (minutes === null) return [];
  return recipientInserts(env, occurrence, reminderKind(minutes, occurrence.revision), occurrence.startsAt - minutes * MINUTE_MS, now);
}

/**
 * Re-enqueues rows whose queue message was lost (see STALLED_MS); they go back to pending first. Measured on the
 * wall clock (not the tick's scheduled time): it is about how long processing has stalled.
 */
async function requeueStalled(env: Env): Promise<string[]> {
  const now = Date.now();
  const { results } = await env.DB.prepare(
    `UPDATE notifications SET status = 'pending', updated_at = ?1
     WHERE status IN ('pending', 'sending') AND updated_at < ?2
     RETURNING id`,
  )
    .bind(now, now - STALLED_MS)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/** One cron tick at `now` (the controller's scheduled time). */
export async function runReminderCron(env: Env, now: number): Promise<CronReport> {
  const occurrences = await upcomingOccurrences(env, now);
  const due = occurrences.map((occurrence) => dueReminderInserts(env, occurrence, now, CATCH_UP_MS)).filter((statements) => statements.length > 0);
  const created = await insertedIds(env, due.flat());
  await enqueueNotifications(env, created);
  const requeued = await requeueStalled(env);
  await enqueueNotifications(env, requeued);
  const report: CronReport = { occurrences: due.length, created: created.length, requeued: requeued.length };
  if (report.created > 0 || report.requeued > 0) console.log(JSON.stringify({ event: "reminders_cron", at: now, ...report, queuedAt: Date.now() }));
  return report;
}
