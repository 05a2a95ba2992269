import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes } from "../../schema/db";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { RecordingState } from "../../schema/protocol/classroom";
import { addNode, NodeLink, PipingNode } from "./node-link-helpers";
import { eq } from "drizzle-orm";
import { PART_LOST_REASON, partTitle } from "../../durable-objects/recording";
import { recordings } from "../../schema/db";
import { db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

/**
 * A class spread over nodes is recorded whole: the recording runs on the node of the teachers' media, and the
 * class object has every recorded user's producer on another node piped there (the recorder consumes the copy
 * like a participant would). Stage guests are recorded from the moment they go on stage.
 */

const camera = (userId: string, producerId: string): LinkProducer => ({ producerId, userId, kind: "video", source: "video", paused: false });

/** How many commands `method` (matching) the link got so far. */
function count(link: NodeLink, method: string, match: (data: Record<string, unknown>) => boolean = () => true): number {
  return link.commands.filter((c) => c.method === method && match(c.data)).length;
}

/**
 * A live class with a teacher and `students` students in it, the teacher's camera on node-rec-eu (in the class's media
 * map) and node-rec-sg linked with nothing on it yet.
 */
async function spreadClass(students: number) {
  const { classId, teacher, students: people } = await createLiveClass(students);
  const teacherClient = await ChannelClient.join(teacher, classId);
  const studentClients: ChannelClient[] = [];
  for (const student of people) studentClients.push(await ChannelClient.join(student, classId));
  const eu = await NodeLink.connect(classId, "node-rec-eu", [camera(teacher.id, "p-teacher-cam")], [teacher.id], new PipingNode("10.0.1.1", 41001).answer);
  const sg = await NodeLink.connect(classId, "node-rec-sg", [], [], new PipingNode("10.0.1.2", 41002).answer);
  await teacherClient.until(
    () => teacherClient.events.some((e) => e.type === "media.producers" && e.upserts.some((p) => p.producerId === "p-teacher-cam")),
    "the teacher's camera in the map",
  );
  return { classId, teacher, students: people, teacherClient, studentClients, eu, sg };
}

beforeEach(async () => {
  await db.delete(sfuNodes);
  await addNode("node-rec-eu", "eu-west");
  await addNode("node-rec-sg", "ap-southeast");
});

describe("a recording of a class on several nodes", () => {
  it("a stage guest on another node who publishes while recording is recorded: included on the recording's node, their camera piped there", {
    timeout: 60_000,
  }, async () => {
    const { students, teacherClient, eu, sg, teacher } = await spreadClass(2);
    const [guest, other] = [students[0]!, students[1]!];
    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    expect((await eu.command("recording.start")).data).toEqual({ recordingId: recording.recordingId, userIds: [teacher.id] });
    expect(count(sg, "recording.start")).toBe(0);

    await teacherClient.ok("stage.invite", { userId: guest.id });
    expect((await eu.command("recording.include")).data).toEqual({ recordingId: recording.recordingId, userIds: [guest.id] });

    // The guest's camera starts on node-rec-sg: node-rec-sg sends it to the recording's node, which takes it in.
    sg.notify("producerAdded", camera(guest.id, "p-guest-cam"));
    const produced = await eu.command("pipeProduce", (d) => d.producerId === "p-guest-cam");
    expect(produced.data).toMatchObject({ peerNodeId: "node-rec-sg", producerId: "p-guest-cam", userId: guest.id, source: "video" });
    expect((await sg.command("pipeConsume")).data).toEqual({ peerNodeId: "node-rec-eu", producerId: "p-guest-cam" });

    // Someone who is not recorded (not on stage) is not piped for the recording.
    sg.notify("producerAdded", camera(other.id, "p-other-cam"));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(count(sg, "pipeConsume", (d) => d.producerId === "p-other-cam")).toBe(0);
    // Nothing of the teacher's, on the recording's node already, is piped anywhere.
    expect(count(eu, "pipeConsume")).toBe(0);

    await teacherClient.ok("recording.stop");
    expect((await eu.command("recording.stop")).data).toEqual({ recordingId: recording.recordingId });
    // After the stop, a guest's new producer is nobody's business of the recording's.
    sg.notify("producerAdded", { ...camera(guest.id, "p-guest-screen"), source: "screen" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(count(sg, "pipeConsume", (d) => d.producerId === "p-guest-screen")).toBe(0);
  });

  it("a guest already on stage on another node when the recording starts is recorded from the start", { timeout: 60_000 }, async () => {
    const { teacher, students, teacherClient, eu, sg } = await spreadClass(1);
    const guest = students[0]!;
    await teacherClient.ok("stage.invite", { userId: guest.id });
    sg.notify("producerAdded", camera(guest.id, "p-guest-cam"));
    await teacherClient.until(
      () => teacherClient.events.some((e) => e.type === "media.producers" && e.upserts.some((p) => p.producerId === "p-guest-cam")),
      "the guest's camera in the map",
    );
    // Watched by nobody on the recording's node before: no pipe yet.
    expect(count(eu, "pipeProduce")).toBe(0);

    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    expect((await eu.command("recording.start")).data).toEqual({ recordingId: recording.recordingId, userIds: [teacher.id, guest.id] });
    expect((await eu.command("pipeProduce")).data).toMatchObject({ peerNodeId: "node-rec-sg", producerId: "p-guest-cam", userId: guest.id });
    await teacherClient.ok("recording.stop");
  });
});

async function row(recordingId: string) {
  return (await db.query.recordings.findFirst({ where: eq(recordings.id, recordingId) }))!;
}

/** The recording ids a client's "REC" indicator showed, in order (null: REC off). */
function recShownTo(client: ChannelClient): (string | null)[] {
  const shown = [client.snapshot!.media.recording?.recordingId ?? null];
  for (const event of client.events) if (event.type === "recording") shown.push(event.recording?.recordingId ?? null);
  return shown;
}

describe("a recording whose node dies or drains goes on where the teacher moved", () => {
  it("killed (link gone): the next part starts on the teacher's new node as soon as their camera is there; the first ends failed (its restarted node may still finish it)", {
    timeout: 60_000,
  }, async () => {
    const { teacher, teacherClient, studentClients, eu, sg } = await spreadClass(1);
    const student = studentClients[0]!;
    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    await eu.command("recording.start");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const killedAt = Date.now();
    eu.socket.close(1011, "killed");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(count(sg, "recording.start")).toBe(0);

    // The class moves the teacher; their camera comes back on node-rec-sg.
    sg.notify("producerAdded", camera(teacher.id, "p-teacher-cam-2"));
    const next = (await sg.command("recording.start")).data as { recordingId: string; userIds: string[] };
    expect(next.recordingId).not.toBe(recording.recordingId);
    expect(next.userIds).toEqual([teacher.id]);
    await student.until(() => recShownTo(student).at(-1) === next.recordingId, "REC on the next part");
    // REC never went off in between.
    expect(recShownTo(student)).toEqual([null, recording.recordingId, next.recordingId]);

    await eventually(async () => expect((await row(recording.recordingId)).status).toBe("failed"));
    const first = await row(recording.recordingId);
    expect(first).toMatchObject({ failureReason: PART_LOST_REASON, title: partTitle("Live algebra", 1) });
    // Part 1 ends when its node went, not when part 2 began.
    expect(first.endedAt).toBeGreaterThanOrEqual(killedAt - 1_000);
    expect(first.endedAt).toBeLessThanOrEqual(killedAt + 1_000);
    const second = await row(next.recordingId);
    expect(second).toMatchObject({ status: "recording", nodeId: "node-rec-sg", sessionId: first.sessionId, title: partTitle("Live algebra", 2) });
    expect(second.startedAt).toBeGreaterThanOrEqual(first.endedAt!);

    await teacherClient.ok("recording.stop");
    expect((await sg.command("recording.stop")).data).toEqual({ recordingId: next.recordingId });
    await student.until(() => recShownTo(student).at(-1) === null, "REC off after the stop");
    await eventually(async () => expect((await row(next.recordingId)).endedAt).not.toBeNull());
  });

  it("drained (SIGTERM): the draining node is told to stop its part (it composes and publishes it) once the next part runs on the teacher's new node", {
    timeout: 60_000,
  }, async () => {
    const { teacher, teacherClient, studentClients, eu, sg } = await spreadClass(1);
    const student = studentClients[0]!;
    const { recording } = await teacherClient.ok<{ recording: RecordingState }>("recording.start");
    await eu.command("recording.start");
    eu.notify("draining", { exitsInMs: 30_000 });
    // The teacher is still on the draining node: their part goes on there meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(count(eu, "recording.stop")).toBe(0);
    expect(count(sg, "recording.start")).toBe(0);

    sg.notify("producerAdded", camera(teacher.id, "p-teacher-cam-2"));
    const next = (await sg.command("recording.start")).data as { recordingId: string };
    expect((await eu.command("recording.stop")).data).toEqual({ recordingId: recording.recordingId });
    await eventually(async () => expect((await row(recording.recordingId)).endedAt).not.toBeNull());
    // Not failed: the drained node reports composing → … → ready for it itself.
    expect(await row(recording.recordingId)).toMatchObject({ status: "recording", failureReason: null, title: partTitle("Live algebra", 1) });
    expect(await row(next.recordingId)).toMatchObject({ status: "recording", nodeId: "node-rec-sg", title: partTitle("Live algebra", 2) });

    // The drained node's room closes under its stopped part and it says goodbye: the running part is untouched.
    eu.notify("recordings", { recordings: [{ recordingId: recording.recordingId, capturing: false }] });
    eu.socket.close(1000, "room closed");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(recShownTo(student)).toEqual([null, recording.recordingId, next.recordingId]);
    expect((await row(next.recordingId)).status).toBe("recording");
    await teacherClient.ok("recording.stop");
    expect((await sg.command("recording.stop")).data).toEqual({ recordingId: next.recordingId });
  });
});
