import type { Participant } from "../schema/protocol/classroom";
import type { ClassIdentity, ClassRole } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import type { Outbox } from "./outbox";
import type { LiveSession } from "./session";
import type { RoomStorage } from "./storage";

/** A reconnect within this long keeps the participant (and their attendance row) as if nothing happened. */
export const PRESENCE_GRACE_MS = 10_000;

/** Why an attendance interval ended (attendance.leave_reason). */
export type LeaveReason = "left" | "kicked" | "blocked" | "ended" | "timeout";

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
  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly session: LiveSession,
    private readonly broadcaster: Broadcaster,
    /** Called after a participant left for good (grace over, kicked, blocked, ended): their media must stop. */
    private readonly onLeft: (userId: string, reason: LeaveReason) => void = () => undefined,
  ) {}

  list(): Participant[] {
    const muted = this.mutedUsers();
    return this.storage.all<ParticipantRow>(`SELECT * FROM participants ORDER BY joined_at`).map((row) => toParticipant(row, muted));
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
      this.outbox.add("attendance.join", { id: attendanceId, sessionId, userId: identity.userId, joinedAt: now });
      this.session.setEmptySince(null);
      // Built from what was just written rather than read back: this runs for every one of 1,000 joiners.
      const { userId, displayName, role } = identity;
      this.broadcaster.presenceChanged(userId, { userId, displayName, role, present: true, handRaisedAt: null, chatMuted: this.isMuted(userId) });
      return;
    }
    this.session.setEmptySince(null);
    this.changed(identity.userId);
  }

  /** The user's last socket closed: away until the grace ends. Returns when the grace ends. */
  lastSocketClosed(userId: string, now: number): number {
    const due = now + PRESENCE_GRACE_MS;
    this.storage.run(`UPDATE participants SET present = 0, leave_due_at = ? WHERE user_id = ?`, due, userId);
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
    this.storage.run(`DELETE FROM participants WHERE user_id = ?`, userId);
    this.outbox.add("attendance.leave", { id: row.attendance_id, leftAt: now, durationMs: now - row.joined_at, reason });
    this.broadcaster.presenceChanged(userId, null);
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
    this.storage.run(`UPDATE participants SET hand_raised_at = ? WHERE user_id = ?`, raisedAt, userId);
    this.changed(userId);
  }

  setMuted(userId: string, muted: boolean): void {
    if (muted) this.storage.run(`INSERT OR IGNORE INTO muted (user_id) VALUES (?)`, userId);
    else this.storage.run(`DELETE FROM muted WHERE user_id = ?`, userId);
    this.changed(userId);
  }

  /** Tells everyone the participant's latest state (coalesced per window). */
  private changed(userId: string): void {
    const participant = this.get(userId);
    if (participant) this.broadcaster.presenceChanged(userId, participant);
  }

  private mutedUsers(): Set<string> {
    return new Set(this.storage.all<{ user_id: string }>(`SELECT user_id FROM muted`).map((r) => r.user_id));
  }
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
