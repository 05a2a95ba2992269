import { describe, expect, it } from "vitest";
import { CLASSROOM_CLOSE_CODES } from "../../schema/protocol/classroom";
import { ChannelClient, createLiveClass } from "./ws-client";

describe("invalid frames", () => {
  it("answers every kind of bad frame with INVALID_MESSAGE (with the id when it can be read) and keeps the socket", async () => {
    const { classId, students } = await createLiveClass(1);
    const client = await ChannelClient.join(students[0]!, classId);
    const cases: [string | ArrayBuffer, number | null][] = [
      ["not json", null],
      ["[1,2,3]", null],
      ["null", null],
      [JSON.stringify({ id: 7 }), 7],
      [JSON.stringify({ id: "seven", method: "chat.send", data: {} }), null],
      [JSON.stringify({ id: 8, method: "chat.explode", data: {} }), 8],
      [JSON.stringify({ id: 9, method: "chat.send", data: { body: "no client id" } }), 9],
      [JSON.stringify({ id: 10, method: "chat.send", data: { clientMessageId: "x", body: "hi", userId: "someone-else" } }), 10],
      [JSON.stringify({ id: 11, method: "chat.send", data: { clientMessageId: "x", body: 42 } }), 11],
      [JSON.stringify({ id: 12, method: "hand.raise", data: {}, extra: true }), 12],
      [JSON.stringify({ id: -1, method: "hand.raise", data: {} }), null],
      [JSON.stringify({ id: 13, method: "reaction.send", data: { emoji: "not an emoji" } }), 13],
      [new TextEncoder().encode(JSON.stringify({ id: 14, method: "hand.raise", data: {} })).buffer as ArrayBuffer, null],
    ];
    for (const [frame] of cases) client.sendRaw(frame);
    await client.until(() => client.raw.length >= 1 + cases.length, "all error replies");
    const replies = client.raw.slice(1).map((text) => JSON.parse(text));
    expect(replies.map((r) => r.error?.code)).toEqual(cases.map(() => "INVALID_MESSAGE"));
    expect(replies.map((r) => r.id)).toEqual(cases.map(([, id]) => id));
    expect(replies.every((r) => typeof r.error.message === "string" && r.error.message.length > 0 && !r.error.message.includes("    at "))).toBe(true);
    expect((await client.request("chat.send", { clientMessageId: "after", body: "still connected" })).ok).toBe(true);
  });

  it("closes the socket with 1009 on a frame over 64 KiB; the class keeps serving others", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const client = await ChannelClient.join(students[0]!, classId);
    client.sendRaw(JSON.stringify({ id: 1, method: "chat.send", data: { clientMessageId: "big", body: "x".repeat(70_000) } }));
    const closed = await client.waitClosed();
    expect(closed.code).toBe(CLASSROOM_CLOSE_CODES.frameTooLarge);
    expect(closed.reason).toContain("Frame too large");
    expect((await teacherClient.request("chat.send", { clientMessageId: "ok", body: "fine" })).ok).toBe(true);
  });
});
