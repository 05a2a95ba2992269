import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLASSROOM_CLOSE_CODES, CLASSROOM_LIMITS } from "../../schema/protocol/classroom";
import type { BlockListResponse } from "../../schema/api/portal";
import { api, createUser } from "./helpers";
import { ChannelClient, createLiveClass, enroll, joinToken, openSocket } from "./ws-client";

function stubOf(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

/** Opens a socket as a hostile client would: with a `_pk` (partyserver's connection id) of its own choosing. */
async function openWithConnectionId(classId: string, token: string, connectionId: string): Promise<ChannelClient> {
  const response = await SELF.fetch(`http://localhost/parties/classroom/${classId}?token=${encodeURIComponent(token)}&_pk=${connectionId}`, {
    headers: { Upgrade: "websocket" },
  });
  if (!response.webSocket) throw new Error(`upgrade refused: ${response.status}`);
  const client = new ChannelClient(response.webSocket);
  await client.until(() => client.snapshot !== null, "snapshot");
  return client;
}

describe("who is in the class is decided by open sockets", () => {
  it("a display name outside ASCII reaches the class intact (the identity crosses from the Worker to the object percent-encoded)", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const student = await createUser("student", { displayName: "Émile 陈静 Łukasz" });
    await enroll(classId, student);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(student, classId);
    await teacherClient.until(() => teacherClient.participants.has(student.id), "the student in the teacher's list");
    expect(teacherClient.participants.get(student.id)!.displayName).toBe("Émile 陈静 Łukasz");
    const { message } = await studentClient.ok<{ message: { displayName: string } }>("chat.send", { clientMessageId: "unicode-1", body: "bonjour" });
    expect(message.displayName).toBe("Émile 陈静 Łukasz");
    teacherClient.close();
    studentClient.close();
  });

  it("two sockets opened with one chosen connection id: closing one leaves the user listed, and moderation reaches the other", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const { token } = await joinToken(student, classId);
    const first = await openWithConnectionId(classId, token, "same-id");
    const second = await openWithConnectionId(classId, token, "same-id");
    await teacherClient.until(() => teacherClient.participants.get(student.id)?.present === true, "student present");

    first.close();
    await first.waitClosed();
    // Past the grace: the student, whose second socket is open, is still in the list and still acts.
    await runInDurableObject(stubOf(classId), (_instance, state) => {
      state.storage.sql.exec("UPDATE participants SET leave_due_at = 0 WHERE present = 0");
    });
    await runDurableObjectAlarm(stubOf(classId));
    await second.ok("chat.send", { clientMessageId: "c1", body: "still here" });
    await teacherClient.until(() => teacherClient.chat.some((m) => m.body === "still here"), "chat delivered");
    expect(teacherClient.participants.get(student.id)?.present).toBe(true);

    await teacherClient.ok("participant.remove", { userId: student.id });
    expect((await second.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.kicked);
  });

  it("a socket the list lost is refused every action, put back when the grace ends, and removable by the teacher", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const client = await ChannelClient.join(student, classId);

    // The list says "away, grace over" while the socket is open: the alarm counts the socket and keeps them.
    await runInDurableObject(stubOf(classId), (_instance, state) => {
      state.storage.sql.exec("UPDATE participants SET present = 0, leave_due_at = 0 WHERE user_id = ?", student.id);
    });
    const refused = await client.request("chat.send", { clientMessageId: "c1", body: "unseen" });
    expect(refused).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    await runDurableObjectAlarm(stubOf(classId));
    await teacherClient.until(() => teacherClient.participants.get(student.id)?.present === true, "student back in the list");
    await client.ok("chat.send", { clientMessageId: "c2", body: "seen" });

    // Gone from the list altogether: the teacher's remove still closes the socket.
    await runInDurableObject(stubOf(classId), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM participants WHERE user_id = ?", student.id);
    });
    expect(await client.request("hand.raise", {})).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    await teacherClient.ok("participant.remove", { userId: student.id });
    expect((await client.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.kicked);
    expect(teacherClient.chat.some((m) => m.body === "unseen")).toBe(false);
  });

  it(`a user opens at most ${CLASSROOM_LIMITS.maxSocketsPerUser} sockets in one class; the next is closed and the others keep working`, async () => {
    const { classId, students } = await createLiveClass(1);
    const student = students[0]!;
    const { token } = await joinToken(student, classId);
    const open: ChannelClient[] = [];
    for (let i = 0; i < CLASSROOM_LIMITS.maxSocketsPerUser; i += 1) {
      const { socket } = await openSocket(classId, token);
      const client = new ChannelClient(socket!);
      await client.until(() => client.snapshot !== null, "snapshot");
      open.push(client);
    }
    const { socket } = await openSocket(classId, token);
    const extra = new ChannelClient(socket!);
    expect((await extra.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.tooManySockets);
    expect(extra.notifications.find((n) => n.notification === "closing")).toMatchObject({ data: { reason: "too-many-sockets" } });
    await open[0]!.ok("chat.send", { clientMessageId: "c1", body: "fine" });
  });
});

describe("blocks and un-enrolment reach the live class at once", () => {
  it("a global block issued right after a join closes the student's socket, before the class object shipped the attendance", async () => {
    const { classId, students } = await createLiveClass(1);
    const admin = await createUser("admin");
    const student = students[0]!;
    const client = await ChannelClient.join(student, classId);
    const response = await api("/api/blocks", { as: admin, body: { userId: student.id, reason: "Spam" } });
    expect(response.status).toBe(201);
    expect((await client.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
  });

  it("a student the teacher un-enrols is put out of the live class, and their unexpired class token opens no socket", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const client = await ChannelClient.join(student, classId);
    const { token } = await joinToken(student, classId);
    expect((await api(`/api/classes/${classId}/enrollments/${student.id}`, { as: teacher, method: "DELETE" })).status).toBe(204);
    const closed = await client.waitClosed();
    expect(closed.code).toBe(CLASSROOM_CLOSE_CODES.kicked);
    expect(closed.reason).toMatch(/no longer enrolled/);
    const retry = await openSocket(classId, token);
    expect(retry.socket).toBeNull();
    expect(retry.response.status).toBe(403);
    expect(await retry.response.text()).toMatch(/not enrolled/);
  });

  it("a student who leaves the class themselves is put out of the live class", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const client = await ChannelClient.join(student, classId);
    expect((await api(`/api/classes/${classId}/enrollment`, { as: student, method: "DELETE" })).status).toBe(204);
    expect((await client.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.kicked);
    await teacherClient.until(() => !teacherClient.participants.has(student.id), "student gone from the list");
  });
});

describe("lifting a block readmits at once", () => {
  it("a student blocked from the class in the classroom, whose block the teacher lifts, joins again straight away", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const client = await ChannelClient.join(student, classId);
    await teacherClient.ok("participant.block", { userId: student.id, reason: "noise" });
    expect((await client.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.blocked);
    const { blocks } = await (await api(`/api/blocks?classId=${classId}`, { as: teacher })).json<BlockListResponse>();
    const block = blocks.find((b) => b.user.id === student.id)!;
    expect((await api(`/api/blocks/${block.id}`, { as: teacher, method: "DELETE" })).status).toBe(204);
    const again = await ChannelClient.join(student, classId);
    expect(again.snapshot?.you.userId).toBe(student.id);
    await teacherClient.until(() => teacherClient.participants.get(student.id)?.present === true, "student back");
  });
});
