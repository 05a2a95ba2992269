import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ChaptersResponse } from "../../schema/api/recording-viewer";
import { classMarks, recordings } from "../../schema/db";
import type { LinkProducer } from "../../schema/protocol/class-link";
import { api, db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const marksOf = (classId: string) => db.select().from(classMarks).where(eq(classMarks.classId, classId)).orderBy(classMarks.at);

describe("screen share chapters", () => {
  it("the end of a screen share is a chapter of its own, marked once; producers going without a share mark nothing", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const sharer = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(sharer, classId);
    const sessionId = teacherClient.snapshot!.session.sessionId;
    const startedAt = Date.now() - 1_000;

    const link = await NodeLink.connect(classId, "node-share-marks", []);
    const send = (frame: unknown) => link.socket.send(JSON.stringify(frame));
    const seen = (producerId: string, gone: boolean) =>
      student.until(
        () =>
          student.events.some(
            (e) => e.type === "media.producers" && (gone ? e.removed.includes(producerId) : e.upserts.some((p) => p.producerId === producerId)),
          ),
        `producer ${producerId} ${gone ? "removed" : "added"}`,
      );
    const producer = (producerId: string, userId: string, source: LinkProducer["source"]): LinkProducer => ({
      producerId,
      userId,
      kind: "video",
      source,
      paused: false,
    });

    // A camera comes and goes with no share anywhere: no mark.
    send({ notification: "producerAdded", data: producer("p-camera", teacher.id, "video") });
    await seen("p-camera", false);
    send({ notification: "producerRemoved", data: { producerId: "p-camera" } });
    await seen("p-camera", true);

    send({ notification: "producerAdded", data: producer("p-screen", sharer.id, "screen") });
    await seen("p-screen", false);
    // Longer than the window in which the sharer's next mark would replace this one.
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    send({ notification: "producerRemoved", data: { producerId: "p-screen" } });
    await seen("p-screen", true);
    // Another producer going after the share ended marks nothing more.
    send({ notification: "producerAdded", data: producer("p-camera-2", teacher.id, "video") });
    await seen("p-camera-2", false);
    send({ notification: "producerRemoved", data: { producerId: "p-camera-2" } });
    await seen("p-camera-2", true);

    const name = sharer.displayName;
    await eventually(async () =>
      expect((await marksOf(classId)).map((m) => [m.kind, m.label])).toEqual([
        ["screen-share", `Screen share by ${name}`],
        ["screen-share-ended", `Screen share by ${name} ended`],
      ]),
    );
    // The recording row, as the class object writes it, once the session has reached D1 through the outbox.
    const recordingId = crypto.randomUUID();
    await eventually(async () => {
      await db.insert(recordings).values({ id: recordingId, classId, sessionId, startedAt, createdAt: startedAt, updatedAt: startedAt });
    });
    const response = await api(`/api/recordings/${recordingId}/chapters`, { as: sharer });
    expect(response.status).toBe(200);
    const { chapters } = await response.json<ChaptersResponse>();
    expect(chapters.map((c) => c.label)).toEqual([`Screen share by ${name}`, `Screen share by ${name} ended`]);
    expect(chapters[1]!.atMs - chapters[0]!.atMs).toBeGreaterThanOrEqual(3_000);
    link.socket.close();
  });
});
