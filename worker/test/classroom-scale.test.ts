import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../../schema/protocol/classroom";
import { ChannelClient, createLiveClass } from "./ws-client";

describe("a class of 50", () => {
  it("every client receives each chat message exactly once and in the same order", { timeout: 60_000 }, async () => {
    const { classId, teacher, students } = await createLiveClass(49);
    const clients = [await ChannelClient.join(teacher, classId)];
    for (const student of students) clients.push(await ChannelClient.join(student, classId));
    const senders = clients.slice(0, 5);
    const sent: ChatMessage[] = [];
    for (let round = 0; round < 4; round += 1) {
      const replies = await Promise.all(
        senders.map((s, i) => s.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: `r${round}-s${i}`, body: `round ${round} from ${i} ✨` })),
      );
      sent.push(...replies.map((r) => r.message));
    }
    for (const client of clients) await client.until(() => client.chat.length >= sent.length, "all messages", 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const reference = clients[0]!.chat.map((m) => m.id);
    expect(new Set(reference)).toEqual(new Set(sent.map((m) => m.id)));
    expect(reference).toHaveLength(sent.length);
    for (const client of clients) {
      const received = client.events.filter((e) => e.type === "chat.message").map((e) => (e.type === "chat.message" ? e.message.id : ""));
      expect(received).toEqual(reference);
    }
    const createdAt = clients[0]!.chat.map((m) => m.createdAt);
    expect([...createdAt].sort((a, b) => a - b)).toEqual(createdAt);
    for (const sender of senders) {
      const mine = clients[0]!.chat.filter((m) => m.userId === sender.snapshot!.you.userId).map((m) => m.clientMessageId);
      expect(mine).toEqual([0, 1, 2, 3].map((round) => mine[0]!.replace(/^r\d/, `r${round}`)));
    }
  });
});
