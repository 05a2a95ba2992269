import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { User } from "../../schema/db";
import { CLASSROOM_CLOSE_CODES, type ChatMessage, type JoinResponse } from "../../schema/protocol/classroom";
import { fanOutIndex, fanOutName } from "../../schema/protocol/fan-out";
import { createUser, ORIGIN, sessionCookie } from "./helpers";
import { fetchWithEnv } from "./with-env";
import { ChannelClient, createLiveClass, enroll, openSocket } from "./ws-client";

/** Settings that make every class fan out, one fan-out object per enrolled student: a few sockets are enough. */
const FAN_OUT_EVERY_CLASS = { CLASS_FAN_OUT_ABOVE: "0", CLASS_FAN_OUT_SOCKETS: "1" };

/** Joins through the real join route (under {@link FAN_OUT_EVERY_CLASS}) and the real edge, which picks the fan-out object. */
async function joinFannedOut(user: User, classId: string): Promise<ChannelClient> {
  const request = new Request(`${ORIGIN}/api/classes/${classId}/join`, { method: "POST", headers: { origin: ORIGIN, cookie: await sessionCookie(user) } });
  const response = await fetchWithEnv(request, FAN_OUT_EVERY_CLASS);
  if (response.status !== 200) throw new Error(`join refused: ${response.status} ${await response.text()}`);
  const { token } = await response.json<JoinResponse>();
  const { socket, response: upgrade } = await openSocket(classId, token);
  if (!socket) throw new Error(`upgrade refused: ${upgrade.status} ${await upgrade.text()}`);
  const client = new ChannelClient(socket);
  await client.until(() => client.snapshot !== null, "snapshot");
  return client;
}

/**
 * A live class of `count` enrolled students (so `count` fan-out objects) whose users land on at least three of them
 * (two when there are two), the teacher on another than the first student.
 */
async function classOnSeveralFanOuts(count: number) {
  for (;;) {
    const live = await createLiveClass(count);
    const indexes = new Set([live.teacher, ...live.students].map((user) => fanOutIndex(user.id, count)));
    const apart = fanOutIndex(live.teacher.id, count) !== fanOutIndex(live.students[0]!.id, count);
    if (indexes.size >= Math.min(3, count) && apart) return live;
  }
}

function classStub(classId: string) {
  return env.CLASSROOM.get(env.CLASSROOM.idFromName(classId));
}

function fanOutStub(classId: string, user: User, count: number) {
  return env.CLASSROOM_SHARD.get(env.CLASSROOM_SHARD.idFromName(fanOutName(classId, fanOutIndex(user.id, count))));
}

/** How many browser sockets an object holds itself. */
async function socketsHeld(stub: DurableObjectStub): Promise<number> {
  return runInDurableObject(stub, (_instance, state) => state.getWebSockets().length);
}

/** Every event `seq` a client received after its snapshot, in arrival order. */
function seqs(client: ChannelClient): number[] {
  return client.events.map((event) => event.seq);
}

/** The structure of a value: its keys and the types of its leaves, not the values themselves. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shape(inner)]));
  return value === null ? "null" : typeof value;
}

describe("a class spread over fan-out objects", () => {
  it("students on different fan-out objects chat; everyone receives every message in the same order, seq rising on every socket", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await classOnSeveralFanOuts(4);
    const teacherClient = await joinFannedOut(teacher, classId);
    const studentClients = await Promise.all(students.map((student) => joinFannedOut(student, classId)));
    const everyone = [teacherClient, ...studentClients];
    // The class object holds no browser socket; each fan-out object holds its users' sockets.
    expect(await socketsHeld(classStub(classId))).toBe(0);
    for (const user of [teacher, ...students]) expect(await socketsHeld(fanOutStub(classId, user, 4))).toBeGreaterThan(0);
    for (const client of everyone) await client.until(() => client.headCount === 5, "the head count of five");

    // Three rounds: each student sends one message a round, all at once.
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(studentClients.map((client, i) => client.ok("chat.send", { clientMessageId: `r${round}-s${i}`, body: `round ${round} from ${i}` })));
    }
    const sent = (client: ChannelClient) => client.chat.filter((m) => m.body.startsWith("round "));
    for (const client of everyone) await client.until(() => sent(client).length === 12, "all twelve messages");
    const order = sent(teacherClient).map((m: ChatMessage) => m.id);
    for (const client of everyone) {
      expect(sent(client).map((m) => m.id)).toEqual(order);
      const received = seqs(client);
      expect(received.length).toBeGreaterThan(0);
      for (let i = 1; i < received.length; i += 1) expect(received[i]!).toBeGreaterThan(received[i - 1]!);
    }
    // Each sender's messages arrive in the order they were sent.
    for (let i = 0; i < studentClients.length; i += 1) {
      expect(order.map((id) => sent(teacherClient).find((m) => m.id === id)!.body).filter((body) => body.endsWith(`from ${i}`))).toEqual([
        `round 0 from ${i}`,
        `round 1 from ${i}`,
        `round 2 from ${i}`,
      ]);
    }
    for (const client of everyone) client.close();
  });

  it("a moderator through a fan-out object lowers a hand and removes a student; a student through one is refused as if direct", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await classOnSeveralFanOuts(3);
    const teacherClient = await joinFannedOut(teacher, classId);
    const [raiser, other, removed] = await Promise.all(students.map((student) => joinFannedOut(student, classId)));

    // The same refusal as in a class without fan-out, word for word.
    const direct = await createLiveClass(2);
    const directStudent = await ChannelClient.join(direct.students[0]!, direct.classId);
    for (const [method, data] of [
      ["participant.remove", { userId: students[2]!.id }],
      ["hand.lower", { userId: students[0]!.id }],
      ["participant.block", { userId: students[2]!.id }],
    ] as const) {
      const through = await other!.request(method, data);
      const straight = await directStudent.request(method, { userId: direct.students[1]!.id });
      expect(through.ok).toBe(false);
      expect(straight.ok).toBe(false);
      if (through.ok || straight.ok) continue;
      expect(through.error).toEqual(straight.error);
      expect(through.error.code).toBe("FORBIDDEN");
    }
    // Nothing happened: the target is still in, with no hand lowered by anyone else.
    expect(removed!.closed).toBeNull();

    await raiser!.ok("hand.raise", {});
    await teacherClient.until(() => teacherClient.participants.get(students[0]!.id)?.handRaisedAt !== null, "the raised hand");
    await other!.until(() => other!.participants.has(students[0]!.id), "the raised hand in another student's view");
    await teacherClient.ok("hand.lower", { userId: students[0]!.id });
    await raiser!.until(() => raiser!.participants.get(students[0]!.id)?.handRaisedAt === null, "the hand lowered, seen by its owner");
    await other!.until(() => !other!.participants.has(students[0]!.id), "the lowered hand gone from another student's view");

    await teacherClient.ok("participant.remove", { userId: students[2]!.id });
    const closed = await removed!.waitClosed();
    expect(closed.code).toBe(CLASSROOM_CLOSE_CODES.kicked);
    expect(removed!.notifications.some((n) => n.notification === "closing" && n.data.reason === "kicked")).toBe(true);
    await other!.until(() => other!.headCount === 3, "the head count without the removed student");
    await teacherClient.until(() => !teacherClient.participants.has(students[2]!.id), "the removed student gone from the list");
    for (const client of [teacherClient, raiser!, other!, directStudent]) client.close();
  });

  it("frames sent while a fan-out object is evicted reach its sockets after it, in order, and the sockets keep working", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await classOnSeveralFanOuts(2);
    const teacherClient = await joinFannedOut(teacher, classId);
    const [napper, awake] = await Promise.all(students.map((student) => joinFannedOut(student, classId)));
    for (const client of [teacherClient, napper!, awake!]) await client.until(() => client.headCount === 3, "the head count of three");
    await teacherClient.ok("chat.send", { clientMessageId: "before", body: "before the nap" });
    await napper!.until(() => napper!.chat.some((m) => m.body === "before the nap"), "the message before the nap");

    // Sent while the fan-out object is being evicted and right after: the class object's batches wake it again.
    const during = ["while away 1", "while away 2", "while away 3"];
    const eviction = evictDurableObject(fanOutStub(classId, students[0]!, 2));
    await teacherClient.ok("chat.send", { clientMessageId: "during-0", body: during[0] });
    await eviction;
    for (const [i, body] of during.slice(1).entries()) await teacherClient.ok("chat.send", { clientMessageId: `during-${i + 1}`, body });
    await napper!.until(() => napper!.chat.some((m) => m.body === "while away 3"), "the messages sent during the eviction");
    expect(napper!.chat.map((m) => m.body)).toEqual(["before the nap", ...during]);
    const received = seqs(napper!);
    for (let i = 1; i < received.length; i += 1) expect(received[i]!).toBeGreaterThan(received[i - 1]!);

    // The hibernated socket still speaks up through the woken object.
    await napper!.ok("chat.send", { clientMessageId: "after", body: "back from the nap" });
    await awake!.until(() => awake!.chat.some((m) => m.body === "back from the nap"), "the napper's message");
    expect(awake!.chat.map((m) => m.body)).toEqual(["before the nap", ...during, "back from the nap"]);
    expect(napper!.headCount).toBe(3);
    for (const client of [teacherClient, napper!, awake!]) client.close();
  });

  it("a fan-out object that restarts and drops its sockets: the class object counts its people away, and they come back in", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await classOnSeveralFanOuts(2);
    const teacherClient = await joinFannedOut(teacher, classId);
    const dropped = await joinFannedOut(students[0]!, classId);
    await teacherClient.until(() => teacherClient.headCount === 2, "the head count of two");
    // A reset (a crash, a new version) drops the object's sockets, unlike an eviction.
    await runInDurableObject(fanOutStub(classId, students[0]!, 2), (_instance, state) => state.abort("restart in a test")).catch(() => undefined);
    await dropped.waitClosed();
    // The class object's batch to the reset object fails, is sent again to the new instance, which holds no socket.
    await teacherClient.ok("chat.send", { clientMessageId: "meanwhile", body: "while you were away" });
    await teacherClient.until(() => teacherClient.participants.get(students[0]!.id)?.present === false, "the dropped student away");
    expect(teacherClient.headCount).toBe(1);

    const back = await joinFannedOut(students[0]!, classId);
    expect(back.snapshot!.chat.map((m) => m.body)).toEqual(["while you were away"]);
    expect(back.snapshot!.headCount).toBe(2);
    await teacherClient.until(() => teacherClient.participants.get(students[0]!.id)?.present === true, "the student back");
    await teacherClient.ok("chat.send", { clientMessageId: "welcome", body: "welcome back" });
    await back.until(() => back.chat.some((m) => m.body === "welcome back"), "the next message on the new socket");
    for (const client of [teacherClient, back]) client.close();
  });

  it("a socket on a fan-out object that stops pinging is closed there, and the class object counts its owner away", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await classOnSeveralFanOuts(2);
    const teacherClient = await joinFannedOut(teacher, classId);
    const silent = await joinFannedOut(students[0]!, classId);
    await teacherClient.until(() => teacherClient.participants.get(students[0]!.id)?.present === true, "the student in");
    const stub = fanOutStub(classId, students[0]!, 2);
    // As if the socket had opened long ago and never pinged since (instead of waiting 90 s).
    await runInDurableObject(stub, (_instance, state) => {
      for (const socket of state.getWebSockets()) socket.serializeAttachment({ ...(socket.deserializeAttachment() as object), connectedAt: 0 });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await silent.waitClosed()).code).toBe(CLASSROOM_CLOSE_CODES.heartbeatTimeout);
    await teacherClient.until(() => teacherClient.participants.get(students[0]!.id)?.present === false, "the silent student away");
    teacherClient.close();
  });

  it("a class that starts fanning out while live serves the sockets it has and the fanned-out ones alike", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    // Under the default settings (a small class): straight to the class object.
    const direct = await ChannelClient.join(teacher, classId);
    const early = await ChannelClient.join(students[0]!, classId);
    // The class grew past the threshold: the next joiner is sent to a fan-out object.
    const fannedOut = await joinFannedOut(students[1]!, classId);
    expect(await socketsHeld(classStub(classId))).toBe(2);
    expect(await socketsHeld(fanOutStub(classId, students[1]!, 2))).toBe(1);
    for (const client of [direct, early, fannedOut]) await client.until(() => client.headCount === 3, "the head count of three");
    await fannedOut.ok("chat.send", { clientMessageId: "up", body: "from a fan-out object" });
    await early.ok("chat.send", { clientMessageId: "down", body: "from the class object" });
    for (const client of [direct, early, fannedOut]) {
      await client.until(() => client.chat.length === 2, "both messages");
      expect(client.chat.map((m) => m.body)).toEqual(["from a fan-out object", "from the class object"]);
    }
    await direct.ok("participant.mute", { userId: students[1]!.id, muted: true });
    const refused = await fannedOut.request("chat.send", { clientMessageId: "muted", body: "still there?" });
    expect(refused.ok ? null : refused.error.code).toBe("FORBIDDEN");
    for (const client of [direct, early, fannedOut]) client.close();
  });

  it("a fan-out object cannot be reached by its own name, even with a valid token for its class", async () => {
    const { classId, students } = await createLiveClass(1);
    const request = new Request(`${ORIGIN}/api/classes/${classId}/join`, {
      method: "POST",
      headers: { origin: ORIGIN, cookie: await sessionCookie(students[0]!) },
    });
    const { token } = await (await fetchWithEnv(request, FAN_OUT_EVERY_CLASS)).json<JoinResponse>();
    const name = fanOutName(classId, fanOutIndex(students[0]!.id, 1));
    const response = await SELF.fetch(`${ORIGIN}/parties/classroom-shard/${encodeURIComponent(name)}?token=${encodeURIComponent(token)}`, {
      headers: { Upgrade: "websocket" },
    });
    expect(response.webSocket).toBeNull();
    expect(response.status).toBe(404);
  });

  it("a student's snapshot through a fan-out object has the shape of a direct one, and the head count counts every fan-out object", {
    timeout: 60_000,
  }, async () => {
    const fanned = await classOnSeveralFanOuts(3);
    const direct = await createLiveClass(3);
    const fannedTeacher = await joinFannedOut(fanned.teacher, fanned.classId);
    const directTeacher = await ChannelClient.join(direct.teacher, direct.classId);
    const fannedFirst = await Promise.all(fanned.students.slice(0, 2).map((s) => joinFannedOut(s, fanned.classId)));
    const directFirst = await Promise.all(direct.students.slice(0, 2).map((s) => ChannelClient.join(s, direct.classId)));
    await fannedTeacher.until(() => fannedTeacher.participants.size === 3, "three in the teacher's list");
    await directTeacher.until(() => directTeacher.participants.size === 3, "three in the teacher's list");
    await fannedFirst[0]!.ok("chat.send", { clientMessageId: "hello", body: "hello" });
    await directFirst[0]!.ok("chat.send", { clientMessageId: "hello", body: "hello" });

    const fannedLast = await joinFannedOut(fanned.students[2]!, fanned.classId);
    const directLast = await ChannelClient.join(direct.students[2]!, direct.classId);
    // A class under the threshold is not fanned out: its sockets are the class object's own.
    expect(await socketsHeld(classStub(direct.classId))).toBe(4);
    expect(await socketsHeld(classStub(fanned.classId))).toBe(0);

    expect(shape(fannedLast.snapshot)).toEqual(shape(directLast.snapshot));
    expect(fannedLast.snapshot!.headCount).toBe(4);
    expect(directLast.snapshot!.headCount).toBe(4);
    expect(fannedLast.snapshot!.participants.map((p) => p.userId).sort()).toEqual([fanned.teacher.id, fanned.students[2]!.id].sort());
    expect(fannedLast.snapshot!.chat.map((m) => m.body)).toEqual(["hello"]);
    expect(fannedLast.snapshot!.you).toEqual({ userId: fanned.students[2]!.id, displayName: fanned.students[2]!.displayName, role: "student" });

    // Everyone, whichever fan-out object holds them, is told the same head count as people come and go.
    const everyone = [fannedTeacher, ...fannedFirst, fannedLast];
    for (const client of everyone) await client.until(() => client.headCount === 4, "the head count of four");
    const late = await enroll(fanned.classId, await createUser("student"));
    const lateClient = await joinFannedOut(late, fanned.classId);
    expect(lateClient.snapshot!.headCount).toBe(5);
    for (const client of everyone) await client.until(() => client.headCount === 5, "the head count of five");
    const teacherList = await fannedTeacher.ok<{ headCount: number; people: unknown[] }>("people.list", { limit: 100 });
    expect(teacherList.headCount).toBe(5);
    expect(teacherList.people).toHaveLength(5);
    for (const client of [...everyone, lateClient, directTeacher, ...directFirst, directLast]) client.close();
  });
});
