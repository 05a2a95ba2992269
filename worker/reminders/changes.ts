import type { Env } from "../env";
import { dueReminderInserts, enqueueNotifications, insertedIds, recipientInserts } from "./cron";
import { CANCEL_KIND, changeKind, parseKind } from "./messages";

export type OccurrenceChange = { occurrenceId: string; kind: "moved" | "cancelled" };

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

/**
 * Called by the occurrence routes after an occurrence was moved or cancelled (the row is already updated).
 * Cancels the pending reminders for the old time, tells every enrolled student (a change or cancel notice on each
 * channel they chose; the teacher only if reminded before), and for a move creates the reminder due now for the
 * new time, if any;
 * later windows are picked up by the cron as usual. Everything created is enqueued at once.
 */
export async function occurrenceChanged(env: Env, change: OccurrenceChange): Promise<void> {
  const now = Date.now();
  const occurrence = await env.DB.prepare(
    `SELECT o.id, o.class_id AS classId, c.teacher_id AS teacherId, o.starts_at AS startsAt, o.ends_at AS endsAt, o.revision, o.status,
            c.reminder_minutes AS reminderMinutes, c.status AS classStatus
     FROM occurrences o JOIN classes c ON c.id = o.class_id WHERE o.id = ?1`,
  )
    .bind(change.occurrenceId)
    .first<ChangedOccurrence>();
  if (!occurrence) return;

  const stale = await staleNotificationIds(env, occurrence, change.kind);
  const reason = change.kind === "cancelled" ? "The class was cancelled" : "The class moved to a new time";
  const statements: D1PreparedStatement[] = stale.map((id) =>
    env.DB.prepare(`UPDATE notifications SET status = 'cancelled', error = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'pending'`).bind(id, reason, now),
  );
  const noticeKind = change.kind === "cancelled" ? CANCEL_KIND : changeKind(occurrence.revision);
  // Nobody needs telling about a session that is already over (a past session tidied up in the calendar).
  if (occurrence.endsAt > now) statements.push(...recipientInserts(env, occurrence, noticeKind, now, now, true));
  if (change.kind === "moved" && occurrence.status === "scheduled" && occurrence.classStatus === "active") {
    statements.push(...dueReminderInserts(env, { ...occurrence, reminderMinutes: JSON.parse(occurrence.reminderMinutes) as number[], scheduledAt: now }, now));
  }
  // One batch: the old reminders stop and the notices appear together, or nothing changes.
  const created = await insertedIds(env, statements);
  await enqueueNotifications(env, created);
}

/** Pending notifications about the old time: reminders and notices of earlier revisions (all of them on cancel). */
async function staleNotificationIds(env: Env, occurrence: ChangedOccurrence, change: OccurrenceChange["kind"]): Promise<string[]> {
  const { results } = await env.DB.prepare(`SELECT id, kind FROM notifications WHERE occurrence_id = ?1 AND status = 'pending'`).bind(occurrence.id).all<{ id: string; kind: string }>();
  return results
    .filter((row) => {
      const kind = parseKind(row.kind);
      if (!kind) return true;
      if (change === "cancelled") return kind.type !== "cancel";
      return kind.type !== "cancel" && kind.revision < occurrence.revision;
    })
    .map((row) => row.id);
}
