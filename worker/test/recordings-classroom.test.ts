import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { liveSessions, recordings } from "../../schema/db";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { RecordingState } from "../../schema/protocol/classroom";
import { createUser, db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const camera = (userId: string, producerId = crypto.randomUUID()): LinkProducer => ({ producerId, userId, kind: "video", source: "video", paused: false });
const microphone = (userId: string): LinkProducer => ({ producerId: crypto.randomUUID(), userId, kind: "audio", source: "audio", paused: false });

/** What the "REC" indicator shows for a client: the snapshot's recording, then every `recording` event. */
function recordingSeenBy(client: ChannelClient): RecordingState | null {
  let state = client.snapshot!.media.recording;
  for (const event of client.events) if (event.type === "recording") state = event.recording;
  return state;
}

async function liveClassWithTeacherOnNode(refuse: string[] = []) {
  const { classId, teacher, students } = await createLiveClass(1);
  const teacherClient = await ChannelClient.join(teacher, classId);
  const studentClient = await ChannelClient.join(students[0]!, classId);
  const link = await NodeLink.connect(classId, "node-rec", [camera(teacher.id), microphone(teacher.id), camera(students[0]!.id)], refuse);
  await teacherClient.until(() => [...teacherClient.events].some((e) => e.type === "media.producers"), "media map");
  return { classId, teacher, student: students[0]!, teacherClient, studentClient, link };
}

describe("recording from the classroom", () => {
  it("starts on the teacher's node with a D1 row, shows REC to everyone, and stops with the interval's end", async () => {
    const { classId, teacher, teacherClient, studentClient, link } = await liveClassWithTeacherOnNode();
    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    expect(recording.startedBy).toBe(teacher.id);

    const [start] = link.of("recording.start");
    expect(start!.data).toEqual({ recordingId: recording.recordingId, userIds: [teacher.id] });
    const row = await db.query.recordings.findFirst({ where: eq(recordings.id, recording.recordingId) });
    const session = await db.query.liveSessions.findFirst({ where: eq(liveSessions.classId, classId) });
    expect(row).toMatchObject({ classId, sessionId: session!.id, status: "recording", startedAt: recording.startedAt, endedAt: null });
    await studentClient.until(() => recordingSeenBy(studentClient)?.recordingId === recording.recordingId, "REC for the student");

    // Someone joining later sees it in the snapshot.
    const late = await ChannelClient.join(await createUser("admin"), classId);
    expect(late.snapshot!.media.recording).toEqual(recording);

    // A second press answers the running recording and starts nothing new.
    expect((await teacherClient.ok<{ recording: RecordingState }>("recording.start")).recording).toEqual(recording);
    expect(link.of("recording.start")).toHaveLength(1);

    const stopped = await teacherClient.ok<{ recording: RecordingState | null }>("recording.stop");
    expect(stopped.recording).toEqual(recording);
    expect(link.of("recording.stop").map((c) => c.data)).toEqual([{ recordingId: recording.recordingId }]);
    await studentClient.until(() => recordingSeenBy(studentClient) === null, "REC off for the student");
    const ended = await db.query.recordings.findFirst({ where: eq(recordings.id, recording.recordingId) });
    expect(ended!.status).toBe("recording");
    expect(ended!.endedAt).toBeGreaterThanOrEqual(recording.startedAt);
    expect(ended!.durationMs).toBe(ended!.endedAt! - recording.startedAt);
    expect((await teacherClient.ok<{ recording: null }>("recording.stop")).recording).toBeNull();
  });

  it("makes one row per recorded interval", async () => {
    const { classId, teacherClient } = await liveClassWithTeacherOnNode();
    const first = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    await teacherClient.ok("recording.stop");
    const second = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    await teacherClient.ok("recording.stop");
    expect(second.recording.recordingId).not.toBe(first.recording.recordingId);
    const rows = await db.select().from(recordings).where(eq(recordings.classId, classId));
    expect(rows.map((r) => r.id).sort()).toEqual([first.recording.recordingId, second.recording.recordingId].sort());
  });

  it("is for teachers and admins only", async () => {
    const { studentClient, link } = await liveClassWithTeacherOnNode();
    const refused = await studentClient.request("recording.start", {});
    expect(refused).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const stop = await studentClient.request("recording.stop", {});
    expect(stop).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const bad = await studentClient.request("recording.start", { userIds: ["x"] });
    expect(bad.ok).toBe(false);
    expect(link.of("recording.start")).toHaveLength(0);
  });

  it("refuses while the teacher sends nothing, and leaves nothing behind when the node refuses", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const client = await ChannelClient.join(teacher, classId);
    const nothing = await client.request("recording.start", {});
    expect(nothing).toMatchObject({ ok: false, error: { code: "CONFLICT" } });

    const refusing = await liveClassWithTeacherOnNode(["recording.start"]);
    const failed = await refusing.teacherClient.request("recording.start", {});
    expect(failed).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    expect(await db.select().from(recordings).where(eq(recordings.classId, refusing.classId))).toEqual([]);
    expect(recordingSeenBy(refusing.studentClient)).toBeNull();
    expect(await db.select().from(recordings).where(eq(recordings.classId, classId))).toEqual([]);
  });

  it("stops when the class ends", async () => {
    const { teacherClient, studentClient, link } = await liveClassWithTeacherOnNode();
    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    await teacherClient.ok("session.end");
    await eventually(async () => {
      expect(link.of("recording.stop").map((c) => c.data)).toEqual([{ recordingId: recording.recordingId }]);
    });
    const row = await db.query.recordings.findFirst({ where: eq(recordings.id, recording.recordingId) });
    expect(row!.endedAt).not.toBeNull();
    expect(studentClient.notifications.some((n) => n.notification === "closing")).toBe(true);
  });
});
