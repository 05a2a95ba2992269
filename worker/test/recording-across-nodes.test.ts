import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes } from "../../schema/db";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { RecordingState } from "../../schema/protocol/classroom";
import { addNode, NodeLink, PipingNode } from "./node-link-helpers";
import { db } from "./helpers";
import { ChannelClient, createLiveClass } from "./ws-client";

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

async function spreadClass(students: number) {
  const { classId, teacher, students: people } = await createLiveClass(students);
  const teacherClient = await ChannelClient.join(teacher, classId);
  for (const student of people) await ChannelClient.join(student, classId);
  const eu = await NodeLink.connect(classId, "node-rec-eu", [camera(teacher.id, "p-teacher-cam")], [teacher.id], new PipingNode("10.0.1.1", 41001).answer);
  const sg = await NodeLink.connect(classId, "node-rec-sg", [], [], new PipingNode("10.0.1.2", 41002).answer);
  await teacherClient.until(
    () => teacherClient.events.some((e) => e.type === "media.producers" && e.upserts.some((p) => p.producerId === "p-teacher-cam")),
    "the teacher's camera in the map",
  );
  return { classId, teacher, students: people, teacherClient, eu, sg };
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
    const { classId, teacher, students } = await createLiveClass(1);
    const guest = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    await ChannelClient.join(guest, classId);
    const eu = await NodeLink.connect(classId, "node-rec-eu", [camera(teacher.id, "p-teacher-cam")], [teacher.id], new PipingNode("10.0.1.1", 41001).answer);
    const sg = await NodeLink.connect(classId, "node-rec-sg", [], [], new PipingNode("10.0.1.2", 41002).answer);
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
