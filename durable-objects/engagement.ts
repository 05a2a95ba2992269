import type { Outbox } from "./outbox";
import type { RoomStorage } from "./storage";

/**
 * Counts change as often as people click; D1 hears about them at most once per this window. 300 students
 * reacting five times a second are then one outbox row (and one D1 batch) a second, not 1,500.
 */
export const ENGAGEMENT_SHIP_MS = 1_000;

/** The running totals of the session, one row per person; `dirty` rows changed since they were last shipped. */
const TABLE = `CREATE TABLE IF NOT EXISTS engagement (
  session_id TEXT NOT NULL, user_id TEXT NOT NULL, hands_raised INTEGER NOT NULL DEFAULT 0, reactions INTEGER NOT NULL DEFAULT 0,
  stage_ms INTEGER NOT NULL DEFAULT 0, stage_since INTEGER, dirty INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (session_id, user_id))`;

interface EngagementRow extends Record<string, string | number | null> {
  session_id: string;
  user_id: string;
  hands_raised: number;
  reactions: number;
  stage_ms: number;
  stage_since: number | null;
}

/**
 * What each participant did in the live session beyond being there, for the attendance report: hands raised,
 * reactions sent and time on stage. The totals live in the object's SQLite (so hibernation or eviction loses
 * nothing) and go to D1 through the outbox as whole totals, not increments: the outbox sends a batch again when
 * D1's answer was lost, and a total written twice is still right where an increment would count twice.
 */
export class Engagement {
  private shipTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    /** The running live session's id (null between sessions). */
    private readonly sessionId: () => string | null,
    /** Called when changes start waiting, so the owner's alarm ships them if the object is evicted first. */
    private readonly onPending: (shipBy: number) => void,
  ) {
    storage.run(TABLE);
  }

  /** A hand went up (a hand already up raised again is not a new one; lowering is not counted). */
  handRaised(userId: string): void {
    this.add(userId, `hands_raised = hands_raised + 1`);
  }

  /** A reaction the user sent (counted before reactions are summed without their sender). */
  reacted(userId: string): void {
    this.add(userId, `reactions = reactions + 1`);
  }

  /** The user went on stage or off it (invite, revoke, leave, kick) at `at`. */
  stageChanged(userId: string, onStage: boolean, at: number): void {
    if (onStage) {
      this.add(userId, `stage_since = COALESCE(stage_since, ?)`, at);
      return;
    }
    const sessionId = this.sessionId();
    if (sessionId === null) return;
    this.storage.run(
      `UPDATE engagement SET stage_ms = stage_ms + MAX(0, ? - stage_since), stage_since = NULL, dirty = 1
       WHERE session_id = ? AND user_id = ? AND stage_since IS NOT NULL`,
      at,
      sessionId,
      userId,
    );
    this.pending();
  }

  /** The session ends at `at`: open stretches on stage close there, and the last totals go to the outbox now. */
  endSession(at: number): void {
    this.storage.run(`UPDATE engagement SET stage_ms = stage_ms + MAX(0, ? - stage_since), stage_since = NULL, dirty = 1 WHERE stage_since IS NOT NULL`, at);
    this.ship();
    this.storage.run(`DELETE FROM engagement`);
  }

  /** Moves every changed total into the outbox as one write. */
  ship(): void {
    if (this.shipTimer) clearTimeout(this.shipTimer);
    this.shipTimer = null;
    const rows = this.storage.all<EngagementRow>(
      `SELECT session_id, user_id, hands_raised, reactions, stage_ms, stage_since FROM engagement WHERE dirty = 1 ORDER BY session_id, user_id`,
    );
    if (rows.length === 0) return;
    this.outbox.add("engagement.totals", {
      totals: rows.map((row) => ({
        sessionId: row.session_id,
        userId: row.user_id,
        handsRaised: row.hands_raised,
        reactions: row.reactions,
        stageMs: row.stage_ms,
        stageSince: row.stage_since,
      })),
    });
    this.storage.run(`UPDATE engagement SET dirty = 0 WHERE dirty = 1`);
  }

  private add(userId: string, change: string, ...params: number[]): void {
    const sessionId = this.sessionId();
    if (sessionId === null) return;
    this.storage.run(`INSERT OR IGNORE INTO engagement (session_id, user_id) VALUES (?, ?)`, sessionId, userId);
    this.storage.run(`UPDATE engagement SET ${change}, dirty = 1 WHERE session_id = ? AND user_id = ?`, ...params, sessionId, userId);
    this.pending();
  }

  private pending(): void {
    if (this.shipTimer) return;
    this.shipTimer = setTimeout(() => this.ship(), ENGAGEMENT_SHIP_MS);
    this.onPending(Date.now() + ENGAGEMENT_SHIP_MS);
  }
}
