import type { Env } from "../env";
import { cancelStatements, dueReminderStatements, loadChanged, staleNotificationIds } from "./changes";
import { enqueueNotifications, insertedIds, recipientInserts } from "./cron";
import { seriesNoticeKind } from "./messages";

export type SeriesChange = { kind: "moved" | "cancelled"; occurrenceIds: readonly string[] };

/**
 * Called by the series routes after every future session of a series was cancelled or moved (the rows are
 * already updated). Like a change to one session, but every enrolled student is told once: one notice per
 * student and channel, hung on the first session the change touched, that lists them all (the consumer reads
 * the list at send time). Pending reminders for the old times stop; after a move the reminders due now for the
 * new times are created, later ones come from the cron.
 */
export async function seriesChanged(env: Env, change: SeriesChange): Promise<void> {
  const now = Date.now();
  const changed = (await Promise.all(change.occurrenceIds.map((id) => loadChanged(env, id)))).filter((row) => row !== null);
  if (changed.length === 0) return;
  changed.sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  const anchor = changed[0]!;

  const stale = [...(await staleNotificationIds(env, changed, change.kind)), ...(await pendingSeriesNotices(env, change.occurrenceIds))];
  const statements = cancelStatements(env, stale, change.kind === "cancelled" ? "The class was cancelled" : "The class moved to a new time", now);
  statements.push(...recipientInserts(env, anchor, seriesNoticeKind(change.kind, anchor.revision), now, now, true));
  if (change.kind === "moved") statements.push(...changed.flatMap((occurrence) => dueReminderStatements(env, occurrence, now)));
  // One batch: the old reminders stop and the notice appears together, or nothing changes.
  const created = await insertedIds(env, statements);
  await enqueueNotifications(env, created);
}

/** An earlier series notice still waiting to go out is replaced by this one, which lists the sessions as they are now. */
async function pendingSeriesNotices(env: Env, occurrenceIds: readonly string[]): Promise<string[]> {
  const { results } = await env.DB.prepare(
    `SELECT id FROM notifications
     WHERE occurrence_id IN (SELECT value FROM json_each(?1)) AND status = 'pending' AND (kind LIKE 'series-cancel@%' OR kind LIKE 'series-change@%')`,
  )
    .bind(JSON.stringify(occurrenceIds))
    .all<{ id: string }>();
  return results.map((row) => row.id);
}
