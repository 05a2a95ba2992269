import { and, eq, inArray, isNotNull, lt } from "drizzle-orm";
import { recordings } from "../../schema/db";
import type { Db } from "../db";

/**
 * How long a stopped recording may wait for its node's first report (`composing`) before it counts as
 * abandoned. A node composes right after the stop and reports within seconds.
 */
export const STOPPED_UNREPORTED_MS = 15 * 60_000;

/**
 * How long a recording may sit in composing, uploading or packaging without a progress report. Nodes report
 * progress as they go; a cloud packager can take a while on a long class, so this is generous.
 */
export const PROCESSING_SILENT_MS = 2 * 60 * 60_000;

export const ABANDONED_STOPPED_REASON = "The media server stopped before it could compose this recording";
export const ABANDONED_PROCESSING_REASON = "The media server stopped reporting progress on this recording";

/**
 * The last net under "every recording ends ready or failed, whatever happens to its node": run by the cron,
 * it fails rows that nobody will ever move on (a node that died after the stop, or in the middle of
 * packaging). The class object handles the cases it can see (a node gone while recording, a stop the node
 * cannot honour); this catches what happens after the object let go of the recording.
 */
export async function failAbandonedRecordings(db: Db, now: number): Promise<number> {
  const stopped = await db
    .update(recordings)
    .set({ status: "failed", failureReason: ABANDONED_STOPPED_REASON, updatedAt: now })
    .where(and(eq(recordings.status, "recording"), isNotNull(recordings.endedAt), lt(recordings.updatedAt, now - STOPPED_UNREPORTED_MS)))
    .returning({ id: recordings.id });
  const silent = await db
    .update(recordings)
    .set({ status: "failed", failureReason: ABANDONED_PROCESSING_REASON, updatedAt: now })
    .where(and(inArray(recordings.status, ["composing", "uploading", "packaging"]), lt(recordings.updatedAt, now - PROCESSING_SILENT_MS)))
    .returning({ id: recordings.id });
  const failed = [...stopped, ...silent].map((row) => row.id);
  if (failed.length > 0) console.warn(JSON.stringify({ event: "recordings_abandoned", recordingIds: failed }));
  return failed.length;
}
