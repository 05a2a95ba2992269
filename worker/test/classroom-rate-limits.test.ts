import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pollVotes, sfuNodes } from "../../schema/db";
import { CLASSROOM_LIMITS, type MediaJoinResponse, type Poll } from "../../schema/protocol/classroom";
import type { ResponseFrame } from "../../schema/protocol/envelope";
import { createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const { votes, hands, media, classBroadcasts } = CLASSROOM_LIMITS.rateLimits;

/** The refusals among `responses`, each checked to be RATE_LIMITED with a wait and a sentence that says it. */
function refusals(responses: ResponseFrame[], what: string) {
  const refused = responses.filter((r) => !r.ok);
  for (const response of refused) {
    if (response.ok) continue;
    expect(response.error.code).toBe("RATE_LIMITED");
    expect(response.error.retryAfterMs).toBeGreaterThan(0);
    expect(response.error.message).toMatch(new RegExp(`^Too many ${what}; try again in \\d+ s$`));
  }
  return refused;
}

/**
 * The most `limit` can let through from `startedAt` until now: its burst plus what it refills meanwhile. A loaded
 * machine answers a flood slowly and the bucket refills while it does, so the bound comes from the clock (the
 * test and the Durable Object share workerd's) rather than from a guessed margin.
 */
function allowance(limit: { burst: number; perSecond: number }, startedAt: number): number {
  return Math.floor(limit.burst + ((Date.now() - startedAt) / 1000) * limit.perSecond);
}

/** Registers a healthy node in the fleet, so `media.join` has somewhere to send people. */
async function addNode(id: string) {
  const now = Date.now();
  await db
    .insert(sfuNodes)
    .values({ id, region: "local", publicUrl: `https://${id}.sfu.example`, consumers: 0, maxConsumers: 1000, registeredAt: now, lastHeartbeatAt: now });
}

describe("abuse limits on the class channel", () => {
  it("a burst of votes is cut off after the allowance; refused votes leave the tally alone, and one passes again after the wait", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const { poll } = await teacherClient.ok<{ poll: Poll }>("poll.create", { question: "Which?", options: ["Keep", "Flip"] });
    const [keep, flip] = poll.options;

    // One socket delivers in order: the allowance goes to the first votes (Keep), the flood after it (Flip) is refused.
    const sent = [...Array.from({ length: votes.burst }, () => keep!.id), ...Array.from({ length: 25 }, () => flip!.id)];
    const floodStartedAt = Date.now();
    const responses = await Promise.all(sent.map((optionId) => student.request("poll.vote", { pollId: poll.id, optionIds: [optionId] })));
    const accepted = responses.filter((r) => r.ok).length;
    expect(accepted).toBeGreaterThanOrEqual(votes.burst);
    expect(accepted).toBeLessThanOrEqual(allowance(votes, floodStartedAt));
    expect(accepted).toBeLessThan(sent.length);
    expect(refusals(responses, "votes")).toHaveLength(sent.length - accepted);
    expect(responses.slice(0, votes.burst).every((r) => r.ok)).toBe(true);

    const lastAccepted = sent[responses.findLastIndex((r) => r.ok)]!;
    const tally = (p: Poll | undefined) => p?.options.map((o) => o.votes);
    const expected = lastAccepted === keep!.id ? [1, 0] : [0, 1];
    await teacherClient.until(() => JSON.stringify(tally(teacherClient.poll(poll.id))) === JSON.stringify(expected), "the tally of accepted votes");
    await eventually(async () => {
      const stored = await db
        .select()
        .from(pollVotes)
        .where(and(eq(pollVotes.pollId, poll.id), eq(pollVotes.userId, students[0]!.id)));
      expect(stored.map((v) => v.optionId)).toEqual([lastAccepted]);
    });

    const last = responses.at(-1)!;
    const waitMs = last.ok ? 0 : last.error.retryAfterMs!;
    expect(waitMs).toBeLessThanOrEqual(Math.ceil(1000 / votes.perSecond));
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    expect((await student.request("poll.vote", { pollId: poll.id, optionIds: [keep!.id] })).ok).toBe(true);
    await teacherClient.until(() => JSON.stringify(tally(teacherClient.poll(poll.id))) === JSON.stringify([1, 0]), "the vote after the wait");
  });

  it("hand raise/lower flapping is limited across all of one user's sockets; another student's hand still goes up", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const phone = await ChannelClient.join(students[0]!, classId);
    const laptop = await ChannelClient.join(students[0]!, classId);
    const other = await ChannelClient.join(students[1]!, classId);

    // Up on one device, down on the other: two sockets, one allowance.
    const responses: ResponseFrame[] = [];
    const flappingStartedAt = Date.now();
    for (let i = 0; i < hands.burst * 3; i += 1) responses.push(i % 2 === 0 ? await phone.request("hand.raise", {}) : await laptop.request("hand.lower", {}));
    const accepted = responses.filter((r) => r.ok).length;
    expect(accepted).toBeGreaterThanOrEqual(hands.burst);
    // One request at a time: on a loaded machine the round trips take seconds, and the bucket refills meanwhile.
    expect(accepted).toBeLessThanOrEqual(allowance(hands, flappingStartedAt));
    expect(accepted).toBeLessThan(responses.length);
    expect(refusals(responses, "hand raises and lowers")).toHaveLength(responses.length - accepted);
    expect(responses.slice(0, hands.burst).every((r) => r.ok)).toBe(true);

    // The hand is where the last accepted request left it (an odd-numbered request lowered it).
    const raisedAtEnd = responses.findLastIndex((r) => r.ok) % 2 === 0;
    await other.ok("hand.raise", {});
    await teacherClient.until(() => teacherClient.participants.get(students[1]!.id)?.handRaisedAt != null, "the other student's hand");
    expect(teacherClient.participants.get(students[0]!.id)?.handRaisedAt != null).toBe(raisedAtEnd);

    // A teacher clears many hands in a row: their allowance for it is larger.
    const clearing = await Promise.all(Array.from({ length: hands.burst * 3 }, (_, i) => teacherClient.request("hand.lower", { userId: students[i % 2]!.id })));
    expect(clearing.filter((r) => !r.ok)).toEqual([]);
    await teacherClient.until(() => [...teacherClient.participants.values()].every((p) => p.handRaisedAt === null), "every hand down");
  });

  it("media.join and media.renew share one allowance per user; the teacher still gets a place", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    await addNode(`node-${crypto.randomUUID()}`);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const firstJoinAt = Date.now();
    const first = await student.ok<MediaJoinResponse>("media.join");

    const flood = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0 ? student.request("media.join") : student.request("media.renew", { nodeId: first.nodeId }),
    );
    const responses = await Promise.all(flood);
    const accepted = responses.filter((r) => r.ok).length;
    // The first join above took one token of the burst.
    expect(accepted).toBeGreaterThanOrEqual(media.burst - 1);
    expect(accepted + 1).toBeLessThanOrEqual(allowance(media, firstJoinAt));
    expect(accepted).toBeLessThan(responses.length);
    expect(refusals(responses, "media requests")).toHaveLength(responses.length - accepted);

    expect((await teacherClient.ok<MediaJoinResponse>("media.join")).nodeId).toBe(first.nodeId);
  });

  it("class-wide changes are counted for the whole class: teacher and admins together cannot flood it", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const moderators = [await ChannelClient.join(teacher, classId)];
    for (let i = 0; i < 2; i += 1) moderators.push(await ChannelClient.join(await createUser("admin"), classId));
    const student = await ChannelClient.join(students[0]!, classId);

    // Each moderator stays within their own allowance (25 < 30 moderation actions); the class allowance (40) is what
    // stops them. Three of them send 75, so the class bucket runs dry even if answering takes the machine seconds.
    const perModerator = 25;
    const lock = (client: ChannelClient, i: number) => client.request("chat.lock", { locked: i % 2 === 0 });
    const floodStartedAt = Date.now();
    const responses = await Promise.all(Array.from({ length: perModerator }, (_, i) => moderators.map((client) => lock(client, i))).flat());
    const accepted = responses.filter((r) => r.ok).length;
    expect(accepted).toBeGreaterThanOrEqual(classBroadcasts.burst);
    expect(accepted).toBeLessThanOrEqual(allowance(classBroadcasts, floodStartedAt));
    expect(accepted).toBeLessThan(responses.length);
    expect(refusals(responses, "class-wide changes")).toHaveLength(responses.length - accepted);

    // A student's own actions are not class-wide: they still pass.
    expect((await student.request("hand.raise", {})).ok).toBe(true);
  });
});
