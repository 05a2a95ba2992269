import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../schema/db";
import { attendance, blocks, liveSessions, type User } from "../../schema/db";
import { CLASSROOM_CLOSE_CODES } from "../../schema/protocol/classroom";
import type { Outbox } from "../../durable-objects/outbox";
import { api, db } from "./helpers";
import { ChannelClient, createLiveClass, eventually, joinToken, openSocket } from "./ws-client";

/**
 * The join path makes each check in one place: the edge verifies the token and asks D1 once for an active block
 * and the enrolment; the class object keeps out whom it blocked moments ago and decides whether a student's slot
 * was ended. These tests hold the object's share to what the edge used to do.
 */

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

/**
 * Takes D1 away from the class object's outbox (every batch fails as a lost connection does) until `up()`: the
 * only seam is the D1 binding the outbox writes through, swapped inside the running object.
 */
async function takeD1FromOutbox(classId: string): Promise<{ up(): void }> {
  let down = true;
  const flaky = new Proxy(env.DB, {
    get(target, property) {
      if (property === "batch" && down) return async () => Promise.reject(new Error("D1_ERROR: Network connection lost."));
      const value = Reflect.get(target, property) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  await runInDurableObject(stubOf(classId), (instance) => {
    Object.assign((instance as unknown as { outbox: Outbox }).outbox, { db: drizzle(flaky, { schema }) });
  });
  return {
    up() {
      down = false;
    },
  };
}

/** Opens a socket with a fresh class token and waits until it is either in (snapshot) or closed. */
async function tryToEnter(user: User, classId: string, token?: string): Promise<ChannelClient> {
  const { socket, response } = await openSocket(classId, token ?? (await joinToken(user, classId)).token);
  if (!socket) throw new Error(`upgrade refused: ${response.status}`);
  const client = new ChannelClient(socket);
  await client.until(() => client.snapshot !== null || client.closed !== null, "snapshot or close");
  return client;
}

describe("the class object's share of a join", () => {
  it("a student blocked in the class while D1 is down stays out: refused by the object, after an eviction too, then by the edge", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(student, classId);
    const d1 = await takeD1FromOutbox(classId);

    await teacherClient.ok("participant.block", { userId: student.id, reason: "noise" });
    expect((await studentClient.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    // D1 has not heard of the block, so the join route and the edge let the student through to the object.
    expect(await db.select().from(blocks).where(eq(blocks.userId, student.id))).toEqual([]);
    const again = await tryToEnter(student, classId);
    expect(again.closed?.code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    expect(again.snapshot).toBeNull();

    await evictDurableObject(stubOf(classId));
    const d1AfterEviction = await takeD1FromOutbox(classId);
    const afterEviction = await tryToEnter(student, classId);
    expect(afterEviction.closed?.code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    expect(afterEviction.snapshot).toBeNull();

    d1.up();
    d1AfterEviction.up();
    await runDurableObjectAlarm(stubOf(classId));
    await eventually(async () => expect(await db.select().from(blocks).where(eq(blocks.userId, student.id))).toHaveLength(1));
    expect((await api(`/api/classes/${classId}/join`, { method: "POST", as: student })).status).toBe(403);
  });

  it("a token issued before the teacher ended the class opens nothing, until the teacher starts a new session", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const { token } = await joinToken(students[0]!, classId);
    await teacherClient.ok("session.end", {});
    await teacherClient.waitClosed();

    const early = await tryToEnter(students[0]!, classId, token);
    expect(early.closed?.code).toBe(CLASSROOM_CLOSE_CODES.ended);
    expect(early.snapshot).toBeNull();
    expect(await db.select().from(liveSessions).where(eq(liveSessions.classId, classId))).toHaveLength(1);

    const fresh = await ChannelClient.join(teacher, classId);
    const late = await tryToEnter(students[0]!, classId, token);
    expect(late.snapshot?.session?.sessionId).toBe(fresh.snapshot!.session!.sessionId);
  });

  it("students who arrive together before anyone opened the class share one session, and each has an attendance row", { timeout: 60_000 }, async () => {
    const { classId, students } = await createLiveClass(12);
    const clients = await Promise.all(students.map((student) => ChannelClient.join(student, classId)));
    const sessionIds = new Set(clients.map((client) => client.snapshot!.session!.sessionId));
    expect(sessionIds.size).toBe(1);
    const [sessionId] = [...sessionIds];
    await eventually(async () => {
      const rows = await db.select({ userId: attendance.userId }).from(attendance).where(eq(attendance.sessionId, sessionId!));
      expect(rows.map((row) => row.userId).sort()).toEqual(students.map((student) => student.id).sort());
    });
    expect(await db.select().from(liveSessions).where(eq(liveSessions.classId, classId))).toHaveLength(1);
    for (const client of clients) client.close();
  });

  it("each joiner's snapshot counts everyone present, themselves included, as people leave and come back", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(4);
    const [anna, ben, carry, dora] = students as [User, User, User, User];
    const teacherClient = await ChannelClient.join(teacher, classId);
    await ChannelClient.join(anna, classId);
    const benClient = await ChannelClient.join(ben, classId);
    expect(benClient.snapshot!.headCount).toBe(3);

    benClient.close();
    await teacherClient.until(() => teacherClient.participants.get(ben.id)?.present === false, "Ben away");
    expect((await ChannelClient.join(carry, classId)).snapshot!.headCount).toBe(3);
    // Back within the reconnect grace: counted again.
    expect((await ChannelClient.join(ben, classId)).snapshot!.headCount).toBe(4);
    expect((await ChannelClient.join(dora, classId)).snapshot!.headCount).toBe(5);
  });
});
