import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AttendanceSessionsResponse, ClassAttendanceResponse, SessionAttendanceResponse } from "../../schema/api/attendance";
import { attendance, chatMessages, classes, enrollments, liveSessions, pollOptions, polls, pollVotes, sessionEngagement, type User } from "../../schema/db";
import type { Poll } from "../../schema/protocol/classroom";
import { api, createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const MINUTE = 60_000;

/**
 * A class with one ended hour-long session, written straight into D1 the way the class object's outbox writes
 * it: the teacher all along; Ana in two tabs whose rows overlap (0–30 and 10–40 min), then back at 50 min with a
 * row the object never closed; Ben blocked at 20 min; Cleo enrolled but never there. Ana wrote two chat messages
 * (one deleted by the teacher) and answered a multiple-choice poll with two options; Ben wrote one. Ana raised her
 * hand twice, sent three reactions, was on stage for 90 s and went on again at 58 min, a stretch the object never
 * closed (it counts until the session's end).
 */
async function endedSession(options: { classTitle?: string; anaName?: string } = {}) {
  const teacher = await createUser("teacher", { displayName: "Teacher Tess" });
  const ana = await createUser("student", { displayName: options.anaName ?? "Ana" });
  const ben = await createUser("student", { displayName: "Ben" });
  const cleo = await createUser("student", { displayName: "Cleo" });
  const outsider = await createUser("student");
  const now = Date.now();
  const start = now - 3 * 60 * MINUTE;
  const end = start + 60 * MINUTE;
  const classId = crypto.randomUUID();
  const sessionId = crypto.randomUUID();
  const pollId = crypto.randomUUID();
  const at = (minutes: number) => start + minutes * MINUTE;
  const row = (user: User, from: number, to: number | null, reason: string | null) => ({
    id: crypto.randomUUID(),
    sessionId,
    userId: user.id,
    joinedAt: at(from),
    leftAt: to === null ? null : at(to),
    durationMs: to === null ? null : (to - from) * MINUTE,
    leaveReason: reason,
  });
  await db.batch([
    db.insert(classes).values({ id: classId, title: options.classTitle ?? "Algebra", teacherId: teacher.id, createdAt: now, updatedAt: now }),
    db.insert(enrollments).values([ana, ben, cleo].map((s) => ({ classId, userId: s.id, createdAt: now }))),
    db.insert(liveSessions).values({ id: sessionId, classId, startedAt: start, endedAt: end, endReason: "ended-by-teacher" }),
    db
      .insert(attendance)
      .values([row(teacher, 0, 60, "ended"), row(ana, 0, 30, "left"), row(ana, 10, 40, "left"), row(ana, 50, null, null), row(ben, 5, 20, "blocked")]),
    db.insert(chatMessages).values([
      { id: crypto.randomUUID(), classId, sessionId, userId: ana.id, clientMessageId: "a1", body: "hi", createdAt: at(1) },
      {
        id: crypto.randomUUID(),
        classId,
        sessionId,
        userId: ana.id,
        clientMessageId: "a2",
        body: "oops",
        createdAt: at(2),
        deletedAt: at(3),
        deletedBy: teacher.id,
      },
      { id: crypto.randomUUID(), classId, sessionId, userId: ben.id, clientMessageId: "b1", body: "spam", createdAt: at(6) },
    ]),
    db.insert(polls).values({ id: pollId, classId, sessionId, createdBy: teacher.id, question: "Pick", multipleChoice: true, createdAt: at(7) }),
    db.insert(pollOptions).values([
      { id: `${pollId}-a`, pollId, position: 0, label: "a" },
      { id: `${pollId}-b`, pollId, position: 1, label: "b" },
    ]),
    db.insert(pollVotes).values([
      { pollId, optionId: `${pollId}-a`, userId: ana.id, createdAt: at(8) },
      { pollId, optionId: `${pollId}-b`, userId: ana.id, createdAt: at(8) },
    ]),
    db.insert(sessionEngagement).values({ sessionId, userId: ana.id, handsRaised: 2, reactions: 3, stageMs: 90_000, stageSince: at(58) }),
  ]);
  return { classId, sessionId, teacher, ana, ben, cleo, outsider, start, end, at };
}

async function report(classId: string, sessionId: string, as: User): Promise<SessionAttendanceResponse> {
  const res = await api(`/api/classes/${classId}/sessions/${sessionId}/attendance`, { as });
  expect(res.status).toBe(200);
  return res.json<SessionAttendanceResponse>();
}

describe("a session's attendance report", () => {
  it("sums each person's time once: overlapping tabs merged, a reconnect added, an open row ends with the session", async () => {
    const f = await endedSession();
    const body = await report(f.classId, f.sessionId, f.teacher);
    if (body.scope !== "everyone") throw new Error("the teacher sees everyone");
    expect(body.durationMs).toBe(60 * MINUTE);
    expect(body.session).toEqual({ id: f.sessionId, startedAt: f.start, endedAt: f.end, present: 3 });
    expect(body.lines.map((l) => [l.displayName, l.role])).toEqual([
      ["Teacher Tess", "teacher"],
      ["Ana", "student"],
      ["Ben", "student"],
    ]);
    const [, ana, ben] = body.lines;
    // 0–40 (two tabs, counted once) + 50–60 (back, until the session ended) = 50 minutes.
    expect(ana).toMatchObject({
      firstJoinAt: f.at(0),
      lastLeaveAt: f.end,
      lastLeaveReason: "ended",
      presentMs: 50 * MINUTE,
      joins: 2,
      chatMessages: 1,
      pollAnswers: 1,
      handsRaised: 2,
      reactions: 3,
      // 90 s closed, and 58–60 min open until the end.
      stageMs: 90_000 + 2 * MINUTE,
    });
    expect(ana!.share).toBeCloseTo(50 / 60, 6);
    expect(ben).toMatchObject({
      firstJoinAt: f.at(5),
      lastLeaveAt: f.at(20),
      lastLeaveReason: "blocked",
      presentMs: 15 * MINUTE,
      joins: 1,
      chatMessages: 1,
      pollAnswers: 0,
      handsRaised: 0,
      reactions: 0,
      stageMs: 0,
    });
    expect(ben!.share).toBeCloseTo(0.25, 6);
    expect(body.totals).toEqual({
      participants: 3,
      students: 2,
      peakPresent: 3,
      averageStudentPresentMs: 32.5 * MINUTE,
      chatMessages: 2,
      pollAnswers: 1,
      handsRaised: 2,
      reactions: 3,
      stageMs: 210_000,
    });

    // One point a minute, from the start to the end.
    expect(body.presence).toHaveLength(61);
    const presentAt = (minute: number) => body.presence.find((p) => p.at === f.at(minute))!.present;
    expect([presentAt(0), presentAt(10), presentAt(25), presentAt(45), presentAt(55), presentAt(60)]).toEqual([2, 3, 2, 1, 2, 2]);
  });

  it("while the session runs, someone still in counts up to now and has no last leave", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const now = Date.now();
    const classId = crypto.randomUUID();
    const sessionId = crypto.randomUUID();
    await db.batch([
      db.insert(classes).values({ id: classId, title: "Running", teacherId: teacher.id, createdAt: now, updatedAt: now }),
      db.insert(enrollments).values({ classId, userId: student.id, createdAt: now }),
      db.insert(liveSessions).values({ id: sessionId, classId, startedAt: now - 20 * MINUTE }),
      db.insert(attendance).values({ id: crypto.randomUUID(), sessionId, userId: student.id, joinedAt: now - 10 * MINUTE }),
    ]);
    const body = await report(classId, sessionId, teacher);
    expect(body.session.endedAt).toBeNull();
    expect(body.lines[0]).toMatchObject({ lastLeaveAt: null, lastLeaveReason: null });
    expect(body.lines[0]!.presentMs).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(body.lines[0]!.presentMs).toBeLessThan(11 * MINUTE);
    expect(body.lines[0]!.share).toBeGreaterThan(0.49);
    expect(body.lines[0]!.share).toBeLessThan(0.55);
  });

  it("the list of sessions gives each one's start, end and how many were there", async () => {
    const f = await endedSession();
    const res = await api(`/api/classes/${f.classId}/sessions`, { as: f.teacher });
    expect(res.status).toBe(200);
    expect(await res.json<AttendanceSessionsResponse>()).toEqual({ sessions: [{ id: f.sessionId, startedAt: f.start, endedAt: f.end, present: 3 }] });
    const bad = await api(`/api/classes/${f.classId}/sessions?limit=0`, { as: f.teacher });
    expect(bad.status).toBe(400);
  });
});

describe("who sees the report", () => {
  it("a student sees only their own line, no one else's name, and no totals", async () => {
    const f = await endedSession();
    const body = await report(f.classId, f.sessionId, f.ben);
    expect(body.scope).toBe("own");
    expect(body.lines.map((l) => l.displayName)).toEqual(["Ben"]);
    expect(JSON.stringify(body)).not.toContain("Ana");
    expect(JSON.stringify(body)).not.toContain("Tess");
    expect("totals" in body).toBe(false);

    const csv = await (await api(`/api/classes/${f.classId}/sessions/${f.sessionId}/attendance.csv`, { as: f.ben })).text();
    expect(csv.trim().split("\r\n")).toHaveLength(2);
    expect(csv).toContain("Ben");
    expect(csv).not.toContain("Ana");

    // Cleo was enrolled but never came: her report is empty, not someone else's.
    expect((await report(f.classId, f.sessionId, f.cleo)).lines).toEqual([]);
    // Students do not get the class overview.
    expect((await api(`/api/classes/${f.classId}/attendance`, { as: f.ana })).status).toBe(403);
  });

  it("someone who neither teaches nor takes the class is refused, and a session of another class is not found", async () => {
    const f = await endedSession();
    const other = await endedSession();
    const otherTeacher = await createUser("teacher");
    for (const path of [`/sessions`, `/sessions/${f.sessionId}/attendance`, `/sessions/${f.sessionId}/attendance.csv`, `/attendance`]) {
      const asOutsider = await api(`/api/classes/${f.classId}${path}`, { as: f.outsider });
      expect([path, asOutsider.status]).toEqual([path, 403]);
      expect(await asOutsider.text()).not.toContain("Ana");
      expect((await api(`/api/classes/${f.classId}${path}`, { as: otherTeacher })).status).toBe(403);
      expect((await api(`/api/classes/${f.classId}${path}`)).status).toBe(401);
    }
    const crossed = await api(`/api/classes/${f.classId}/sessions/${other.sessionId}/attendance`, { as: f.teacher });
    expect(crossed.status).toBe(404);
    const admin = await createUser("admin");
    expect((await report(f.classId, f.sessionId, admin)).lines).toHaveLength(3);
  });
});

describe("the CSV export", () => {
  it("is UTF-8 with a byte order mark, quotes per RFC 4180, neutralizes formulas and names the file safely", async () => {
    const f = await endedSession({ classTitle: 'Maths / "Ünit 1": <intro>', anaName: '=HYPERLINK("http://evil","click"),\nÖzil' });
    await db.insert(attendance).values({
      id: crypto.randomUUID(),
      sessionId: f.sessionId,
      userId: (await createUser("student", { displayName: "@sum" })).id,
      joinedAt: f.at(1),
      leftAt: f.at(2),
      durationMs: MINUTE,
      leaveReason: "kicked",
    });
    const res = await api(`/api/classes/${f.classId}/sessions/${f.sessionId}/attendance.csv`, { as: f.teacher });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv; charset=utf-8/);
    const day = new Date(f.start).toISOString().slice(0, 10);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="attendance-Maths-nit-1-intro-${day}.csv"; filename*=UTF-8''${encodeURIComponent(`attendance-Maths-Ünit-1-intro-${day}.csv`)}`,
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes).slice(1);
    const lines = text.split("\r\n");
    expect(lines[0]).toBe(
      "Name,Role,First join (UTC),Last leave (UTC),Minutes present,Share of session (%),Times joined,Chat messages,Poll answers,Last left because,Hands raised,Reactions,Minutes on stage",
    );
    expect(text).toContain(`"'=HYPERLINK(""http://evil"",""click""),\nÖzil",Student,`);
    expect(text).toContain("'@sum,Student,");
    expect(text).toContain(",1,2,1,0,0,Removed by the teacher,0,0,0\r\n");
    const benRow = lines.find((l) => l.startsWith("Ben,"));
    const t = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");
    expect(benRow).toBe(`Ben,Student,${t(f.at(5))},${t(f.at(20))},15,25,1,1,0,Blocked,0,0,0`);
    expect(lines.find((l) => l.includes("Özil"))).toMatch(/,Session ended,2,3,3\.5$/);
    expect(text.endsWith("\r\n")).toBe(true);
  });

  it("writes times in the viewer's own time zone", async () => {
    const f = await endedSession();
    const tokyoAdmin = await createUser("admin", { timezone: "Asia/Tokyo" });
    const text = await (await api(`/api/classes/${f.classId}/sessions/${f.sessionId}/attendance.csv`, { as: tokyoAdmin })).text();
    expect(text).toContain("First join (Asia/Tokyo)");
    const tokyo = new Date(f.at(5) + 9 * 60 * MINUTE).toISOString().slice(0, 19).replace("T", " ");
    expect(text).toContain(`Ben,Student,${tokyo},`);
  });
});

describe("the class overview", () => {
  it("lists every enrolled student, also the one who never came, fewest sessions first", async () => {
    const f = await endedSession();
    const now = Date.now();
    const second = crypto.randomUUID();
    await db.batch([
      db.insert(liveSessions).values({ id: second, classId: f.classId, startedAt: now - 30 * MINUTE, endedAt: now - 10 * MINUTE }),
      db.insert(attendance).values({
        id: crypto.randomUUID(),
        sessionId: second,
        userId: f.ana.id,
        joinedAt: now - 30 * MINUTE,
        leftAt: now - 10 * MINUTE,
        durationMs: 20 * MINUTE,
        leaveReason: "ended",
      }),
    ]);
    const res = await api(`/api/classes/${f.classId}/attendance`, { as: f.teacher });
    expect(res.status).toBe(200);
    const body = await res.json<ClassAttendanceResponse>();
    expect(body.sessionsHeld).toBe(2);
    expect(body.students.map((s) => [s.displayName, s.enrolled, s.sessionsAttended, s.totalPresentMs / MINUTE, s.lastAttendedAt])).toEqual([
      ["Cleo", true, 0, 0, null],
      ["Ben", true, 1, 15, f.start],
      ["Ana", true, 2, 70, now - 30 * MINUTE],
    ]);
  });
});

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

describe("from a real class", () => {
  it("two students through the class channel: a second tab, a reconnect after the grace and a block give the right lines", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const [ana, ben] = students as [User, User];
    const teacherClient = await ChannelClient.join(teacher, classId);
    const anaFirstTab = await ChannelClient.join(ana, classId);
    const anaSecondTab = await ChannelClient.join(ana, classId);
    const benClient = await ChannelClient.join(ben, classId);
    await anaFirstTab.ok("chat.send", { clientMessageId: "a1", body: "hello" });
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Ready?", options: ["yes", "no"] });
    await anaSecondTab.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    await benClient.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[1]!.id] });
    anaFirstTab.close();

    // Ben goes away for longer than the grace (made due at once instead of waiting 10 s), then comes back.
    benClient.close();
    await teacherClient.until(() => teacherClient.participants.get(ben.id)?.present === false, "Ben away");
    await runInDurableObject(stubOf(classId), (_instance, state) => {
      state.storage.sql.exec("UPDATE participants SET leave_due_at = 0 WHERE present = 0");
    });
    await runDurableObjectAlarm(stubOf(classId));
    await teacherClient.until(() => !teacherClient.participants.has(ben.id), "Ben gone");
    const benBack = await ChannelClient.join(ben, classId);
    await benBack.ok("chat.send", { clientMessageId: "b1", body: "back" });
    await teacherClient.ok("participant.block", { userId: ben.id, reason: "test" });
    await benBack.waitClosed();
    await teacherClient.ok("session.end", {});

    const sessionId = teacherClient.snapshot!.session!.sessionId;
    await eventually(async () => {
      const [session] = await db.select().from(liveSessions).where(eq(liveSessions.id, sessionId));
      expect(session?.endedAt).not.toBeNull();
      const rows = await db.select().from(attendance).where(eq(attendance.sessionId, sessionId));
      expect(rows.every((r) => r.leftAt !== null)).toBe(true);
    });

    const body = await report(classId, sessionId, teacher);
    if (body.scope !== "everyone") throw new Error("the teacher sees everyone");
    const line = (user: User) => body.lines.find((l) => l.userId === user.id)!;
    expect(body.lines).toHaveLength(3);
    // Two tabs are one stretch: Ana was there once, from her first join until the session ended.
    expect(line(ana)).toMatchObject({ joins: 1, chatMessages: 1, pollAnswers: 1, lastLeaveReason: "ended" });
    expect(line(ana).presentMs).toBeLessThanOrEqual(body.durationMs);
    // Ben: one stretch, a reconnect after the grace (a second row), then blocked.
    const benRows = await db.select().from(attendance).where(eq(attendance.userId, ben.id));
    expect(benRows).toHaveLength(2);
    expect(line(ben)).toMatchObject({ joins: 2, chatMessages: 1, pollAnswers: 1, lastLeaveReason: "blocked" });
    const benRowsTotal = benRows.reduce((sum, r) => sum + (r.leftAt! - r.joinedAt), 0);
    expect(line(ben).presentMs).toBe(benRowsTotal);
    expect(line(ben).presentMs).toBeLessThan(line(ana).presentMs);
    expect(body.totals).toMatchObject({ participants: 3, students: 2, chatMessages: 2, pollAnswers: 2 });
  });
});
