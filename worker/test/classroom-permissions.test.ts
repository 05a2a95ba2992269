import { describe, expect, it } from "vitest";
import type { ClassroomMethod, Poll } from "../../schema/protocol/classroom";
import type { ResponseFrame } from "../../schema/protocol/envelope";
import { createUser } from "./helpers";
import { ChannelClient, createLiveClass, enroll } from "./ws-client";

type RoleName = "student" | "teacher" | "admin";

/** A live class with a student, its teacher and an admin connected, plus spare students to act on. */
async function room(spareStudents = 0) {
  const { classId, teacher, students } = await createLiveClass(1 + spareStudents);
  const admin = await createUser("admin");
  const clients = {
    student: await ChannelClient.join(students[0]!, classId),
    teacher: await ChannelClient.join(teacher, classId),
    admin: await ChannelClient.join(admin, classId),
  };
  const spares: ChannelClient[] = [];
  for (const spare of students.slice(1)) spares.push(await ChannelClient.join(spare, classId));
  return { classId, clients, spares, students };
}

function expectForbidden(response: ResponseFrame) {
  expect(response.ok ? "ok" : response.error.code).toBe("FORBIDDEN");
}
function expectOk(response: ResponseFrame) {
  expect(response.ok ? "ok" : `${response.error.code}: ${response.error.message}`).toBe("ok");
}

describe("every message type × role", () => {
  it("chat.send, reaction.send: everyone", async () => {
    const { clients } = await room();
    for (const role of ["student", "teacher", "admin"] as const) {
      expectOk(await clients[role].request("chat.send", { clientMessageId: `m-${role}`, body: `hello from ${role} 👋` }));
      expectOk(await clients[role].request("reaction.send", { emoji: "🎉" }));
    }
  });

  it("chat.delete, chat.lock, poll.create, poll.close, poll.publish: teacher and admin only", async () => {
    const { clients } = await room();
    const posted = await clients.student.ok<{ message: { id: string } }>("chat.send", { clientMessageId: "x", body: "delete me" });
    expectForbidden(await clients.student.request("chat.delete", { messageId: posted.message.id }));
    expectOk(await clients.teacher.request("chat.delete", { messageId: posted.message.id }));
    const again = await clients.student.ok<{ message: { id: string } }>("chat.send", { clientMessageId: "y", body: "me too" });
    expectOk(await clients.admin.request("chat.delete", { messageId: again.message.id }));

    for (const role of ["student", "teacher", "admin"] as const) {
      const lock = await clients[role].request("chat.lock", { locked: false });
      role === "student" ? expectForbidden(lock) : expectOk(lock);
    }

    const pollData = { question: "2 + 2?", options: ["3", "4"] };
    expectForbidden(await clients.student.request("poll.create", pollData));
    const polls: Record<"teacher" | "admin", Poll> = {
      teacher: (await clients.teacher.ok<{ poll: Poll }>("poll.create", pollData)).poll,
      admin: (await clients.admin.ok<{ poll: Poll }>("poll.create", pollData)).poll,
    };
    for (const method of ["poll.close", "poll.publish"] satisfies ClassroomMethod[]) {
      expectForbidden(await clients.student.request(method, { pollId: polls.teacher.id }));
      expectOk(await clients.teacher.request(method, { pollId: polls.teacher.id }));
      expectOk(await clients.admin.request(method, { pollId: polls.admin.id }));
    }
  });

  it("poll.vote and hand.raise: students only", async () => {
    const { clients } = await room();
    const { poll } = await clients.teacher.ok<{ poll: Poll }>("poll.create", { question: "Pick", options: ["a", "b"] });
    for (const role of ["teacher", "admin"] as const) {
      expectForbidden(await clients[role].request("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] }));
      expectForbidden(await clients[role].request("hand.raise", {}));
    }
    expectOk(await clients.student.request("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] }));
    expectOk(await clients.student.request("hand.raise", {}));
  });

  it("hand.lower: your own hand anyone; someone else's only teacher and admin", async () => {
    const { clients, spares, students } = await room(1);
    await spares[0]!.ok("hand.raise", {});
    expectForbidden(await clients.student.request("hand.lower", { userId: students[1]!.id }));
    expectOk(await clients.teacher.request("hand.lower", { userId: students[1]!.id }));
    await spares[0]!.ok("hand.raise", {});
    expectOk(await clients.admin.request("hand.lower", { userId: students[1]!.id }));
    await clients.student.ok("hand.raise", {});
    expectOk(await clients.student.request("hand.lower", {}));
  });

  it("participant.mute, participant.remove, participant.block: teacher and admin, never against each other", async () => {
    const { clients, students } = await room(3);
    const [, muteTarget, removeTarget, blockTarget] = students;
    for (const [method, data] of [
      ["participant.mute", { userId: muteTarget!.id, muted: true }],
      ["participant.remove", { userId: removeTarget!.id }],
      ["participant.block", { userId: blockTarget!.id }],
    ] as const) {
      expectForbidden(await clients.student.request(method, data));
    }
    expectOk(await clients.teacher.request("participant.mute", { userId: muteTarget!.id, muted: true }));
    expectOk(await clients.admin.request("participant.mute", { userId: muteTarget!.id, muted: false }));
    expectOk(await clients.admin.request("participant.remove", { userId: removeTarget!.id }));
    expectOk(await clients.teacher.request("participant.block", { userId: blockTarget!.id }));

    const adminId = clients.admin.snapshot!.you.userId;
    const teacherId = clients.teacher.snapshot!.you.userId;
    expectForbidden(await clients.teacher.request("participant.remove", { userId: adminId }));
    expectForbidden(await clients.admin.request("participant.block", { userId: teacherId }));
    expectForbidden(await clients.admin.request("participant.mute", { userId: teacherId, muted: true }));
  });

  it("session.end: teacher and admin only", async () => {
    const first = await room();
    expectForbidden(await first.clients.student.request("session.end", {}));
    expectOk(await first.clients.teacher.request("session.end", {}));
    const second = await room();
    expectOk(await second.clients.admin.request("session.end", {}));
  });

  it("a teacher who is enrolled as a student elsewhere is a student there", async () => {
    const { classId } = await createLiveClass(0);
    const otherTeacher = await enroll(classId, await createUser("teacher"));
    const client = await ChannelClient.join(otherTeacher, classId);
    expect(client.snapshot!.you.role).toBe("student" satisfies RoleName);
    expectForbidden(await client.request("poll.create", { question: "Mine?", options: ["y", "n"] }));
  });
});
