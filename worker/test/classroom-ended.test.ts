import { eq } from "drizzle-orm";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { JOIN_OPENS_BEFORE_START_MS, JoinRefusedSchema, JoinResponseSchema } from "../../schema/api/join";
import { liveSessions, occurrences, recordings } from "../../schema/db";
import { CLASSROOM_CLOSE_CODES } from "../../schema/protocol/classroom";
import { api, createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, enroll, eventually, joinToken, openSocket } from "./ws-client";

/** A join the Worker refused, parsed as the web app parses it. */
async function refusedJoin(user: Parameters<typeof joinToken>[0], classId: string) {
  const res = await api(`/api/classes/${classId}/join`, { method: "POST", as: user });
  expect(res.status).toBe(409);
  return v.parse(JoinRefusedSchema, await res.json()).error;
}

describe("before and after the live session", () => {
  it("a student who comes too early is told when the room opens, as data the lobby counts down to", async () => {
    const { classId, teacher } = await createLiveClass(0, { startsInMs: 60 * 60_000 });
    const student = await enroll(classId, await createUser("student"));
    const [occurrence] = await db.select().from(occurrences).where(eq(occurrences.classId, classId));

    const error = await refusedJoin(student, classId);
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toContain("15 minutes before");
    expect(error.join).toEqual({
      reason: "not-open",
      occurrenceId: occurrence!.id,
      startsAt: occurrence!.startsAt,
      endsAt: occurrence!.endsAt,
      opensAt: occurrence!.startsAt - JOIN_OPENS_BEFORE_START_MS,
    });

    // The teacher may start early; the answer says when students can come in.
    const teacherJoin = v.parse(JoinResponseSchema, await (await api(`/api/classes/${classId}/join`, { method: "POST", as: teacher })).json());
    expect(teacherJoin.upcoming).toMatchObject({ occurrenceId: occurrence!.id, opensAt: occurrence!.startsAt - JOIN_OPENS_BEFORE_START_MS });
    expect(teacherJoin.ended).toBeNull();
  });

  it("a class with nothing scheduled refuses students with its own reason", async () => {
    const { classId } = await createLiveClass(0);
    const student = await enroll(classId, await createUser("student"));
    await db.delete(occurrences).where(eq(occurrences.classId, classId));
    expect((await refusedJoin(student, classId)).join).toEqual({ reason: "no-meeting" });
  });

  it("after the teacher ends the class, a student's join in the same slot is refused as ended; the teacher may start a new session, which lets students in again", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await student.ok("chat.send", { clientMessageId: "hello", body: "hello" });
    // Issued before the end: it must not open a fresh session after it.
    const { token: earlyToken } = await joinToken(students[1]!, classId);
    await teacherClient.ok("session.end", {});
    await student.waitClosed();
    const [session] = await db.select().from(liveSessions).where(eq(liveSessions.classId, classId));

    const error = await refusedJoin(students[0]!, classId);
    expect(error).toMatchObject({ code: "CONFLICT", message: "This class has ended" });
    expect(error.join).toEqual({ reason: "ended", sessionId: session!.id, endedAt: session!.endedAt, recording: null });
    // The class object, which ended the session, turns the early token away: told, closed for good, no session.
    const early = new ChannelClient((await openSocket(classId, earlyToken)).socket!);
    expect((await early.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.ended);
    expect(early.notifications).toEqual([{ notification: "closing", data: { reason: "ended", message: "This class has ended" } }]);

    const teacherJoin = await joinToken(teacher, classId);
    expect(teacherJoin.ended).toEqual({ sessionId: session!.id, endedAt: session!.endedAt, recording: null });

    const fresh = await ChannelClient.join(teacher, classId);
    expect(fresh.snapshot!.session.sessionId).not.toBe(session!.id);
    await eventually(async () => {
      const back = await ChannelClient.join(students[0]!, classId);
      expect(back.snapshot!.session.sessionId).toBe(fresh.snapshot!.session.sessionId);
      back.close();
    });
    fresh.close();
  });

  it("the ended answer points to the session's recording: being prepared, then ready to watch", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    await teacherClient.ok("session.end", {});
    await teacherClient.waitClosed();
    const [session] = await db.select().from(liveSessions).where(eq(liveSessions.classId, classId));
    const now = Date.now();
    const recordingId = crypto.randomUUID();
    await db.insert(recordings).values({
      id: recordingId,
      classId,
      sessionId: session!.id,
      status: "composing",
      startedAt: session!.startedAt,
      endedAt: now,
      createdAt: now,
      updatedAt: now,
    });

    expect((await refusedJoin(students[0]!, classId)).join).toMatchObject({ reason: "ended", recording: { id: recordingId, ready: false } });
    await db.update(recordings).set({ status: "ready" }).where(eq(recordings.id, recordingId));
    expect((await refusedJoin(students[0]!, classId)).join).toMatchObject({ reason: "ended", recording: { id: recordingId, ready: true } });
  });

  it("a session that ended because nobody was in does not keep students out", async () => {
    const { classId, students } = await createLiveClass(1);
    const now = Date.now();
    await db
      .insert(liveSessions)
      .values({ id: crypto.randomUUID(), classId, occurrenceId: null, startedAt: now - 20 * 60_000, endedAt: now - 60_000, endReason: "empty" });
    expect((await joinToken(students[0]!, classId)).role).toBe("student");
  });
});
