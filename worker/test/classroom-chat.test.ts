import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { chatMessages } from "../../schema/db";
import type { ChatMessage } from "../../schema/protocol/classroom";
import { db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

async function storedChat(classId: string) {
  return db.select().from(chatMessages).where(eq(chatMessages.classId, classId)).orderBy(chatMessages.createdAt);
}

describe("chat", () => {
  it("delivers emoji and any Unicode to everyone with a server id and time, and stores it in D1", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const body = "Hi 👋🏽 family 👨‍👩‍👧‍👦 flag 🇯🇵 — ünïcödé, 中文, العربية <b>not html</b>";
    const before = Date.now();
    const { message } = await student.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "c1", body });
    expect(message).toMatchObject({ body, userId: students[0]!.id, displayName: students[0]!.displayName, role: "student", clientMessageId: "c1" });
    expect(message.createdAt).toBeGreaterThanOrEqual(before);
    await teacherClient.until(() => teacherClient.chat.length === 1, "message at the teacher");
    expect(teacherClient.chat[0]).toEqual(message);
    await eventually(async () => expect((await storedChat(classId)).map((m) => m.body)).toEqual([body]));
  });

  it("counts length in graphemes: 2,000 emoji pass, 2,001 characters are refused", async () => {
    const { classId, students } = await createLiveClass(1);
    const student = await ChannelClient.join(students[0]!, classId);
    expect((await student.request("chat.send", { clientMessageId: "long-ok", body: "👨‍👩‍👧‍👦".repeat(2000) })).ok).toBe(true);
    const tooLong = await student.request("chat.send", { clientMessageId: "long-no", body: "a".repeat(2001) });
    expect(tooLong.ok ? null : tooLong.error.code).toBe("INVALID_MESSAGE");
    const blank = await student.request("chat.send", { clientMessageId: "blank", body: "   \n " });
    expect(blank.ok ? null : blank.error.code).toBe("INVALID_MESSAGE");
    const broken = await student.request("chat.send", { clientMessageId: "broken", body: "half \ud83d pair" });
    expect(broken.ok ? null : broken.error.code).toBe("INVALID_MESSAGE");
  });

  it("a resend with the same client message id (after a reconnect) is not duplicated", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const first = await ChannelClient.join(students[0]!, classId);
    const sent = await first.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "resend-me", body: "once" });
    first.close();
    const second = await ChannelClient.join(students[0]!, classId);
    const resent = await second.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "resend-me", body: "once" });
    expect(resent.message.id).toBe(sent.message.id);
    await second.ok("chat.send", { clientMessageId: "after", body: "next" });
    await teacherClient.until(() => teacherClient.chat.length === 2, "two messages");
    expect(teacherClient.chat.map((m) => m.body)).toEqual(["once", "next"]);
    await eventually(async () => expect((await storedChat(classId)).map((m) => m.body)).toEqual(["once", "next"]));
  });

  it("teachers delete messages for everyone; the deletion is recorded in D1", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const { message } = await student.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "rude", body: "rude words" });
    await teacherClient.ok("chat.delete", { messageId: message.id });
    await student.until(() => student.events.some((e) => e.type === "chat.deleted" && e.messageId === message.id), "deletion");
    expect(student.chat).toEqual([]);
    const late = await ChannelClient.join(students[0]!, classId);
    expect(late.snapshot!.chat).toEqual([]);
    await eventually(async () => expect((await storedChat(classId))[0]?.deletedBy).toBe(teacher.id));
    const missing = await teacherClient.request("chat.delete", { messageId: message.id });
    expect(missing.ok ? null : missing.error.code).toBe("NOT_FOUND");
  });

  it("a locked chat refuses students but not the teacher; a muted student is refused until unmuted", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const a = await ChannelClient.join(students[0]!, classId);
    const b = await ChannelClient.join(students[1]!, classId);
    await teacherClient.ok("chat.lock", { locked: true });
    await a.until(() => a.events.some((e) => e.type === "chat.locked" && e.locked), "lock notice");
    const refused = await a.request("chat.send", { clientMessageId: "l1", body: "let me talk" });
    expect(refused.ok ? null : refused.error).toEqual({ code: "FORBIDDEN", message: "The teacher has locked the chat" });
    expect((await teacherClient.request("chat.send", { clientMessageId: "t1", body: "quiet please" })).ok).toBe(true);
    await teacherClient.ok("chat.lock", { locked: false });

    await teacherClient.ok("participant.mute", { userId: students[1]!.id, muted: true });
    await b.until(() => b.participants.get(students[1]!.id)?.chatMuted === true, "muted flag");
    const muted = await b.request("chat.send", { clientMessageId: "m1", body: "hey" });
    expect(muted.ok ? null : muted.error.code).toBe("FORBIDDEN");
    expect((await a.request("chat.send", { clientMessageId: "a1", body: "I can" })).ok).toBe(true);
    await teacherClient.ok("participant.mute", { userId: students[1]!.id, muted: false });
    expect((await b.request("chat.send", { clientMessageId: "m2", body: "thanks" })).ok).toBe(true);
  });

  it("a flood beyond 10 messages at once is answered RATE_LIMITED, and the class keeps serving others", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const flooder = await ChannelClient.join(students[0]!, classId);
    const calm = await ChannelClient.join(students[1]!, classId);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => flooder.request("chat.send", { clientMessageId: `f${i}`, body: `spam ${i}` })));
    const accepted = results.filter((r) => r.ok).length;
    const limited = results.filter((r) => !r.ok && r.error.code === "RATE_LIMITED").length;
    expect(accepted).toBeGreaterThanOrEqual(10);
    expect(accepted).toBeLessThanOrEqual(12);
    expect(accepted + limited).toBe(30);
    expect((await calm.request("chat.send", { clientMessageId: "calm", body: "still here" })).ok).toBe(true);
    await teacherClient.until(() => teacherClient.chat.some((m) => m.body === "still here"), "the calm message");
    expect(teacherClient.chat.filter((m) => m.body.startsWith("spam"))).toHaveLength(accepted);
  });
});
