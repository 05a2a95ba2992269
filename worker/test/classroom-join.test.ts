import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { attendance, blocks, liveSessions } from "../../schema/db";
import { api, createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, enroll, joinToken, openSocket } from "./ws-client";

async function errorOf(res: Response) {
  return { status: res.status, code: (await res.json<{ error: { code: string } }>()).error.code };
}

describe("joining a live class", () => {
  it("an enrolled student gets a class token and socket URL, and the socket opens with a snapshot", async () => {
    const { classId, students } = await createLiveClass(1);
    const join = await joinToken(students[0]!, classId);
    expect(join).toMatchObject({ party: "classroom", room: classId, role: "student" });
    expect(join.socketUrl).toBe(`ws://localhost/parties/classroom/${classId}?token=${encodeURIComponent(join.token)}`);
    expect(join.expiresAt - Date.now()).toBeGreaterThan(100_000);
    expect(join.expiresAt - Date.now()).toBeLessThanOrEqual(120_000);

    const client = await ChannelClient.join(students[0]!, classId);
    expect(client.snapshot!.you).toEqual({ userId: students[0]!.id, displayName: students[0]!.displayName, role: "student" });
    expect(client.snapshot!.participants.map((p) => p.userId)).toEqual([students[0]!.id]);
    client.close();
  });

  it("the class's teacher and admins join any time; their role in the class says so", async () => {
    const { classId, teacher } = await createLiveClass(0, { startsInMs: 5 * 3_600_000 });
    const admin = await createUser("admin");
    expect((await joinToken(teacher, classId)).role).toBe("teacher");
    expect((await joinToken(admin, classId)).role).toBe("admin");
  });

  it("refuses with reasons: not signed in, unknown class, not enrolled, too early, blocked", async () => {
    const { classId, teacher } = await createLiveClass(0, { startsInMs: 60 * 60_000 });
    const student = await enroll(classId, await createUser("student"));
    const stranger = await createUser("student");
    const otherTeacher = await createUser("teacher");

    expect(await errorOf(await api(`/api/classes/${classId}/join`, { method: "POST" }))).toEqual({ status: 401, code: "UNAUTHORIZED" });
    expect(await errorOf(await api(`/api/classes/nope/join`, { method: "POST", as: student }))).toEqual({ status: 404, code: "NOT_FOUND" });
    expect(await errorOf(await api(`/api/classes/${classId}/join`, { method: "POST", as: stranger }))).toEqual({ status: 403, code: "FORBIDDEN" });
    expect(await errorOf(await api(`/api/classes/${classId}/join`, { method: "POST", as: otherTeacher }))).toEqual({ status: 403, code: "FORBIDDEN" });
    const early = await api(`/api/classes/${classId}/join`, { method: "POST", as: student });
    expect(early.status).toBe(409);
    expect((await early.json<{ error: { message: string } }>()).error.message).toContain("15 minutes before");

    const { classId: liveId, students } = await createLiveClass(1);
    await db
      .insert(blocks)
      .values({ id: crypto.randomUUID(), userId: students[0]!.id, classId: liveId, reason: "spam", blockedBy: teacher.id, createdAt: Date.now() });
    expect(await errorOf(await api(`/api/classes/${liveId}/join`, { method: "POST", as: students[0]! }))).toEqual({ status: 403, code: "FORBIDDEN" });
  });

  it("opens 15 minutes before the start", async () => {
    const { classId, students } = await createLiveClass(1, { startsInMs: 14 * 60_000 });
    expect((await joinToken(students[0]!, classId)).occurrenceId).toBeTruthy();
  });

  it("the socket refuses a missing, forged or other-class token before the upgrade", async () => {
    const { classId, students } = await createLiveClass(1);
    const { classId: otherId } = await createLiveClass(0);
    const missing = await openSocket(classId, null);
    expect(missing.socket).toBeNull();
    expect(missing.response.status).toBe(401);

    const forgedKey = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const forged = await new SignJWT({ classId, displayName: "Mallory", role: "teacher", occurrenceId: null })
      .setProtectedHeader({ alg: "ES256", kid: "test-key-1" })
      .setIssuer("insp-live-worker")
      .setAudience("insp-live-class-channel")
      .setSubject(students[0]!.id)
      .setExpirationTime("2m")
      .sign((forgedKey as CryptoKeyPair).privateKey);
    expect((await openSocket(classId, forged)).response.status).toBe(401);

    const { token } = await joinToken(students[0]!, classId);
    expect((await openSocket(otherId, token)).response.status).toBe(401);
  });

  it("a token issued before a block opens no socket: blocks for this class or global count, lifted, expired or other-class ones do not", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const { classId: otherId } = await createLiveClass(0);
    const student = students[0]!;
    const { token } = await joinToken(student, classId);
    const now = Date.now();
    const block = { userId: student.id, reason: "spam", blockedBy: teacher.id, createdAt: now };
    await db.insert(blocks).values([
      { ...block, id: crypto.randomUUID(), classId: otherId },
      { ...block, id: crypto.randomUUID(), classId, expiresAt: now - 1 },
      { ...block, id: crypto.randomUUID(), classId: null, liftedAt: now, liftedBy: teacher.id },
    ]);
    const opened = await openSocket(classId, token);
    expect(opened.response.status).toBe(101);
    opened.socket!.accept();
    opened.socket!.close(1000, "done");

    const globalId = crypto.randomUUID();
    await db.insert(blocks).values({ ...block, id: globalId, classId: null, expiresAt: now + 60_000 });
    expect(await errorOf((await openSocket(classId, token)).response)).toEqual({ status: 403, code: "FORBIDDEN" });
    await db.update(blocks).set({ liftedAt: Date.now(), liftedBy: teacher.id }).where(eq(blocks.id, globalId));
    await db.insert(blocks).values({ ...block, id: crypto.randomUUID(), classId });
    expect(await errorOf((await openSocket(classId, token)).response)).toEqual({ status: 403, code: "FORBIDDEN" });
  });

  it("the object has no plain HTTP surface: only WebSocket upgrades through the Worker", async () => {
    const { classId } = await createLiveClass(0);
    const res = await SELF.fetch(`http://localhost/parties/classroom/${classId}`);
    expect(await errorOf(res)).toEqual({ status: 404, code: "NOT_FOUND" });
  });

  it("a client cannot claim an identity with a header: the Worker replaces it with the verified one", async () => {
    const { classId, students } = await createLiveClass(2);
    const { token } = await joinToken(students[0]!, classId);
    const res = await openSocketWithHeader(
      classId,
      token,
      JSON.stringify({ userId: students[1]!.id, classId, displayName: "Impostor", role: "teacher", occurrenceId: null }),
    );
    const client = new ChannelClient(res.webSocket!);
    await client.until(() => client.snapshot !== null, "snapshot");
    expect(client.snapshot!.you).toMatchObject({ userId: students[0]!.id, role: "student" });
    client.close();
  });

  it("records the session and attendance in D1; two tabs of one user count once", async () => {
    const { classId, students } = await createLiveClass(1);
    const first = await ChannelClient.join(students[0]!, classId);
    const second = await ChannelClient.join(students[0]!, classId);
    expect(second.snapshot!.participants).toHaveLength(1);
    await waitFor(async () => (await db.select().from(attendance).where(eq(attendance.userId, students[0]!.id))).length === 1);
    const sessions = await db.select().from(liveSessions).where(eq(liveSessions.classId, classId));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.endedAt).toBeNull();
    first.close();
    second.close();
  });
});

async function openSocketWithHeader(classId: string, token: string, identity: string) {
  return SELF.fetch(`http://localhost/parties/classroom/${classId}?token=${encodeURIComponent(token)}`, {
    headers: { Upgrade: "websocket", "x-insp-class-identity": identity },
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
