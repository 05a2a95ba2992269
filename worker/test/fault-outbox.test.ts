import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../schema/db";
import { attendance, chatMessages, pollVotes, polls } from "../../schema/db";
import type { ChatMessage, Poll } from "../../schema/protocol/classroom";
import type { Outbox } from "../../durable-objects/outbox";
import { db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

/**
 * D1 failing for a while under a live class. The outbox, the object and D1 are the real ones; the only seam is
 * the D1 binding the outbox writes through, replaced inside the running object by one that passes every call to
 * the real D1 except `batch` while the outage lasts, which then throws what a lost D1 connection throws.
 */

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

interface Outage {
  /** While true, every D1 batch of the outbox fails without reaching D1. */
  down: boolean;
  /** Batches the outbox attempted during the outage. */
  failedBatches: number;
  /** When true, the next batch reaches D1 and commits, and then its answer is lost (the outbox sees a failure). */
  loseNextAnswer: boolean;
}

/** Puts the class object's outbox on a D1 connection that the returned switch can take down. */
async function breakD1(classId: string): Promise<Outage> {
  const outage: Outage = { down: true, failedBatches: 0, loseNextAnswer: false };
  const real = env.DB;
  const flaky = new Proxy(real, {
    get(target, property) {
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          if (outage.down) {
            outage.failedBatches += 1;
            throw new Error("D1_ERROR: Network connection lost.");
          }
          const result = await target.batch(statements);
          if (outage.loseNextAnswer) {
            outage.loseNextAnswer = false;
            throw new Error("D1_ERROR: Network connection lost.");
          }
          return result;
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  await runInDurableObject(stubOf(classId), (instance) => {
    // The outbox is private to the object; this test reaches in to swap the connection under it, nothing else.
    Object.assign((instance as unknown as { outbox: Outbox }).outbox, { db: drizzle(flaky, { schema }) });
  });
  return outage;
}

async function pending(classId: string): Promise<number> {
  return runInDurableObject(stubOf(classId), (instance) => (instance as unknown as { outbox: Outbox }).outbox.pending);
}

const chatOf = (classId: string) => db.select().from(chatMessages).where(eq(chatMessages.classId, classId));

describe("D1 outbox while D1 is failing", () => {
  it("keeps chat, votes and attendance live and in the object, backs off, and ships each once when D1 is back", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const [alice, bob] = await Promise.all(students.map((s) => ChannelClient.join(s, classId)));
    // Before the outage everyone's attendance reached D1: the outbox works on the real connection.
    await eventually(async () =>
      expect(
        await db
          .select()
          .from(attendance)
          .where(
            inArray(
              attendance.userId,
              students.map((s) => s.id),
            ),
          ),
      ).toHaveLength(2),
    );

    const outage = await breakD1(classId);
    const outageStarted = Date.now();
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Does it survive?", options: ["yes", "no"] });
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 6; i += 1) {
      const author = i % 2 === 0 ? alice! : bob!;
      sent.push((await author.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: `outage-${i}`, body: `during the outage ${i}` })).message);
    }
    await alice!.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    await bob!.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[1]!.id] });
    // Bob changes his mind: only the last vote may count, in the room and in D1.
    await bob!.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });

    // Bob leaves for good (his grace runs out by the alarm) and comes back: a closed interval and a new one.
    bob!.close();
    await teacherClient.until(() => teacherClient.participants.get(students[1]!.id)?.present === false, "bob away");
    await runInDurableObject(stubOf(classId), (_instance, state) => {
      state.storage.sql.exec("UPDATE participants SET leave_due_at = 0 WHERE present = 0");
    });
    expect(await runDurableObjectAlarm(stubOf(classId))).toBe(true);
    await teacherClient.until(() => !teacherClient.participants.has(students[1]!.id), "bob gone");
    const bobAgain = await ChannelClient.join(students[1]!, classId);

    // The room saw everything at once, whatever D1 does.
    await teacherClient.until(() => teacherClient.chat.length === 6, "six messages at the teacher");
    await teacherClient.until(() => teacherClient.poll(poll.id)?.totalVoters === 2, "two voters at the teacher");
    expect(bobAgain.snapshot!.chat.map((m) => m.body)).toEqual(sent.map((m) => m.body));

    // …and nothing of it is in D1 yet: it waits in the object's own SQLite.
    expect(await chatOf(classId)).toHaveLength(0);
    expect(await db.select().from(polls).where(eq(polls.id, poll.id))).toHaveLength(0);
    expect(await pending(classId)).toBeGreaterThanOrEqual(6 + 3 + 2 + 1);

    // Backed off, not a hot loop: a couple of seconds of outage cost a handful of attempts, and the alarm that
    // ran during the outage set the next one no sooner than the back-off, not its usual 2 s.
    await new Promise((r) => setTimeout(r, 2_500));
    const seconds = (Date.now() - outageStarted) / 1000;
    expect(outage.failedBatches).toBeGreaterThan(0);
    expect(outage.failedBatches).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    const alarmAt = await runInDurableObject(stubOf(classId), (_instance, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();

    // D1 is back, and the first answer is lost after D1 committed: the outbox retries what D1 already has.
    outage.loseNextAnswer = true;
    outage.down = false;
    await eventually(async () => expect(await pending(classId)).toBe(0), 20_000);

    const stored = await chatOf(classId);
    expect(stored.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
    expect(stored.map((m) => m.body).sort()).toEqual(sent.map((m) => m.body).sort());
    const votes = await db.select().from(pollVotes).where(eq(pollVotes.pollId, poll.id));
    expect(votes.map((v) => [v.userId, v.optionId]).sort()).toEqual(
      [
        [students[0]!.id, poll.options[0]!.id],
        [students[1]!.id, poll.options[0]!.id],
      ].sort(),
    );
    const bobAttendance = await db.select().from(attendance).where(eq(attendance.userId, students[1]!.id)).orderBy(attendance.joinedAt);
    expect(bobAttendance).toHaveLength(2);
    expect(bobAttendance[0]).toMatchObject({ leaveReason: "left" });
    expect(bobAttendance[0]!.leftAt).toBeGreaterThanOrEqual(bobAttendance[0]!.joinedAt);
    expect(bobAttendance[1]!.leftAt).toBeNull();

    // Chat after recovery ships at the usual pace again.
    const after = await alice!.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "after-outage", body: "D1 is back" });
    await eventually(async () => expect((await chatOf(classId)).map((m) => m.id)).toContain(after.message.id));
  });

  it("an object restarted during the outage ships what it kept at its alarm, without anyone reconnecting", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await breakD1(classId);
    const { message } = await student.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "kept", body: "kept across eviction" });
    await teacherClient.until(() => teacherClient.chat.length === 1, "message at the teacher");
    expect(await pending(classId)).toBeGreaterThan(0);
    expect(await chatOf(classId)).toHaveLength(0);

    // The object restarts: its memory (the broken connection with it) and sockets are gone; its SQLite and
    // alarm are not.
    await evictDurableObject(stubOf(classId), { webSockets: "close" });
    expect(await runDurableObjectAlarm(stubOf(classId))).toBe(true);
    await eventually(async () => expect((await chatOf(classId)).map((m) => m.id)).toEqual([message.id]));
    expect(await pending(classId)).toBe(0);
  });
});
