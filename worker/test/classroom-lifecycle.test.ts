import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attendance, blocks, chatMessages, liveSessions, pollVotes } from "../../schema/db";
import { CLASSROOM_CLOSE_CODES, type Poll } from "../../schema/protocol/classroom";
import { api, createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, enroll, eventually, joinToken, openSocket } from "./ws-client";

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

/** Moves the object's clock-based duties into the past and runs its alarm (instead of sleeping 10 s or 10 min). */
async function runDueDuties(classId: string, sql: string) {
  await runInDurableObject(stubOf(classId), (_instance, state) => {
    state.storage.sql.exec(sql);
  });
  await runDurableObjectAlarm(stubOf(classId));
}

describe("presence and attendance", () => {
  it("a reconnect within the grace does not flap; after the grace the leave is broadcast and attendance closed", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const first = await ChannelClient.join(students[0]!, classId);
    const id = students[0]!.id;
    await teacherClient.until(() => teacherClient.participants.get(id)?.present === true, "student present");
    first.close();
    await teacherClient.until(() => teacherClient.participants.get(id)?.present === false, "student away");
    const second = await ChannelClient.join(students[0]!, classId);
    await teacherClient.until(() => teacherClient.participants.get(id)?.present === true, "student back");
    expect(teacherClient.events.some((e) => e.type === "participants" && e.removed.includes(id))).toBe(false);
    await eventually(async () => expect(await db.select().from(attendance).where(eq(attendance.userId, id))).toHaveLength(1));

    second.close();
    await teacherClient.until(() => teacherClient.participants.get(id)?.present === false, "student away again");
    await runDueDuties(classId, "UPDATE participants SET leave_due_at = 0 WHERE present = 0");
    await teacherClient.until(() => !teacherClient.participants.has(id), "student gone");
    await eventually(async () => {
      const [row] = await db.select().from(attendance).where(eq(attendance.userId, id));
      expect(row).toMatchObject({ leaveReason: "left" });
      expect(row!.durationMs).toBeGreaterThan(0);
    });
  });

  it("raised hands form a queue in order; the teacher lowers one", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const a = await ChannelClient.join(students[0]!, classId);
    const b = await ChannelClient.join(students[1]!, classId);
    await b.ok("hand.raise", {});
    await new Promise((r) => setTimeout(r, 5));
    await a.ok("hand.raise", {});
    const queue = () =>
      [...teacherClient.participants.values()]
        .filter((p) => p.handRaisedAt !== null)
        .sort((x, y) => x.handRaisedAt! - y.handRaisedAt!)
        .map((p) => p.userId);
    await teacherClient.until(() => queue().length === 2, "two hands");
    expect(queue()).toEqual([students[1]!.id, students[0]!.id]);
    await teacherClient.ok("hand.lower", { userId: students[1]!.id });
    // Another student saw the hand; with it down, that student is out of their view again.
    await a.until(() => !a.participants.has(students[1]!.id), "hand lowered");
    expect(queue()).toEqual([students[0]!.id]);
  });

  it("reactions are summed and sent once a second, not one frame per click", async () => {
    const { classId, teacher, students } = await createLiveClass(3);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const clients = await Promise.all(students.map((s) => ChannelClient.join(s, classId)));
    const sentAt = Date.now();
    await Promise.all(
      clients.flatMap((c) => [c.ok("reaction.send", { emoji: "🎉" }), c.ok("reaction.send", { emoji: "🎉" }), c.ok("reaction.send", { emoji: "👍🏽" })]),
    );
    const reactionEvents = () => teacherClient.events.filter((e) => e.type === "reactions");
    const total = (emoji: string) => reactionEvents().reduce((sum, e) => sum + (e.type === "reactions" ? (e.counts[emoji] ?? 0) : 0), 0);
    await teacherClient.until(() => total("🎉") === 6 && total("👍🏽") === 3, "all reactions");
    // A frame goes out a second after the first reaction it sums, so frames are at least a second apart: no more of
    // them than whole seconds went by (one when the nine clicks are answered within a second; a loaded machine that
    // spreads them over several seconds may send one a second, never more).
    expect(reactionEvents().length).toBeLessThanOrEqual(Math.floor((Date.now() - sentAt) / 1000));
  });
});

describe("poll timers", () => {
  it("a poll with a timer closes by itself when the time is up, and voting stops", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Quick!", options: ["a", "b"], durationSeconds: 30 });
    expect(poll.closesAt! - poll.createdAt).toBe(30_000);
    await runDueDuties(classId, `UPDATE polls SET closes_at = ${Date.now() - 1}`);
    await student.until(() => student.poll(poll.id)?.status === "closed", "poll closed by its timer");
    const late = await student.request("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    expect(late.ok ? null : late.error.code).toBe("CONFLICT");
  });
});

describe("hibernation and restarts", () => {
  it("after eviction with sockets hibernated, chat, polls and votes are all still there and the sockets keep working", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await student.ok("chat.send", { clientMessageId: "before", body: "before the nap 😴" });
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Awake?", options: ["yes", "no"] });
    await student.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    await evictDurableObject(stubOf(classId));

    await student.ok("chat.send", { clientMessageId: "after", body: "after the nap" });
    await teacherClient.until(() => teacherClient.chat.some((m) => m.body === "after the nap"), "message after hibernation");
    const late = await ChannelClient.join(teacher, classId);
    expect(late.snapshot!.chat.map((m) => m.body)).toEqual(["before the nap 😴", "after the nap"]);
    expect(late.snapshot!.polls[0]).toMatchObject({ id: poll.id, totalVoters: 1 });
    expect(late.snapshot!.participants.map((p) => p.userId).sort()).toEqual([teacher.id, students[0]!.id].sort());
    const resend = await student.ok<{ message: { body: string } }>("chat.send", { clientMessageId: "before", body: "before the nap 😴" });
    expect(resend.message.body).toBe("before the nap 😴");
    await eventually(async () => expect((await db.select().from(chatMessages).where(eq(chatMessages.classId, classId))).length).toBe(2));
  });

  it("a restart that drops every socket loses nothing: writes not yet in D1 are shipped by the alarm", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Still there?", options: ["yes", "no"] });
    await student.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[1]!.id] });
    await student.ok("chat.send", { clientMessageId: "last-words", body: "right before the restart" });
    await evictDurableObject(stubOf(classId), { webSockets: "close" });
    await runDurableObjectAlarm(stubOf(classId));
    expect((await db.select().from(chatMessages).where(eq(chatMessages.classId, classId))).map((m) => m.body)).toEqual(["right before the restart"]);
    expect((await db.select().from(pollVotes).where(eq(pollVotes.pollId, poll.id))).map((v) => v.optionId)).toEqual([poll.options[1]!.id]);

    const back = await ChannelClient.join(students[0]!, classId);
    expect(back.snapshot!.chat.map((m) => m.body)).toEqual(["right before the restart"]);
    expect(back.snapshot!.myVotes).toEqual({ [poll.id]: [poll.options[1]!.id] });
  });
});

describe("moderation and the end of a class", () => {
  it("block kicks a live user at once, writes a class block, and refuses the rejoin (route and old token)", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const other = await ChannelClient.join(students[1]!, classId);
    const { token } = await joinToken(students[0]!, classId);
    const { socket } = await openSocket(classId, token);
    const victim = new ChannelClient(socket!);
    await victim.until(() => victim.snapshot !== null, "snapshot");

    await teacherClient.ok("participant.block", { userId: students[0]!.id, reason: "spam" });
    const closed = await victim.waitClosed();
    expect(closed.code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    expect(victim.notifications.at(-1)).toEqual({ notification: "closing", data: { reason: "blocked", message: "You have been blocked from this class" } });
    await other.until(() => !other.participants.has(students[0]!.id), "victim gone for others");
    const [row] = await db.select().from(blocks).where(eq(blocks.userId, students[0]!.id));
    expect(row).toMatchObject({ classId, blockedBy: teacher.id, reason: "spam", liftedAt: null });

    expect((await api(`/api/classes/${classId}/join`, { method: "POST", as: students[0]! })).status).toBe(403);
    expect((await openSocket(classId, token)).response.status).toBe(403);
    await eventually(async () => expect((await db.select().from(attendance).where(eq(attendance.userId, students[0]!.id)))[0]?.leaveReason).toBe("blocked"));
  });

  it("a class block made on the blocks page puts the student out of the live class at once and keeps them out", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const response = await api("/api/blocks", { as: teacher, method: "POST", body: { userId: students[0]!.id, classId, reason: "Disruptive" } });
    expect(response.status).toBe(201);
    expect((await student.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    await teacherClient.until(() => !teacherClient.participants.has(students[0]!.id), "gone for the teacher");
    expect((await api(`/api/classes/${classId}/join`, { method: "POST", as: students[0]! })).status).toBe(403);
  });

  it("a global block by an admin puts the user out of every class they sit in", async () => {
    const first = await createLiveClass(1);
    const second = await createLiveClass(0);
    const user = await enroll(second.classId, first.students[0]!);
    const inFirst = await ChannelClient.join(user, first.classId);
    const inSecond = await ChannelClient.join(user, second.classId);
    await eventually(async () => expect(await db.select().from(attendance).where(eq(attendance.userId, user.id))).toHaveLength(2));
    const admin = await createUser("admin");
    expect((await api("/api/blocks", { as: admin, method: "POST", body: { userId: user.id, reason: "Abuse" } })).status).toBe(201);
    expect((await inFirst.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    expect((await inSecond.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
  });

  it("remove kicks a user who may rejoin", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await teacherClient.ok("participant.remove", { userId: students[0]!.id });
    expect((await student.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.kicked);
    const again = await ChannelClient.join(students[0]!, classId);
    await again.until(() => again.participants.get(students[0]!.id)?.present === true, "back in the list");
    await teacherClient.until(() => teacherClient.participants.has(students[0]!.id), "back for the teacher");
  });

  it("ending the class closes every socket, records the end, and the next join starts a fresh session", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const clients = await Promise.all(students.map((s) => ChannelClient.join(s, classId)));
    await clients[0]!.ok("chat.send", { clientMessageId: "bye", body: "bye" });
    await teacherClient.ok("session.end", {});
    for (const client of [teacherClient, ...clients]) {
      expect((await client.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.ended);
      expect(client.notifications.some((n) => n.notification === "closing" && n.data.reason === "ended")).toBe(true);
    }
    const [session] = await db.select().from(liveSessions).where(eq(liveSessions.classId, classId));
    expect(session).toMatchObject({ endedBy: teacher.id, endReason: "ended-by-teacher" });
    const rows = await db.select().from(attendance).where(eq(attendance.sessionId, session!.id));
    expect(rows.map((r) => r.leaveReason)).toEqual(["ended", "ended", "ended"]);

    const fresh = await ChannelClient.join(teacher, classId);
    expect(fresh.snapshot!.session.sessionId).not.toBe(session!.id);
    expect(fresh.snapshot!.chat).toEqual([]);
  });

  it("a session nobody is in ends after 10 minutes", async () => {
    const { classId, students } = await createLiveClass(1);
    const student = await ChannelClient.join(students[0]!, classId);
    student.close();
    await student.waitClosed();
    await eventually(async () => {
      const rows = await runInDurableObject(stubOf(classId), (_i, state) => state.storage.sql.exec("SELECT present FROM participants").toArray());
      expect(rows).toEqual([{ present: 0 }]);
    });
    await runDueDuties(classId, "UPDATE participants SET leave_due_at = 0");
    await runDueDuties(classId, `UPDATE session SET empty_since = ${Date.now() - 11 * 60_000}`);
    await eventually(async () => {
      const [session] = await db.select().from(liveSessions).where(eq(liveSessions.classId, classId));
      expect(session).toMatchObject({ endReason: "empty", endedBy: null });
    });
  });
});
