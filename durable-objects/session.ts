import type { SessionState } from "../schema/protocol/classroom";
import type { ClassIdentity } from "../schema/tokens/class-token";
import type { Outbox } from "./outbox";
import type { RoomStorage } from "./storage";

interface SessionRow extends Record<string, string | number | null> {
  id: string;
  class_id: string;
  occurrence_id: string | null;
  started_at: number;
  chat_locked: number;
  empty_since: number | null;
}

/** The live session of the class: from the first join until a moderator ends it or it stays empty for 10 minutes. */
export class LiveSession {
  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
  ) {}

  current(): SessionRow | null {
    return this.storage.one<SessionRow>(`SELECT * FROM session LIMIT 1`);
  }

  /** The running session, started now (and recorded in D1) when there is none. */
  ensure(identity: ClassIdentity, now: number): SessionRow {
    const existing = this.current();
    if (existing) return existing;
    const id = crypto.randomUUID();
    this.storage.run(`INSERT INTO session (id, class_id, occurrence_id, started_at) VALUES (?, ?, ?, ?)`, id, identity.classId, identity.occurrenceId, now);
    this.outbox.add("session.start", { id, classId: identity.classId, occurrenceId: identity.occurrenceId, startedAt: now });
    return this.current()!;
  }

  state(): SessionState | null {
    const row = this.current();
    return row ? { sessionId: row.id, startedAt: row.started_at, chatLocked: row.chat_locked === 1 } : null;
  }

  setChatLocked(locked: boolean): void {
    this.storage.run(`UPDATE session SET chat_locked = ?`, locked ? 1 : 0);
  }

  /** Marks when the room became empty (null = someone is in). */
  setEmptySince(at: number | null): void {
    // Only write on a change: this runs on every join.
    this.storage.run(`UPDATE session SET empty_since = ? WHERE empty_since IS NOT ?`, at, at);
  }
}
