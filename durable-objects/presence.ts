import type { Participant, PeopleListEntry } from "../schema/protocol/classroom";
import { type ClassIdentity, type ClassRole, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import type { Outbox } from "./outbox";
import type { LiveSession } from "./session";
import type { RoomStorage } from "./storage";

/** A reconnect within this long keeps the participant (and their attendance row) as if nothing happened. */
export const PRESENCE_GRACE_MS = 10_000;

/** Why an attendance interval ended (attendance.leave_reason). */
export type LeaveReason = "left" | "kicked" | "blocked" | "ended" | "timeout";

/**
 * Whom students see (besides themselves), as an SQL condition on `participants`: teachers and admins, students
 * on stage and raised hands. Everyone else is only counted; a class of 1,000 would otherwise send 1,000 names
 * to every joiner and every join to everyone.
 */
const SEEN_BY_STUDENTS = `(role != 'student' OR hand_raised_at IS NOT NULL OR user_id IN (SELECT user_id FROM media_stage))`;

interface ParticipantRow extends Record<string, string | number | null> {
  user_id: string;
  display_name: string;
  role: string;
  attendance_id: string;
  joined_at: number;
  present: number;
  leave_due_at: number | null;
  hand_raised_at: number | null;
}

/**
 * Who is in the class. A user counts once however many tabs they have open; when their last socket closes
 * they stay (marked away) for a 10-second grace, so a reconnect does not flap the list or split attendance.
 */
export class Presence {
  /**
   * The head count as last counted and kept up by joins since (null: count again). Every snapshot carries it, and
   * counting the list for each of 3,000 joiners was the largest storage cost of a join (bench/classroom.ts
   * profile). A join adds one; anything else that changes who is present forgets it, as does the alarm.
   */
  private presentCount: number | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly session: LiveSession,
    private readonly broadcaster: Broadcaster,
    /** Called after a participant left for good (grace over, kicked, blocked, ended): their media must stop. */
    private readonly onLeft: (userId: string, reason: LeaveReason) => void = () => undefined,
  ) {}

  /** Everyone (what moderators see). */
  list(): Participant[] {
    const muted = this.mutedUsers();
    return this.storage.all<ParticipantRow>(`SELECT * FROM participants ORDER BY joined_at`).map((row) => toParticipant(row, muted));
  }

  /** The people every student sees: teachers and admins, the stage, raised hands (each student adds themselves). */
  seenByStudents(): Participant[] {
    const muted = this.mutedUsers();
    return this.storage.all<ParticipantRow>(`SELECT * FROM participants WHERE ${SEEN_BY_STUDENTS} ORDER BY joined_at`).map((row) => toParticipant(row, muted));
  }

  /** How many are in the class now; people away in their reconnect grace are not counted. */
  headCount(): number {
    this.presentCount ??= this.storage.one<{ n: number }>(`SELECT COUNT(*) AS n FROM participants WHERE present = 1`)?.n ?? 0;
    return this.presentCount;
  }

  /** Count again at the next {@link headCount} (the alarm calls this, like the session row's {@link LiveSession.forget}). */
  forgetHeadCount(): void {
    this.presentCount = null;
  }

  /**
   * One page of everyone, in join order (the row id: a participant keeps theirs through reconnects), after
   * `cursor`. Paging on while people come and go returns everyone who stayed exactly once; `query` keeps the
   * names that contain it, in any case.
   */
  page(cursor: number, query: string, limit: number): { people: PeopleListEntry[]; nextCursor: number | null } {
    const needle = foldCase(query);
    // Without a search the page is the next `limit` rows (one more tells whether there is a next page).
    const rows = needle
      ? this.storage.all<ParticipantRow & { seq: number }>(`SELECT rowid AS seq, * FROM participants WHERE rowid > ? ORDER BY rowid`, cursor)
      : this.storage.all<ParticipantRow & { seq: number }>(
          `SELECT rowid AS seq, * FROM participants WHERE rowid > ? ORDER BY rowid LIMIT ?`,
          cursor,
          limit + 1,
        );
    const stage = new Set(this.storage.all<{ user_id: string }>(`SELECT user_id FROM media_stage`).map((r) => r.user_id));
    const people: PeopleListEntry[] = [];
    let last = cursor;
    for (const row of rows) {
      if (needle && !foldCase(row.display_name).includes(needle)) continue;
      if (people.length === limit) return { people, nextCursor: last };
      people.push({
        userId: row.user_id,
        displayName: row.display_name,
        role: row.role as ClassRole,
        present: row.present === 1,
        handRaisedAt: row.hand_raised_at,
        onStage: stage.has(row.user_id),
      });
      last = row.seq;
    }
    return { people, nextCursor: null };
  }

  get(userId: string): Participant | null {
    const row = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, userId);
    return row ? toParticipant(row, this.mutedUsers()) : null;
  }

  isMuted(userId: string): boolean {
    return this.storage.one(`SELECT user_id FROM muted WHERE user_id = ?`, userId) !== null;
  }

  /** A socket of `identity` opened: a new participant (with an attendance row), or back from the grace. */
  connected(identity: ClassIdentity, sessionId: string, now: number): void {
    const existing = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, identity.userId);
    if (existing) {
      if (existing.present === 1) return;
      this.storage.run(`UPDATE participants SET present = 1, leave_due_at = NULL WHERE user_id = ?`, identity.userId);
      if (this.presentCount !== null) this.presentCount += 1;
    } else {
      const attendanceId = crypto.randomUUID();
      this.storage.run(
        `INSERT INTO participants (user_id, display_name, role, attendance_id, joined_at, present) VALUES (?, ?, ?, ?, ?, 1)`,
        identity.userId,
        identity.displayName,
        identity.role,
        attendanceId,
        now,
      );
      if (this.presentCount !== null) this.presentCount += 1;
      this.outbox.add("attendance.join", { id: attendanceId, sessionId, userId: identity.userId, joinedAt: now });
      this.session.setEmptySince(null);
      // Built from what was just written rather than read back: this runs for every one of 1,000 joiners.
      const { userId, displayName, role } = identity;
      this.broadcaster.presenceChanged(userId, {
        participant: { userId, displayName, role, present: true, handRaisedAt: null, chatMuted: this.isMuted(userId) },
        visibleBefore: false,
        visibleAfter: isModerator(role) || this.isOnStage(userId),
        tellSelf: false,
      });
      return;
    }
    this.session.setEmptySince(null);
    this.changed(identity.userId);
  }

  /** The user's last socket closed: away until the grace ends. Returns when the grace ends. */
  lastSocketClosed(userId: string, now: number): number {
    const due = now + PRESENCE_GRACE_MS;
    this.storage.run(`UPDATE participants SET present = 0, leave_due_at = ? WHERE user_id = ?`, due, userId);
    this.presentCount = null;
    this.changed(userId);
    return due;
  }

  /**
   * Ends the grace of everyone whose grace is over (they did not come back). Whether someone is still here is
   * decided by their open sockets, not by the bookkeeping that led to the grace: a user with an open socket is
   * marked present again instead of being dropped from the list while still in the class.
   */
  expireGraces(now: number, hasOpenSocket: (userId: string) => boolean): void {
    for (const row of this.storage.all<{ user_id: string }>(`SELECT user_id FROM participants WHERE present = 0 AND leave_due_at <= ?`, now)) {
      if (hasOpenSocket(row.user_id)) {
        this.storage.run(`UPDATE participants SET present = 1, leave_due_at = NULL WHERE user_id = ?`, row.user_id);
        this.presentCount = null;
        this.changed(row.user_id);
      } else {
        this.remove(row.user_id, "left", now);
      }
    }
  }

  /** Whether the user is in the list and not away (a cheap read, made before every channel action). */
  isPresent(userId: string): boolean {
    return this.storage.one(`SELECT user_id FROM participants WHERE user_id = ? AND present = 1`, userId) !== null;
  }

  nextGraceEnd(): number | null {
    return this.storage.one<{ due: number | null }>(`SELECT MIN(leave_due_at) AS due FROM participants WHERE present = 0`)?.due ?? null;
  }

  /** The participant leaves now: their attendance interval is closed with `reason`. */
  remove(userId: string, reason: LeaveReason, now: number): void {
    const row = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, userId);
    if (!row) return;
    const wasSeen = this.isSeenByStudents(row);
    this.storage.run(`DELETE FROM participants WHERE user_id = ?`, userId);
    this.presentCount = null;
    this.outbox.add("attendance.leave", { id: row.attendance_id, leftAt: now, durationMs: now - row.joined_at, reason });
    this.broadcaster.presenceChanged(userId, { participant: null, visibleBefore: wasSeen, visibleAfter: false, tellSelf: false });
    if (this.count() === 0) this.session.setEmptySince(now);
    this.onLeft(userId, reason);
  }

  /** Closes every attendance interval (the session ends). */
  removeAll(reason: LeaveReason, now: number): void {
    for (const row of this.storage.all<{ user_id: string }>(`SELECT user_id FROM participants`)) this.remove(row.user_id, reason, now);
  }

  count(): number {
    return this.storage.one<{ n: number }>(`SELECT COUNT(*) AS n FROM participants`)?.n ?? 0;
  }

  setHand(userId: string, raisedAt: number | null): void {
    const wasSeen = this.seenNow(userId);
    this.storage.run(`UPDATE participants SET hand_raised_at = ? WHERE user_id = ?`, raisedAt, userId);
    this.changed(userId, wasSeen, true);
  }

  setMuted(userId: string, muted: boolean): void {
    if (muted) this.storage.run(`INSERT OR IGNORE INTO muted (user_id) VALUES (?)`, userId);
    else this.storage.run(`DELETE FROM muted WHERE user_id = ?`, userId);
    this.changed(userId, this.seenNow(userId), true);
  }

  /** The media map put `userId` on stage or took them off (already written): students see them, or no longer. */
  stageChanged(userId: string, onStage: boolean): void {
    const row = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, userId);
    if (!row) return;
    const seenOffStage = isModerator(row.role as ClassRole) || row.hand_raised_at !== null;
    this.changed(userId, seenOffStage || !onStage, false);
  }

  /**
   * Tells the class the participant's latest state (coalesced per window): moderators always, students when the
   * participant is or was in their view (`wasSeen`), the participant themselves when `tellSelf`.
   */
  private changed(userId: string, wasSeen = this.seenNow(userId), tellSelf = false): void {
    const row = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, userId);
    if (!row) return;
    this.broadcaster.presenceChanged(userId, {
      participant: toParticipant(row, new Set(this.isMuted(userId) ? [userId] : [])),
      visibleBefore: wasSeen,
      visibleAfter: this.isSeenByStudents(row),
      tellSelf,
    });
  }

  /** Whether students see `userId` now (false when not in the class). */
  private seenNow(userId: string): boolean {
    const row = this.storage.one<ParticipantRow>(`SELECT * FROM participants WHERE user_id = ?`, userId);
    return row !== null && this.isSeenByStudents(row);
  }

  private isSeenByStudents(row: ParticipantRow): boolean {
    return isModerator(row.role as ClassRole) || row.hand_raised_at !== null || this.isOnStage(row.user_id);
  }

  private isOnStage(userId: string): boolean {
    return this.storage.one(`SELECT user_id FROM media_stage WHERE user_id = ?`, userId) !== null;
  }

  private mutedUsers(): Set<string> {
    return new Set(this.storage.all<{ user_id: string }>(`SELECT user_id FROM muted`).map((r) => r.user_id));
  }
}

/** Case and compatibility forms folded for the name search: "émile" finds "Émile", "ｊｏ" finds "Jo". */
function foldCase(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

function toParticipant(row: ParticipantRow, muted: Set<string>): Participant {
  return {
    userId: row.user_id,
    displayName: row.display_name,
    role: row.role as ClassRole,
    present: row.present === 1,
    handRaisedAt: row.hand_raised_at,
    chatMuted: muted.has(row.user_id),
  };
}
