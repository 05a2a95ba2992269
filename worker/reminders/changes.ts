import type { Env } from "../env";
import { dueReminderInserts, enqueueNotifications, insertedIds, recipientInserts } from "./cron";
import { cancelKind, changeKind, type NotificationKind, parseKind, restoreKind } from "./messages";

export type OccurrenceChange = { occurrenceId: string; kind: "moved" | "cancelled" | "restored" };

interface ChangedOccurrence {
  id: string;
  classId: string;
  teacherId: string;
  startsAt: number;
  endsAt: number;
  revision: number;
  status: "scheduled" | "cancelled";
  reminderMinutes: string;
  classStatus: string;
}

const STALE_REASONS: Record<OccurrenceChange["kind"], string> = {
  moved: "The class moved to a new time",
  cancelled: "The class was cancelled",
  restored: "The session was restored",
};

/**
 * Called by the occurrence routes after an occurrence was moved, cancelled or restored (the row is already
 * updated). Cancels the pending reminders for the old time, tells every enrolled student (a change, cancel or
 * "back on" notice on each channel they chose; the teacher only if reminded before), and for a move or a restore
 * creates the reminder due now for the new time, if any; later windows are picked up by the cron as usual.
 * Everything created is enqueued at once.
 */
export async function occurrenceChanged(env: Env, change: OccurrenceChange): Promise<void> {
  const now = Date.now();
  const occurrence = await loadChanged(env, change.occurrenceId);
  if (!occurrence) return;

  const stale = await staleNotificationIds(env, [occurrence], change.kind);
  const statements = cancelStatements(env, stale, STALE_REASONS[change.kind], now);
  const noticeKind =
    change.kind === "cancelled"
      ? cancelKind(occurrence.revision)
      : change.kind === "restored"
        ? restoreKind(occurrence.revision)
        : changeKind(occurrence.revision);
  // Nobody needs telling about a session that is already over (a past session tidied up in the calendar).
  if (occurrence.endsAt > now) statements.push(...recipientInserts(env, occurrence, noticeKind, now, now, true));
  if (change.kind !== "cancelled") statements.push(...dueReminderStatements(env, occurrence, now));
  // One batch: the old reminders stop and the notices appear together, or nothing changes.
  const created = await insertedIds(env, statements);
  await enqueueNotifications(env, created);
}

/** The occurrence as the notices need it, with its class; null when it is gone. */
export async function loadChanged(env: Env, occurrenceId: string): Promise<ChangedOccurrence | null> {
  return env.DB.prepare(
    `SELECT o.id, o.class_id AS classId, c.teacher_id AS teacherId, o.starts_at AS startsAt, o.ends_at AS endsAt, o.revision, o.status,
            c.reminder_minutes AS reminderMinutes, c.status AS classStatus
     FROM occurrences o JOIN classes c ON c.id = o.class_id WHERE o.id = ?1`,
  )
    .bind(occurrenceId)
    .first<ChangedOccurrence>();
}

/** The reminder due now for a scheduled occurrence of an active class (after a move or a restore), if any. */
export function dueReminderStatements(env: Env, occurrence: ChangedOccurrence, now: number): D1PreparedStatement[] {
  if (occurrence.status !== "scheduled" || occurrence.classStatus !== "active") return [];
  return dueReminderInserts(env, { ...occurrence, reminderMinutes: JSON.parse(occurrence.reminderMinutes) as number[], scheduledAt: now }, now);
}

export function cancelStatements(env: Env, ids: readonly string[], reason: string, now: number): D1PreparedStatement[] {
  return ids.map((id) =>
    env.DB.prepare(`UPDATE notifications SET status = 'cancelled', error = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'pending'`).bind(id, reason, now),
  );
}

const isSeriesNotice = (kind: NotificationKind) => kind.type === "series-cancel" || kind.type === "series-change";

/**
 * Pending notifications about the old time of these occurrences: reminders and notices of earlier revisions (all
 * of them on cancel; on restore every cancel notice too). A series notice speaks for the whole series and is
 * left to the series' own changes.
 */
export async function staleNotificationIds(
  env: Env,
  changed: readonly Pick<ChangedOccurrence, "id" | "revision">[],
  change: OccurrenceChange["kind"],
): Promise<string[]> {
  const revisions = new Map(changed.map((occurrence) => [occurrence.id, occurrence.revision]));
  const { results } = await env.DB.prepare(
    `SELECT id, occurrence_id AS occurrenceId, kind FROM notifications WHERE occurrence_id IN (SELECT value FROM json_each(?1)) AND status = 'pending'`,
  )
    .bind(JSON.stringify([...revisions.keys()]))
    .all<{ id: string; occurrenceId: string; kind: string }>();
  return results
    .filter((row) => {
      const kind = parseKind(row.kind);
      if (!kind) return true;
      if (isSeriesNotice(kind)) return false;
      if (change === "cancelled") return kind.type !== "cancel";
      if (kind.type === "cancel") return change === "restored";
      return kind.revision < revisions.get(row.occurrenceId)!;
    })
    .map((row) => row.id);
}
