import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import type { Outbox } from "../../durable-objects/outbox";
import type { AttendanceLine, SessionAttendanceResponse } from "../../schema/api/attendance";
import * as schema from "../../schema/db";
import { sessionEngagement, type User } from "../../schema/db";
import { api, db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

/**
 * Hands raised, reactions and time on stage in the attendance report, counted by the real class object from
 * real class-channel sockets and read back through the report's HTTP API.
 */

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

async function report(classId: string, sessionId: string, as: User): Promise<SessionAttendanceResponse> {
  const res = await api(`/api/classes/${classId}/sessions/${sessionId}/attendance`, { as });
  expect(res.status).toBe(200);
  return res.json<SessionAttendanceResponse>();
}

function lineOf(body: SessionAttendanceResponse, user: User): AttendanceLine {
  const line = body.lines.find((l) => l.userId === user.id);
  if (!line) throw new Error(`no line for ${user.displayName}`);
  return line;
}

/** Runs `action` and returns when it started and when it was answered: the server acted somewhere in between. */
async function timed(action: () => Promise<unknown>): Promise<{ from: number; to: number }> {
  const from = Date.now();
  await action();
  return { from, to: Date.now() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("engagement in the attendance report", () => {
  it("counts each raise of a hand once, every reaction, and time on stage; the end of the session closes an open stage stretch", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const [ana, ben] = students as [User, User];
    const teacherClient = await ChannelClient.join(teacher, classId);
    const anaClient = await ChannelClient.join(ana, classId);
    // Ben only needs to be in the class: the teacher puts him on stage and leaves him there.
    await ChannelClient.join(ben, classId);
    const sessionId = teacherClient.snapshot!.session!.sessionId;

    // Up, up again (still the same raise), down, up: two hands raised.
    await anaClient.ok("hand.raise", {});
    await anaClient.ok("hand.raise", {});
    await anaClient.ok("hand.lower", {});
    await anaClient.ok("hand.raise", {});
    for (const emoji of ["👍", "🎉", "👍"]) await anaClient.ok("reaction.send", { emoji });

    const anaOn = await timed(() => teacherClient.ok("stage.invite", { userId: ana.id }));
    await sleep(400);
    const anaOff = await timed(() => teacherClient.ok("stage.revoke", { userId: ana.id }));
    const benOn = await timed(() => teacherClient.ok("stage.invite", { userId: ben.id }));

    // While the session runs, D1 has it a moment later; Ben's open stretch counts up to now.
    await eventually(async () => {
      const running = await report(classId, sessionId, teacher);
      expect(lineOf(running, ana)).toMatchObject({ handsRaised: 2, reactions: 3 });
      expect(lineOf(running, ben).stageMs).toBeGreaterThan(0);
    });
    const asked = Date.now();
    const running = await report(classId, sessionId, teacher);
    expect(lineOf(running, ben).stageMs).toBeGreaterThanOrEqual(asked - benOn.to);

    await sleep(300);
    const end = await timed(() => teacherClient.ok("session.end", {}));

    const body = await report(classId, sessionId, teacher);
    if (body.scope !== "everyone") throw new Error("the teacher sees everyone");
    expect(body.session.endedAt).not.toBeNull();
    const anaLine = lineOf(body, ana);
    expect(anaLine).toMatchObject({ handsRaised: 2, reactions: 3 });
    expect(anaLine.stageMs).toBeGreaterThanOrEqual(anaOff.from - anaOn.to);
    expect(anaLine.stageMs).toBeLessThanOrEqual(anaOff.to - anaOn.from);
    expect(anaLine.stageMs).toBeGreaterThanOrEqual(400);
    // Ben was still on stage when the session ended: his stretch ends with it.
    const benLine = lineOf(body, ben);
    expect(benLine).toMatchObject({ handsRaised: 0, reactions: 0 });
    expect(benLine.stageMs).toBeGreaterThanOrEqual(end.from - benOn.to);
    expect(benLine.stageMs).toBeLessThanOrEqual(end.to - benOn.from);
    const [benRow] = await db.select().from(sessionEngagement).where(eq(sessionEngagement.userId, ben.id));
    expect(benRow).toMatchObject({ sessionId, stageSince: null, stageMs: benLine.stageMs });
    // Later reads of the ended session do not grow.
    await sleep(100);
    expect(lineOf(await report(classId, sessionId, teacher), ben).stageMs).toBe(benLine.stageMs);

    expect(lineOf(body, teacher)).toMatchObject({ handsRaised: 0, reactions: 0, stageMs: 0 });
    expect(body.totals).toMatchObject({ handsRaised: 2, reactions: 3, stageMs: anaLine.stageMs + benLine.stageMs });

    // Ben sees his own line, with his time on stage, and nothing of Ana's.
    const own = await report(classId, sessionId, ben);
    expect(own.lines).toEqual([benLine]);
  });

  it("many reactions in a second reach D1 as one write, not one per reaction", { timeout: 60_000 }, async () => {
    const { classId, students } = await createLiveClass(3);
    const clients = await Promise.all(students.map((student) => ChannelClient.join(student, classId)));
    const sessionId = clients[0]!.snapshot!.session!.sessionId;
    const engagementStatements: string[] = [];
    const real = env.DB;
    const watched = new Proxy(real, {
      get(target, property) {
        if (property === "batch") {
          return (statements: D1PreparedStatement[]) => {
            for (const statement of statements) {
              const text = (statement as unknown as { statement?: string }).statement ?? "";
              if (text.includes("session_engagement")) engagementStatements.push(text);
            }
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await runInDurableObject(stubOf(classId), (instance) => {
      // Only to count the statements the outbox sends; they still go to the real D1.
      Object.assign((instance as unknown as { outbox: Outbox }).outbox, { db: drizzle(watched, { schema }) });
    });

    await Promise.all(clients.map((client) => Promise.all(["👍", "👏", "🎉", "😀", "❤️"].map((emoji) => client.ok("reaction.send", { emoji })))));
    await eventually(async () => {
      const rows = await db.select().from(sessionEngagement).where(eq(sessionEngagement.sessionId, sessionId));
      expect(rows.map((r) => r.reactions)).toEqual([5, 5, 5]);
    });
    // Fifteen reactions of three people: one upsert of three rows (two if the burst straddled a window).
    expect(engagementStatements.length).toBeGreaterThanOrEqual(1);
    expect(engagementStatements.length).toBeLessThanOrEqual(2);
  });

  it("an object evicted before it shipped the counts ships them at its alarm", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(student, classId);
    const sessionId = teacherClient.snapshot!.session!.sessionId;
    await studentClient.ok("hand.raise", {});
    await studentClient.ok("reaction.send", { emoji: "👋" });
    await teacherClient.ok("stage.invite", { userId: student.id });
    // The object dies before its one-second window ships anything. In tests an eviction waits for pending timers,
    // so the timer is stopped first, as a crash would stop it; the counts are left in the object's SQLite only.
    await runInDurableObject(stubOf(classId), (instance) => {
      const engagement = (instance as unknown as { engagement: { shipTimer: ReturnType<typeof setTimeout> | null } }).engagement;
      if (engagement.shipTimer) clearTimeout(engagement.shipTimer);
    });
    await evictDurableObject(stubOf(classId));
    expect(await db.select().from(sessionEngagement).where(eq(sessionEngagement.sessionId, sessionId))).toEqual([]);
    expect(await runDurableObjectAlarm(stubOf(classId))).toBe(true);
    const [row] = await db.select().from(sessionEngagement).where(eq(sessionEngagement.sessionId, sessionId));
    expect(row).toMatchObject({ userId: student.id, handsRaised: 1, reactions: 1, stageMs: 0 });
    expect(row!.stageSince).not.toBeNull();

    // The hibernated sockets still work, and the next raise adds to what was kept.
    await studentClient.ok("hand.lower", {});
    await studentClient.ok("hand.raise", {});
    await eventually(async () => expect(lineOf(await report(classId, sessionId, teacher), student).handsRaised).toBe(2));
  });

  it("a batch D1 took but whose answer was lost is sent again without counting twice", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(student, classId);
    const sessionId = teacherClient.snapshot!.session!.sessionId;
    let loseNextAnswer = false;
    let lostAnswers = 0;
    const real = env.DB;
    const flaky = new Proxy(real, {
      get(target, property) {
        if (property === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            const result = await target.batch(statements);
            if (loseNextAnswer) {
              loseNextAnswer = false;
              lostAnswers += 1;
              throw new Error("D1_ERROR: Network connection lost.");
            }
            return result;
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await runInDurableObject(stubOf(classId), async (instance) => {
      const outbox = (instance as unknown as { outbox: Outbox }).outbox;
      await outbox.flush();
      Object.assign(outbox, { db: drizzle(flaky, { schema }) });
    });
    loseNextAnswer = true;
    for (const emoji of ["👍", "👍", "🎉"]) await studentClient.ok("reaction.send", { emoji });
    await eventually(async () => expect(lostAnswers).toBe(1));
    // The outbox waits about a second before it tries again.
    await eventually(async () => {
      await runDurableObjectAlarm(stubOf(classId));
      const pending = await runInDurableObject(stubOf(classId), (instance) => (instance as unknown as { outbox: Outbox }).outbox.pending);
      expect(pending).toBe(0);
    }, 10_000);
    const [row] = await db.select().from(sessionEngagement).where(eq(sessionEngagement.sessionId, sessionId));
    expect(row).toMatchObject({ userId: student.id, reactions: 3 });
  });
});
