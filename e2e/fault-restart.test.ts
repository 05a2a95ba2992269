/**
 * `wrangler dev` killed in the middle of a class (SIGKILL: the class object and everything it held in memory
 * gone, no shutdown, no last flush) while a poll is open and chat and votes are flowing, then started again on
 * the same state: after everyone reconnects, every chat message and vote the class acknowledged is in the
 * room and in D1 exactly once, and every attendance interval that was open is in D1, closed or continuing.
 *
 * It runs its own `wrangler dev` (e2e/lib/wrangler-dev.ts, the command line of scripts/start.sh) on its own port
 * and state directory, so killing it leaves the suite's stack alone; the class channel needs no media.
 * Participants are Node WebSocket clients speaking the app's frames (e2e/lib/class-channel.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage, Poll } from "../schema/protocol/classroom";
import { type Account, ClassChannel, openClass, signIn } from "./lib/class-channel";
import { applyMigrations, d1Query, freePort, startWranglerDev, type WranglerDev } from "./lib/wrangler-dev";

const repoRoot = path.resolve(import.meta.dirname, "..");
const logPath = path.join(repoRoot, "test-results", "e2e-fault-restart.log");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the class acknowledged, and what was still unanswered when wrangler died (it may or may not count). */
interface Ledger {
  chat: Map<string, ChatMessage>;
  /** The option of each student's last acknowledged vote. */
  vote: Map<string, string>;
  /** A vote sent but unanswered at the kill: either it or the acknowledged one is the student's vote. */
  voteInFlight: Map<string, string>;
}

/**
 * One participant's traffic until its socket dies: a chat message, then (students) a vote for the other option,
 * one request at a time with a pause below the chat rate limit. Refusals (a rate limit) are simply not counted.
 */
async function talk(channel: ClassChannel, account: Account, poll: Poll | null, ledger: Ledger): Promise<void> {
  for (let round = 0; channel.open; round += 1) {
    try {
      const clientMessageId = `${account.person.name}-${round}`;
      const { message } = await channel.request("chat.send", { clientMessageId, body: `${account.person.name} says ${round}` });
      ledger.chat.set(message.id, message);
      if (poll) {
        const optionId = poll.options[round % poll.options.length]!.id;
        ledger.voteInFlight.set(account.userId, optionId);
        await channel.request("poll.vote", { pollId: poll.id, optionIds: [optionId] });
        ledger.vote.set(account.userId, optionId);
        ledger.voteInFlight.delete(account.userId);
      }
    } catch {
      if (!channel.open) return;
    }
    await sleep(600);
  }
}

describe("wrangler dev restarted in the middle of a class", () => {
  let stateDir: string;
  let port: number;
  let wrangler: WranglerDev | null = null;

  beforeAll(async () => {
    mkdirSync(path.dirname(logPath), { recursive: true });
    rmSync(logPath, { force: true });
    stateDir = mkdtempSync(path.join(tmpdir(), "insp-live-restart-"));
    port = await freePort();
    await applyMigrations(stateDir);
    wrangler = await startWranglerDev({ port, stateDir, logPath });
  });

  afterAll(async () => {
    await wrangler?.kill();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("loses no acknowledged chat message, vote or attendance interval", { timeout: 240_000 }, async () => {
    const url = wrangler!.url;
    const teacher = await signIn(url, "teacher", "Tara");
    const students = [await signIn(url, "student", "Sven"), await signIn(url, "student", "Stella")];
    const classId = await openClass(url, teacher, students);
    const people = [teacher, ...students];
    const channels = await Promise.all(people.map((person) => ClassChannel.join(url, person, classId)));
    const sessionId = channels[0]!.snapshot.session.sessionId;
    const { poll } = await channels[0]!.request("poll.create", { question: "Will it survive the restart?", options: ["yes", "no"] });

    const ledger: Ledger = { chat: new Map(), vote: new Map(), voteInFlight: new Map() };
    const talking = people.map((person, index) => talk(channels[index]!, person, index === 0 ? null : poll, ledger));
    // Mid-flow: enough acknowledged to lose, and every student has voted at least once.
    const flowing = Date.now() + 60_000;
    while (!(ledger.chat.size >= 12 && students.every((s) => ledger.vote.has(s.userId)))) {
      if (Date.now() > flowing) throw new Error(`traffic did not get going: ${ledger.chat.size} messages acknowledged`);
      await sleep(100);
    }
    await wrangler!.kill();
    const killedAt = Date.now();
    await Promise.all(talking);
    expect(channels.every((channel) => !channel.open)).toBe(true);

    // How much of it only the object's own storage held when it died (timing decides; printed, not asserted).
    const inD1AtKill = new Set((await d1Query<{ id: string }>(stateDir, `SELECT id FROM chat_messages WHERE class_id = '${classId}'`)).map((row) => row.id));
    console.log(
      `restart: ${ledger.chat.size} messages acknowledged before the kill, ${[...ledger.chat.keys()].filter((id) => !inD1AtKill.has(id)).length} of them not yet in D1`,
    );

    wrangler = await startWranglerDev({ port, stateDir, logPath });
    const back = await Promise.all(people.map((person) => ClassChannel.join(url, person, classId)));

    // In the room: the same session, every acknowledged message, the open poll with each student's vote.
    const snapshot = back[0]!.snapshot;
    expect(snapshot.session.sessionId).toBe(sessionId);
    const roomChat = new Set(snapshot.chat.map((m) => m.id));
    expect([...ledger.chat.keys()].filter((id) => !roomChat.has(id))).toEqual([]);
    expect(snapshot.polls.find((p) => p.id === poll.id)?.status).toBe("open");
    for (const [index, student] of students.entries()) {
      const mine = back[index + 1]!.snapshot.myVotes[poll.id];
      expect([ledger.vote.get(student.userId), ledger.voteInFlight.get(student.userId)].filter(Boolean)).toContainEqual(mine?.[0]);
    }
    expect(new Set(snapshot.participants.filter((p) => p.present).map((p) => p.userId))).toEqual(new Set(people.map((p) => p.userId)));

    // In D1, once the object's outbox has shipped what it kept: the same, each exactly once.
    const deadline = Date.now() + 60_000;
    let stored: { id: string; user_id: string; client_message_id: string }[] = [];
    for (;;) {
      stored = await d1Query(stateDir, `SELECT id, user_id, client_message_id FROM chat_messages WHERE class_id = '${classId}'`);
      const ids = new Set(stored.map((row) => row.id));
      if ([...ledger.chat.keys()].every((id) => ids.has(id))) break;
      if (Date.now() > deadline) throw new Error(`D1 is missing acknowledged messages: ${[...ledger.chat.keys()].filter((id) => !ids.has(id)).join(", ")}`);
      await sleep(1_000);
    }
    const keys = stored.map((row) => `${row.user_id}/${row.client_message_id}`);
    expect(new Set(keys).size).toBe(keys.length);

    const votes = await d1Query<{ user_id: string; option_id: string }>(stateDir, `SELECT user_id, option_id FROM poll_votes WHERE poll_id = '${poll.id}'`);
    expect(votes).toHaveLength(students.length);
    for (const student of students) {
      const vote = votes.find((row) => row.user_id === student.userId)?.option_id;
      expect([ledger.vote.get(student.userId), ledger.voteInFlight.get(student.userId)].filter(Boolean)).toContainEqual(vote);
    }

    const intervals = await d1Query<{ user_id: string; joined_at: number; left_at: number | null }>(
      stateDir,
      `SELECT user_id, joined_at, left_at FROM attendance WHERE session_id = '${sessionId}' ORDER BY joined_at`,
    );
    for (const person of people) {
      const before = intervals.filter((row) => row.user_id === person.userId && row.joined_at < killedAt);
      expect(before, `${person.person.name}'s interval from before the restart`).toHaveLength(1);
      // Continuing (the reconnect came within the grace) or closed no earlier than it began.
      expect(before[0]!.left_at === null || before[0]!.left_at >= before[0]!.joined_at).toBe(true);
    }

    // The class goes on after the restart.
    const after = await back[1]!.request("chat.send", { clientMessageId: "after-restart", body: "still here" });
    expect(after.message.body).toBe("still here");
    for (const channel of back) channel.close();
  });
});
