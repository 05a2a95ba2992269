import { describe, expect, it } from "vitest";
import type { User } from "../../schema/db";
import type { ChatMessage, PeopleListResponse } from "../../schema/protocol/classroom";
import { createUser } from "./helpers";
import { ChannelClient, createLiveClass, enroll } from "./ws-client";

const ids = (client: ChannelClient) => [...client.participants.keys()].sort();

/** Every page of `people.list` from `client`, calling `between` after each page but the last. */
async function allPages(client: ChannelClient, limit: number, query?: string, between: (page: number) => Promise<void> = async () => undefined) {
  const pages: PeopleListResponse[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await client.ok<PeopleListResponse>("people.list", { limit, ...(cursor === undefined ? {} : { cursor }), ...(query ? { query } : {}) });
    pages.push(page);
    if (page.nextCursor === null) return pages;
    expect(page.people).toHaveLength(limit);
    cursor = page.nextCursor;
    await between(pages.length);
  }
}

describe("presence by audience", () => {
  it("a student's snapshot holds the teacher, themselves and the head count; a teacher's holds everyone", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(5);
    const early = await Promise.all(students.slice(0, 4).map((s) => ChannelClient.join(s, classId)));
    const teacherClient = await ChannelClient.join(teacher, classId);
    expect(teacherClient.snapshot!.participants.map((p) => p.userId).sort()).toEqual([teacher.id, ...students.slice(0, 4).map((s) => s.id)].sort());
    expect(teacherClient.snapshot!.headCount).toBe(5);

    const late = await ChannelClient.join(students[4]!, classId);
    expect(late.snapshot!.headCount).toBe(6);
    // The teacher's own join may still be on its way (a snapshot may lag the changes of the current window).
    await late.until(() => late.participants.has(teacher.id), "the teacher in the late student's view");
    expect(ids(late)).toEqual([teacher.id, students[4]!.id].sort());
    // Not one other student's name in the frame.
    const snapshotFrame = late.raw.find((frame) => frame.includes('"snapshot"'))!;
    for (const other of students.slice(0, 4)) expect(snapshotFrame).not.toContain(other.displayName);
    await teacherClient.until(() => teacherClient.participants.has(students[4]!.id), "the late student in the teacher's list");
    for (const client of [...early, late, teacherClient]) client.close();
  });

  it("a student's snapshot stays the same size as the class grows; a teacher's grows with it", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(21);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const snapshotBytes = (client: ChannelClient) => client.raw.find((frame) => frame.includes('"snapshot"'))!.length;
    const first = await ChannelClient.join(students[0]!, classId);
    const middle = await Promise.all(students.slice(1, 20).map((s) => ChannelClient.join(s, classId)));
    await teacherClient.until(() => teacherClient.participants.size === 21, "everyone in the teacher's list");
    const last = await ChannelClient.join(students[20]!, classId);
    expect(last.snapshot!.headCount).toBe(22);
    // Same people in view (the teacher and oneself); only a digit of a name or of the count may differ.
    expect(Math.abs(snapshotBytes(last) - snapshotBytes(first))).toBeLessThan(10);
    const lateTeacher = await ChannelClient.join(teacher, classId);
    expect(lateTeacher.snapshot!.participants).toHaveLength(22);
    expect(snapshotBytes(lateTeacher) - snapshotBytes(teacherClient)).toBeGreaterThan(20 * 100);
    for (const client of [teacherClient, first, ...middle, last, lateTeacher]) client.close();
  });

  it("a student is told the new head count, not who joined; a raised hand brings that person into view", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(3);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const anna = await ChannelClient.join(students[0]!, classId);
    const ben = await ChannelClient.join(students[1]!, classId);
    await anna.until(() => anna.headCount === 3, "head count 3 at Anna");
    await teacherClient.until(() => teacherClient.participants.has(students[1]!.id), "Ben in the teacher's list");
    const carry = await ChannelClient.join(students[2]!, classId);
    await anna.until(() => anna.headCount === 4, "head count 4 at Anna");
    expect(ids(anna)).toEqual([teacher.id, students[0]!.id].sort());
    const namedStudents = anna.events.flatMap((e) => (e.type === "participants" ? [...e.upserts.map((p) => p.userId), ...e.removed] : []));
    expect(namedStudents.filter((id) => id !== teacher.id)).toEqual([]);

    await ben.ok("hand.raise", {});
    await anna.until(() => anna.participants.get(students[1]!.id)?.handRaisedAt != null, "Ben's hand at Anna");
    expect(anna.participants.get(students[1]!.id)).toMatchObject({ displayName: students[1]!.displayName, role: "student" });
    await teacherClient.ok("hand.lower", { userId: students[1]!.id });
    await anna.until(() => !anna.participants.has(students[1]!.id), "Ben out of Anna's view");
    // Ben himself hears his hand went down, though other students no longer see him.
    await ben.until(() => ben.participants.get(students[1]!.id)?.handRaisedAt === null, "Ben's own hand down at Ben");
    expect(anna.headCount).toBe(4);

    // The teacher mutes Carry's chat: Carry is told, Anna is not.
    await teacherClient.ok("participant.mute", { userId: students[2]!.id, muted: true });
    await carry.until(() => carry.participants.get(students[2]!.id)?.chatMuted === true, "Carry muted at Carry");
    expect(anna.participants.has(students[2]!.id)).toBe(false);

    ben.close();
    await teacherClient.until(() => teacherClient.participants.get(students[1]!.id)?.present === false, "Ben away for the teacher");
    await anna.until(() => anna.headCount === 3, "head count 3 after Ben left");
    for (const client of [teacherClient, anna, carry]) client.close();
  });

  it("students see who is on stage, until the stage is taken back", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const anna = await ChannelClient.join(students[0]!, classId);
    const ben = await ChannelClient.join(students[1]!, classId);
    await teacherClient.ok("stage.invite", { userId: students[1]!.id });
    await anna.until(() => anna.participants.has(students[1]!.id), "Ben on stage in Anna's view");
    const late = await ChannelClient.join(students[0]!, classId);
    await late.until(() => late.participants.has(students[1]!.id), "Ben on stage in a new tab's view");
    expect(ids(late)).toEqual([teacher.id, students[0]!.id, students[1]!.id].sort());
    await teacherClient.ok("stage.revoke", { userId: students[1]!.id });
    await anna.until(() => !anna.participants.has(students[1]!.id), "Ben off stage, out of Anna's view");
    for (const client of [teacherClient, anna, ben, late]) client.close();
  });

  it("paging returns everyone who stayed exactly once while people join and leave", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(12);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const clients = new Map<string, ChannelClient>();
    for (const student of students.slice(0, 10)) clients.set(student.id, await ChannelClient.join(student, classId));
    const reader = clients.get(students[0]!.id)!;
    const leavers = [students[2]!, students[8]!];
    const joiners = students.slice(10);
    const pages = await allPages(reader, 4, undefined, async (page) => {
      if (page !== 1) return;
      // After the first page: one already listed and one not yet listed leave, two newcomers arrive.
      for (const leaver of leavers) await teacherClient.ok("participant.remove", { userId: leaver.id });
      for (const joiner of joiners) clients.set(joiner.id, await ChannelClient.join(joiner, classId));
    });
    const listed = pages.flatMap((page) => page.people.map((p) => p.userId));
    expect(new Set(listed).size).toBe(listed.length);
    const stayed = [teacher, ...students.slice(0, 10)].filter((user) => !leavers.includes(user));
    for (const user of stayed) expect(listed).toContain(user.id);
    expect(listed).not.toContain(students[8]!.id);
    const teacherEntry = pages.flatMap((page) => page.people).find((p) => p.userId === teacher.id);
    expect(teacherEntry).toMatchObject({ displayName: teacher.displayName, role: "teacher", present: true, handRaisedAt: null, onStage: false });
    expect(pages.at(-1)!.headCount).toBe(1 + 10 - 2 + 2);
    for (const client of [teacherClient, ...clients.values()]) client.close();
  });

  it("the list is searchable by name, in any case and any script", { timeout: 60_000 }, async () => {
    const { classId, teacher } = await createLiveClass(0);
    const named = async (displayName: string) => enroll(classId, await createUser("student", { displayName }));
    const people: User[] = [];
    for (const name of ["Émile Zola", "emilia clarke", "Zoë Émile-Durand", "Ravi Shankar", "Миша Émile"]) people.push(await named(name));
    const clients = await Promise.all([teacher, ...people].map((user) => ChannelClient.join(user, classId)));
    const reader = clients[4]!;
    const found = (await allPages(reader, 2, "ÉMILE")).flatMap((page) => page.people.map((p) => p.displayName));
    expect(found.sort()).toEqual(["Zoë Émile-Durand", "Émile Zola", "Миша Émile"].sort());
    const nobody = await reader.ok<PeopleListResponse>("people.list", { limit: 10, query: "nobody here" });
    expect(nobody).toMatchObject({ people: [], nextCursor: null, headCount: 6 });
    for (const client of clients) client.close();
  });

  it("a chat message from someone outside a student's view carries the sender's name and role", { timeout: 60_000 }, async () => {
    const { classId, students } = await createLiveClass(2);
    const anna = await ChannelClient.join(students[0]!, classId);
    const ben = await ChannelClient.join(students[1]!, classId);
    await ben.ok("chat.send", { clientMessageId: "hello", body: "Hello from the back row" });
    await anna.until(() => anna.chat.length === 1, "Ben's message at Anna");
    expect(anna.participants.has(students[1]!.id)).toBe(false);
    expect(anna.chat[0]).toMatchObject<Partial<ChatMessage>>({ userId: students[1]!.id, displayName: students[1]!.displayName, role: "student" });
    anna.close();
    ben.close();
  });

  it("bad people.list requests get an error reply and the socket stays open", { timeout: 60_000 }, async () => {
    const { classId, students } = await createLiveClass(1);
    const anna = await ChannelClient.join(students[0]!, classId);
    for (const data of [
      {},
      { limit: 0 },
      { limit: 101 },
      { limit: 2.5 },
      { limit: 10, cursor: -1 },
      { limit: 10, query: "x".repeat(101) },
      { limit: 10, sort: "name" },
    ]) {
      const reply = await anna.request("people.list", data);
      expect(reply.ok ? null : reply.error.code, JSON.stringify(data)).toBe("INVALID_MESSAGE");
    }
    expect(anna.closed).toBeNull();
    const page = await anna.ok<PeopleListResponse>("people.list", { limit: 10 });
    expect(page.people.map((p) => p.userId)).toEqual([students[0]!.id]);
    anna.close();
  });
});
