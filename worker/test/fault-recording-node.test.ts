import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { recordings } from "../../schema/db";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { RecordingState } from "../../schema/protocol/classroom";
import { NODE_LOST_GRACE_MS, NODE_LOST_REASON, PART_LOST_REASON } from "../../durable-objects/recording";
import { createUser, db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

/**
 * The sfu-node recording a class dies (kill -9): its class link closes and, if it comes back at all, it comes
 * back without the recording. The recording row must end `failed` with a reason a teacher can read, and REC
 * must go off in the classroom — not stay `recording` forever.
 */

const NODE = "node-fault";

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

/** What the "REC" indicator shows for a client: the snapshot's recording, then every `recording` event. */
function recordingSeenBy(client: ChannelClient): RecordingState | null {
  let state = client.snapshot!.media.recording;
  for (const event of client.events) if (event.type === "recording") state = event.recording;
  return state;
}

const teacherCamera = (userId: string): LinkProducer => ({ producerId: crypto.randomUUID(), userId, kind: "video", source: "video", paused: false });

async function recordingClass() {
  const { classId, teacher, students } = await createLiveClass(1);
  const teacherClient = await ChannelClient.join(teacher, classId);
  const studentClient = await ChannelClient.join(students[0]!, classId);
  const producers = [teacherCamera(teacher.id)];
  const link = await NodeLink.connect(classId, NODE, producers, [], []);
  await teacherClient.until(() => [...teacherClient.events].some((e) => e.type === "media.producers"), "media map");
  const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
  await studentClient.until(() => recordingSeenBy(studentClient)?.recordingId === recording.recordingId, "REC for the student");
  return { classId, teacherClient, studentClient, link, producers, recording };
}

async function row(recordingId: string) {
  return (await db.query.recordings.findFirst({ where: eq(recordings.id, recordingId) }))!;
}

/** When the object will end the recording (its node is out of reach), or null. */
async function endDueAt(classId: string): Promise<number | null> {
  return runInDurableObject(stubOf(classId), (_instance, state) => {
    const [due] = state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM recording_end_due").toArray();
    return due?.due_at ?? null;
  });
}

/** Moves the grace's end into the past and runs the alarm (instead of waiting a minute). */
async function graceOver(classId: string): Promise<void> {
  await runInDurableObject(stubOf(classId), (_instance, state) => {
    state.storage.sql.exec("UPDATE recording_end_due SET due_at = 0");
  });
  await runDurableObjectAlarm(stubOf(classId));
}

describe("the node recording a class dies", () => {
  it("link closed and never back: after the grace the row is failed with a readable reason, and REC goes off", async () => {
    const { classId, studentClient, teacherClient, link, recording } = await recordingClass();
    const closedAt = Date.now();
    link.socket.close(1011, "gone");

    // Within the grace nothing changes: a node's link drops and comes back within seconds.
    await eventually(async () => expect(await endDueAt(classId)).not.toBeNull());
    const due = (await endDueAt(classId))!;
    expect(due - closedAt).toBeGreaterThanOrEqual(NODE_LOST_GRACE_MS - 1_000);
    expect(due - closedAt).toBeLessThanOrEqual(NODE_LOST_GRACE_MS + 1_000);
    expect((await row(recording.recordingId)).status).toBe("recording");
    expect(recordingSeenBy(studentClient)?.recordingId).toBe(recording.recordingId);

    await graceOver(classId);
    await studentClient.until(() => recordingSeenBy(studentClient) === null, "REC off for the student");
    await teacherClient.until(() => recordingSeenBy(teacherClient) === null, "REC off for the teacher");
    const ended = await row(recording.recordingId);
    expect(ended).toMatchObject({ status: "failed", failureReason: NODE_LOST_REASON });
    // The interval ends when the node went, not when the grace ran out.
    expect(ended.endedAt).toBeGreaterThanOrEqual(closedAt - 1_000);
    expect(ended.endedAt).toBeLessThanOrEqual(closedAt + 5_000);
    expect(ended.durationMs).toBe(ended.endedAt! - recording.startedAt);
    // Someone joining now sees no recording either.
    expect((await ChannelClient.join(await createUser("admin"), classId)).snapshot!.media.recording).toBeNull();
  });

  it("restarted within the grace (back without the recording): that part ends failed at once, and the recording goes on there as its next part", async () => {
    const { classId, studentClient, link, producers, recording } = await recordingClass();
    link.socket.close(1011, "gone");
    await eventually(async () => expect(await endDueAt(classId)).not.toBeNull());
    // A restarted process holds nothing; its link opens when a participant's media comes back to it.
    const back = await NodeLink.connect(classId, NODE, producers, [], []);
    await eventually(async () => expect(back.of("recording.start")).toHaveLength(1));
    const next = back.of("recording.start")[0]!.data as { recordingId: string };
    expect(next.recordingId).not.toBe(recording.recordingId);
    await studentClient.until(() => recordingSeenBy(studentClient)?.recordingId === next.recordingId, "REC on the next part for the student");
    // The restarted node finishes the first part from its disk (recovery.ts) and turns it ready; until then it is failed.
    await eventually(async () => expect(await row(recording.recordingId)).toMatchObject({ status: "failed", failureReason: PART_LOST_REASON }));
    expect(await row(next.recordingId)).toMatchObject({ status: "recording", nodeId: NODE });
    expect(await endDueAt(classId)).toBeNull();
  });

  it("a link that drops and comes back still recording keeps the recording", async () => {
    const { classId, teacherClient, studentClient, link, producers, recording } = await recordingClass();
    link.socket.close(1011, "network");
    await eventually(async () => expect(await endDueAt(classId)).not.toBeNull());
    const back = await NodeLink.connect(classId, NODE, producers, [], [{ recordingId: recording.recordingId, capturing: true }]);
    await eventually(async () => expect(await endDueAt(classId)).toBeNull());
    await runDurableObjectAlarm(stubOf(classId));
    expect((await row(recording.recordingId)).status).toBe("recording");
    expect(recordingSeenBy(studentClient)?.recordingId).toBe(recording.recordingId);
    // Stop still reaches the node over its new link.
    await teacherClient.ok("recording.stop");
    expect(back.of("recording.stop").map((c) => c.data)).toEqual([{ recordingId: recording.recordingId }]);
  });

  it("Stop reaching a node that no longer has the recording (restarted with the same id): failed, not 'recording' forever", async () => {
    const { teacherClient, studentClient, link, recording } = await recordingClass();
    // The node's process restarted between two frames: its link is up, but it holds no recorder for this id.
    link.refuseWith("recording.stop", { code: "NOT_FOUND", message: `Recording ${recording.recordingId} is not running on this node` });
    await teacherClient.ok("recording.stop");
    await studentClient.until(() => recordingSeenBy(studentClient) === null, "REC off for the student");
    await eventually(async () => expect(await row(recording.recordingId)).toMatchObject({ status: "failed", failureReason: NODE_LOST_REASON }));
  });

  it("a node whose room closed under the recording (its worker died) ends it as stopped: the node composes it", async () => {
    const { classId, studentClient, link, recording } = await recordingClass();
    link.socket.send(JSON.stringify({ notification: "recordings", data: { recordings: [{ recordingId: recording.recordingId, capturing: false }] } }));
    link.socket.close(1000, "room closed");
    // The link's close comes after the frame: it must not turn "stopped" into "lost".
    await eventually(async () => {
      const due = await endDueAt(classId);
      expect(due === null || due <= Date.now()).toBe(true);
    });
    await runDurableObjectAlarm(stubOf(classId));
    await studentClient.until(() => recordingSeenBy(studentClient) === null, "REC off for the student");
    await eventually(async () => {
      const ended = await row(recording.recordingId);
      // Not failed: the node reports composing → … → ready itself.
      expect(ended.status).toBe("recording");
      expect(ended.endedAt).not.toBeNull();
    });
    expect(await endDueAt(classId)).toBeNull();
  });
});
