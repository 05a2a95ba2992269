import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, ne, or } from "drizzle-orm";
import { FINAL_RECORDING_STATUSES, type FleetRescueClaimResponse } from "../../schema/api/recordings";
import { recordings, sfuNodes } from "../../schema/db";
import { FLEET_STALE_AFTER_MS, type FleetRescueOffer } from "../../schema/protocol/fleet";
import { NODE_GONE_BEFORE_STOP_REASON, NODE_LOST_REASON, PART_LOST_REASON } from "../../durable-objects/recording";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { loadRecordingRow } from "./recording-row";
import { ABANDONED_PROCESSING_REASON, ABANDONED_STOPPED_REASON } from "./recording-sweep";

/**
 * The reasons a recording fails with when its node went away with it. Its closed segments are in the store
 * (the node uploads each as it closes), so another node can still make the recording from them.
 */
export const RESCUABLE_REASONS = [
  NODE_LOST_REASON,
  PART_LOST_REASON,
  NODE_GONE_BEFORE_STOP_REASON,
  ABANDONED_STOPPED_REASON,
  ABANDONED_PROCESSING_REASON,
] as const;

/** Recordings older than this are not offered: the bucket's lifecycle rule may have expired their segments. */
export const RESCUE_WITHIN_MS = 7 * 24 * 3600_000;

/**
 * A node that registered this long ago has taken back every recording it found on its disk (its recovery claims
 * each at start): one of its own still failed is not on its disk (a new machine under the same id), and it is
 * offered the recording like any other node, to finish from the store.
 */
export const OWN_RECOVERY_MS = FLEET_STALE_AFTER_MS;

/**
 * What a node's heartbeat answer offers it to finish: the oldest rescuable recording whose own node has been
 * silent for {@link FLEET_STALE_AFTER_MS} (a node that is back finishes its own from its disk, which also holds
 * the segment that was being written), or one of its own it did not take back from its disk within
 * {@link OWN_RECOVERY_MS} of registering. One at a time: a node composes one rescued recording after another.
 */
export async function rescueOffers(db: Db, nodeId: string, now: number): Promise<FleetRescueOffer[]> {
  const rows = await db
    .select({ recordingId: recordings.id, classId: recordings.classId })
    .from(recordings)
    .leftJoin(sfuNodes, eq(sfuNodes.id, recordings.nodeId))
    .where(
      and(
        eq(recordings.status, "failed"),
        inArray(recordings.failureReason, [...RESCUABLE_REASONS]),
        isNotNull(recordings.nodeId),
        gt(recordings.updatedAt, now - RESCUE_WITHIN_MS),
        or(
          and(ne(recordings.nodeId, nodeId), or(isNull(sfuNodes.id), lt(sfuNodes.lastHeartbeatAt, now - FLEET_STALE_AFTER_MS))),
          and(eq(recordings.nodeId, nodeId), lt(sfuNodes.registeredAt, now - OWN_RECOVERY_MS)),
        ),
      ),
    )
    .orderBy(asc(recordings.updatedAt))
    .limit(1);
  return rows;
}

/**
 * `nodeId` takes recording `id` to finish it from its segments: a rescuable recording becomes `composing` on that
 * node, whose reports alone count from now on. Its own node may take it back any time (it came back with the
 * recording on its disk); another node only while the owner is silent. A recording its own node still holds
 * (not final) is answered as taken already. `CONFLICT` when the recording is not waiting to be finished, or
 * another node took it first.
 */
export async function claimRescue(db: Db, nodeId: string, id: string, now: number): Promise<FleetRescueClaimResponse> {
  const current = await loadRecordingRow(db, id);
  const answer: FleetRescueClaimResponse = { recording: { id, classId: current.classId, startedAt: current.startedAt } };
  if (current.nodeId === nodeId && !FINAL_RECORDING_STATUSES.includes(current.status)) return answer;
  if (current.status !== "failed" || !(RESCUABLE_REASONS as readonly string[]).includes(current.failureReason ?? ""))
    throw new ApiError("CONFLICT", `The recording is ${current.status}${current.nodeId === nodeId ? "" : " on another media server"}: nothing to finish`);
  if (current.nodeId !== null && current.nodeId !== nodeId) {
    const owner = await db.query.sfuNodes.findFirst({ where: eq(sfuNodes.id, current.nodeId) });
    if (owner && now - owner.lastHeartbeatAt <= FLEET_STALE_AFTER_MS)
      throw new ApiError("CONFLICT", "The media server that recorded it is up: it finishes the recording itself");
  }
  const [row] = await db
    .update(recordings)
    .set({ nodeId, status: "composing", progress: 0, failureReason: null, updatedAt: now })
    .where(and(eq(recordings.id, id), eq(recordings.status, "failed"), eq(recordings.updatedAt, current.updatedAt)))
    .returning({ id: recordings.id });
  if (!row) throw new ApiError("CONFLICT", "Another media server took the recording meanwhile");
  console.log(JSON.stringify({ event: "recording_rescue_claimed", recordingId: id, nodeId, from: current.nodeId, reason: current.failureReason }));
  return answer;
}
