import type { ClassroomRequestData, Poll } from "../schema/protocol/classroom";
import type { ClassIdentity } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import { ChannelError } from "./errors";
import type { Outbox } from "./outbox";
import type { LiveSession } from "./session";
import type { RoomStorage } from "./storage";

interface PollRow extends Record<string, string | number | null> {
  id: string;
  question: string;
  multiple_choice: number;
  anonymous: number;
  status: string;
  created_at: number;
  closes_at: number | null;
}

/**
 * Polls: moderators create, close and publish; students vote once (changing their vote while it is open).
 * Moderators watch live counts; students see counts only once the results are published.
 */
export class Polls {
  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly session: LiveSession,
    private readonly broadcaster: Broadcaster,
  ) {}

  create(caller: ClassIdentity, data: ClassroomRequestData<"poll.create">, now: number): Poll {
    const session = this.session.current();
    if (!session) throw new ChannelError("CONFLICT", "The class is not in session");
    const labels = data.options.map((label) => label.toLocaleLowerCase());
    if (new Set(labels).size !== labels.length) throw new ChannelError("INVALID_MESSAGE", "Two options have the same text");
    const id = crypto.randomUUID();
    const closesAt = data.durationSeconds ? now + data.durationSeconds * 1000 : null;
    const options = data.options.map((label, position) => ({ id: crypto.randomUUID(), position, label }));
    this.storage.run(
      `INSERT INTO polls (id, question, multiple_choice, anonymous, status, created_at, closes_at, created_by) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`,
      id,
      data.question,
      data.multipleChoice ? 1 : 0,
      data.anonymous ? 1 : 0,
      now,
      closesAt,
      caller.userId,
    );
    for (const option of options)
      this.storage.run(`INSERT INTO poll_options (id, poll_id, position, label) VALUES (?, ?, ?, ?)`, option.id, id, option.position, option.label);
    this.outbox.add("poll.insert", {
      id,
      classId: caller.classId,
      sessionId: session.id,
      createdBy: caller.userId,
      question: data.question,
      multipleChoice: data.multipleChoice,
      anonymous: data.anonymous,
      closesAt,
      createdAt: now,
      options,
    });
    this.broadcaster.pollChanged(id, true);
    return this.render(id, "moderators")!;
  }

  vote(caller: ClassIdentity, data: ClassroomRequestData<"poll.vote">, now: number): string[] {
    const poll = this.row(data.pollId);
    if (poll.status !== "open") throw new ChannelError("CONFLICT", "This poll is closed");
    const optionIds = [...new Set(data.optionIds)];
    if (poll.multiple_choice === 0 && optionIds.length !== 1) throw new ChannelError("INVALID_MESSAGE", "Pick exactly one option");
    const known = new Set(this.storage.all<{ id: string }>(`SELECT id FROM poll_options WHERE poll_id = ?`, poll.id).map((o) => o.id));
    if (optionIds.some((id) => !known.has(id))) throw new ChannelError("INVALID_MESSAGE", "Unknown option for this poll");
    this.storage.run(`DELETE FROM poll_votes WHERE poll_id = ? AND user_id = ?`, poll.id, caller.userId);
    for (const optionId of optionIds) {
      this.storage.run(
        `INSERT INTO poll_votes (poll_id, option_id, user_id, display_name, created_at) VALUES (?, ?, ?, ?, ?)`,
        poll.id,
        optionId,
        caller.userId,
        caller.displayName,
        now,
      );
    }
    this.outbox.add("poll.vote", { pollId: poll.id, userId: caller.userId, optionIds, createdAt: now });
    this.broadcaster.pollChanged(poll.id, false);
    return optionIds;
  }

  close(pollId: string, now: number): Poll {
    const poll = this.row(pollId);
    if (poll.status === "open") {
      this.storage.run(`UPDATE polls SET status = 'closed' WHERE id = ?`, pollId);
      this.outbox.add("poll.status", { id: pollId, status: "closed", at: now });
      this.broadcaster.pollChanged(pollId, true);
    }
    return this.render(pollId, "moderators")!;
  }

  publish(pollId: string, now: number): Poll {
    const poll = this.close(pollId, now);
    if (poll.status !== "published") {
      this.storage.run(`UPDATE polls SET status = 'published' WHERE id = ?`, pollId);
      this.outbox.add("poll.status", { id: pollId, status: "published", at: now });
      this.broadcaster.pollChanged(pollId, true);
    }
    return this.render(pollId, "moderators")!;
  }

  /** Closes polls whose timer ran out. */
  closeExpired(now: number): void {
    for (const { id } of this.storage.all<{ id: string }>(`SELECT id FROM polls WHERE status = 'open' AND closes_at <= ?`, now)) this.close(id, now);
  }

  nextTimerEnd(): number | null {
    return this.storage.one<{ due: number | null }>(`SELECT MIN(closes_at) AS due FROM polls WHERE status = 'open'`)?.due ?? null;
  }

  all(audience: "moderators" | "students"): Poll[] {
    return this.storage
      .all<{ id: string }>(`SELECT id FROM polls ORDER BY created_at`)
      .map(({ id }) => this.render(id, audience))
      .filter((poll): poll is Poll => poll !== null);
  }

  /** Option ids `userId` voted for, by poll. */
  votesOf(userId: string): Record<string, string[]> {
    const votes: Record<string, string[]> = {};
    for (const row of this.storage.all<{ poll_id: string; option_id: string }>(`SELECT poll_id, option_id FROM poll_votes WHERE user_id = ?`, userId)) {
      (votes[row.poll_id] ??= []).push(row.option_id);
    }
    return votes;
  }

  /** The poll as `audience` sees it. */
  render(pollId: string, audience: "moderators" | "students"): Poll | null {
    const poll = this.storage.one<PollRow>(`SELECT * FROM polls WHERE id = ?`, pollId);
    if (!poll) return null;
    const showCounts = audience === "moderators" || poll.status === "published";
    const showVoters = audience === "moderators" && poll.anonymous === 0;
    const votes = this.storage.all<{ option_id: string; user_id: string; display_name: string }>(
      `SELECT option_id, user_id, display_name FROM poll_votes WHERE poll_id = ? ORDER BY created_at`,
      pollId,
    );
    const options = this.storage
      .all<{ id: string; label: string }>(`SELECT id, label FROM poll_options WHERE poll_id = ? ORDER BY position`, pollId)
      .map((option) => {
        const mine = votes.filter((vote) => vote.option_id === option.id);
        return {
          id: option.id,
          label: option.label,
          votes: showCounts ? mine.length : null,
          ...(showVoters ? { voters: mine.map((vote) => ({ userId: vote.user_id, displayName: vote.display_name })) } : {}),
        };
      });
    return {
      id: poll.id,
      question: poll.question,
      multipleChoice: poll.multiple_choice === 1,
      anonymous: poll.anonymous === 1,
      status: poll.status as Poll["status"],
      createdAt: poll.created_at,
      closesAt: poll.closes_at,
      options,
      totalVoters: showCounts ? new Set(votes.map((vote) => vote.user_id)).size : null,
    };
  }

  private row(pollId: string): PollRow {
    const poll = this.storage.one<PollRow>(`SELECT * FROM polls WHERE id = ?`, pollId);
    if (!poll) throw new ChannelError("NOT_FOUND", "No such poll in this class");
    return poll;
  }
}
