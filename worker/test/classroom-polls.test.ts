import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pollOptions, polls, pollVotes } from "../../schema/db";
import type { Poll } from "../../schema/protocol/classroom";
import { db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

describe("polls", () => {
  it("the teacher sees live counts and voters; students see no counts until the results are published", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const [a, b] = [await ChannelClient.join(students[0]!, classId), await ChannelClient.join(students[1]!, classId)];
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Best fruit?", options: ["Apple 🍎", "Banana 🍌", "Cherry 🍒"] });
    await a.until(() => a.poll(poll.id) !== undefined, "poll at student");
    expect(a.poll(poll.id)).toMatchObject({ question: "Best fruit?", status: "open", totalVoters: null });
    expect(a.poll(poll.id)!.options.map((o) => o.votes)).toEqual([null, null, null]);

    const [apple, banana] = poll.options;
    await a.ok("poll.vote", { pollId: poll.id, optionIds: [apple!.id] });
    await b.ok("poll.vote", { pollId: poll.id, optionIds: [banana!.id] });
    await teacherClient.until(() => teacherClient.poll(poll.id)?.totalVoters === 2, "two votes at the teacher");
    const live = teacherClient.poll(poll.id)!;
    expect(live.options.map((o) => o.votes)).toEqual([1, 1, 0]);
    expect(live.options[0]!.voters).toEqual([{ userId: students[0]!.id, displayName: students[0]!.displayName }]);
    expect(b.poll(poll.id)!.totalVoters).toBeNull();

    await teacherClient.ok("poll.publish", { pollId: poll.id });
    await b.until(() => b.poll(poll.id)?.status === "published", "published results");
    expect(b.poll(poll.id)!.options.map((o) => o.votes)).toEqual([1, 1, 0]);
    expect(b.poll(poll.id)!.options[0]!.voters).toBeUndefined();

    await eventually(async () => {
      const stored = await db.select().from(polls).where(eq(polls.id, poll.id));
      expect(stored[0]).toMatchObject({ status: "published", question: "Best fruit?", classId });
      expect(await db.select().from(pollOptions).where(eq(pollOptions.pollId, poll.id))).toHaveLength(3);
      expect(await db.select().from(pollVotes).where(eq(pollVotes.pollId, poll.id))).toHaveLength(2);
    });
  });

  it("a student votes once: voting again replaces the vote until the poll closes", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Yes or no?", options: ["Yes", "No"], anonymous: true });
    await student.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    await student.ok("poll.vote", { pollId: poll.id, optionIds: [poll.options[1]!.id] });
    await teacherClient.until(() => teacherClient.poll(poll.id)?.options[1]?.votes === 1, "changed vote");
    expect(teacherClient.poll(poll.id)!.options.map((o) => o.votes)).toEqual([0, 1]);
    expect(teacherClient.poll(poll.id)!.options[1]!.voters).toBeUndefined();

    await teacherClient.ok("poll.close", { pollId: poll.id });
    const late = await student.request("poll.vote", { pollId: poll.id, optionIds: [poll.options[0]!.id] });
    expect(late.ok ? null : late.error.code).toBe("CONFLICT");
    const rejoined = await ChannelClient.join(students[0]!, classId);
    expect(rejoined.snapshot!.myVotes).toEqual({ [poll.id]: [poll.options[1]!.id] });
    await eventually(async () => {
      const votes = await db.select().from(pollVotes).where(eq(pollVotes.pollId, poll.id));
      expect(votes.map((v) => v.optionId)).toEqual([poll.options[1]!.id]);
    });
  });

  it("checks choices: one option for single choice, known options only, several for multiple choice", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const single = (await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "One", options: ["a", "b"] })).poll;
    const multi = (await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Many", options: ["a", "b", "c"], multipleChoice: true })).poll;
    const two = await student.request("poll.vote", { pollId: single.id, optionIds: single.options.map((o) => o.id) });
    expect(two.ok ? null : two.error.code).toBe("INVALID_MESSAGE");
    const foreign = await student.request("poll.vote", { pollId: single.id, optionIds: [multi.options[0]!.id] });
    expect(foreign.ok ? null : foreign.error.code).toBe("INVALID_MESSAGE");
    const unknown = await student.request("poll.vote", { pollId: "nope", optionIds: ["x"] });
    expect(unknown.ok ? null : unknown.error.code).toBe("NOT_FOUND");
    expect((await student.request("poll.vote", { pollId: multi.id, optionIds: [multi.options[0]!.id, multi.options[2]!.id] })).ok).toBe(true);
    for (const bad of [
      { question: "x", options: ["only one"] },
      { question: "x", options: Array.from({ length: 11 }, (_, i) => `o${i}`) },
      { question: "x", options: ["same", "Same"] },
      { question: " ", options: ["a", "b"] },
    ]) {
      const refused = await teacherClient.request("poll.create", bad);
      expect(refused.ok ? null : refused.error.code).toBe("INVALID_MESSAGE");
    }
  });
});
