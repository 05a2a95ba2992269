import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ChaptersResponse } from "../../schema/api/recording-viewer";
import { classMarks, recordings } from "../../schema/db";
import { api, db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const marksOf = (classId: string) => db.select().from(classMarks).where(eq(classMarks.classId, classId)).orderBy(classMarks.at);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("stage chapters", () => {
  it("a student brought on stage and taken off makes two chapters; a refused invitation and a repeated one make none", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const [ana, ben] = [students[0]!, students[1]!];
    const teacherClient = await ChannelClient.join(teacher, classId);
    await ChannelClient.join(ana, classId);
    const benClient = await ChannelClient.join(ben, classId);
    const sessionId = teacherClient.snapshot!.session.sessionId;
    const startedAt = Date.now() - 1_000;
    const link = await NodeLink.connect(classId, "node-stage-marks", []);

    // The node refuses Ben's grant: the teacher is told, Ben is not on stage, and no chapter says he was.
    link.refuseWith("setGrant", { code: "INTERNAL", message: "grant failed" });
    const refused = await teacherClient.request("stage.invite", { userId: ben.id });
    expect(refused.ok).toBe(false);
    link.accept("setGrant");

    await teacherClient.ok("stage.invite", { userId: ana.id });
    // Invited again while on stage: the same stretch.
    await teacherClient.ok("stage.invite", { userId: ana.id });
    // Longer than the window in which a later mark about Ana would replace this one.
    await sleep(3_100);
    await teacherClient.ok("stage.revoke", { userId: ana.id });
    // Ben leaving the class was never on stage: nothing to end.
    benClient.close();

    await eventually(async () =>
      expect((await marksOf(classId)).map((m) => [m.kind, m.label])).toEqual([
        ["stage", `${ana.displayName} on stage`],
        ["stage-ended", `${ana.displayName} left the stage`],
      ]),
    );
    const recordingId = crypto.randomUUID();
    await eventually(async () => {
      await db.insert(recordings).values({ id: recordingId, classId, sessionId, startedAt, createdAt: startedAt, updatedAt: startedAt });
    });
    const response = await api(`/api/recordings/${recordingId}/chapters`, { as: ana });
    expect(response.status).toBe(200);
    const { chapters } = await response.json<ChaptersResponse>();
    expect(chapters.map((c) => [c.kind, c.label])).toEqual([
      ["stage", `${ana.displayName} on stage`],
      ["stage-ended", `${ana.displayName} left the stage`],
    ]);
    expect(chapters[1]!.atMs - chapters[0]!.atMs).toBeGreaterThanOrEqual(3_000);
    link.socket.close();
  });
});
