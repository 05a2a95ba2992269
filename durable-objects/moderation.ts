import { CLASSROOM_CLOSE_CODES } from "../schema/protocol/classroom";
import { CLASS_TOKEN_LIFETIME_SECONDS, type ClassIdentity, type ClassRole, isModerator } from "../schema/tokens/class-token";
import { ChannelError } from "./errors";
import type { Outbox } from "./outbox";
import type { Presence } from "./presence";
import type { RoomStorage } from "./storage";

/**
 * The join route refuses blocked users by reading D1; this local record covers class tokens that were issued
 * before the block and are still valid (they live 2 minutes), so nobody slips back in meanwhile.
 */
const LOCAL_BLOCK_MS = (CLASS_TOKEN_LIFETIME_SECONDS + 60) * 1000;

/** Closes every socket of a user with a code and a notice (implemented by the Classroom). */
export type DisconnectUser = (userId: string, code: number, reason: "kicked" | "blocked", message: string) => void;

/** The class role carried by an open socket of the user, or null when they have none (implemented by the Classroom). */
export type OpenSocketRole = (userId: string) => ClassRole | null;

/** Moderators remove (can rejoin), block (cannot rejoin) and mute participants. Moderators cannot target each other. */
export class Moderation {
  /**
   * `recent_blocks` as user → until, read once after a wake-up and then written through with the table: the
   * table survives eviction, the copy spares every join a storage read.
   */
  private recentBlocksCopy: Map<string, number> | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly presence: Presence,
    private readonly disconnect: DisconnectUser,
    private readonly openSocketRole: OpenSocketRole,
  ) {}

  remove(userId: string, now: number): void {
    this.target(userId);
    this.disconnect(userId, CLASSROOM_CLOSE_CODES.kicked, "kicked", "The teacher removed you from the class");
    this.presence.remove(userId, "kicked", now);
  }

  async block(caller: ClassIdentity, userId: string, reason: string, now: number): Promise<void> {
    this.target(userId);
    this.outbox.add("block.insert", { id: crypto.randomUUID(), userId, classId: caller.classId, reason, blockedBy: caller.userId, createdAt: now });
    this.applyBlock(userId, now);
    // The block must be in D1 before the moderator is told it worked: the join route reads it from there.
    await this.outbox.flush();
  }

  /** Puts a block that already exists in D1 into effect here: the user is disconnected now and kept out. */
  applyBlock(userId: string, now: number): void {
    this.storage.run(`DELETE FROM recent_blocks WHERE until <= ?`, now);
    this.storage.run(`INSERT OR REPLACE INTO recent_blocks (user_id, until) VALUES (?, ?)`, userId, now + LOCAL_BLOCK_MS);
    const recent = this.recentBlocks();
    for (const [blocked, until] of recent) if (until <= now) recent.delete(blocked);
    recent.set(userId, now + LOCAL_BLOCK_MS);
    this.disconnect(userId, CLASSROOM_CLOSE_CODES.blocked, "blocked", "You have been blocked from this class");
    this.presence.remove(userId, "blocked", now);
  }

  /** Forgets the local record of a block that was lifted. */
  liftBlock(userId: string): void {
    this.storage.run(`DELETE FROM recent_blocks WHERE user_id = ?`, userId);
    this.recentBlocks().delete(userId);
  }

  mute(userId: string, muted: boolean): void {
    this.target(userId);
    this.presence.setMuted(userId, muted);
  }

  /** Asked at every join: a look in memory (see {@link recentBlocks}), no storage call. */
  isRecentlyBlocked(userId: string, now: number): boolean {
    return (this.recentBlocks().get(userId) ?? 0) > now;
  }

  /** Whether `userId` is a student in the list now (a pen or the stage goes only to someone who is here). */
  isStudentHere(userId: string): boolean {
    return this.presence.get(userId)?.role === "student";
  }

  private recentBlocks(): Map<string, number> {
    this.recentBlocksCopy ??= new Map(
      this.storage.all<{ user_id: string; until: number }>(`SELECT user_id, until FROM recent_blocks`).map((row) => [row.user_id, row.until]),
    );
    return this.recentBlocksCopy;
  }

  /**
   * A target is anyone in the list or holding an open socket: moderation must reach a socket whatever the
   * list's bookkeeping says, or a participant the list lost could never be removed.
   */
  private target(userId: string): void {
    const role = this.presence.get(userId)?.role ?? this.openSocketRole(userId);
    if (!role) throw new ChannelError("NOT_FOUND", "That person is not in the class");
    if (isModerator(role)) throw new ChannelError("FORBIDDEN", "Teachers and admins cannot be removed, blocked or muted from the class");
  }
}
