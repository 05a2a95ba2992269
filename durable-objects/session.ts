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
  files_allowed: number;
  empty_since: number | null;
}

/** The live session of the class: from the first join until a moderator ends it or it stays empty for 10 minutes. */
export class LiveSession {
  /**
   * The row as last read or written (undefined: not read since the object woke up). A join reads it four times
   * (~1 ms of a join under load, bench/classroom.ts profile); every write to the table goes through this class,
   * except clearing the whole session, after which the owner calls {@link forget}.
   */
  private row: SessionRow | null | undefined;

  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
  ) {}

  current(): SessionRow | null {
    if (this.row === undefined) this.row = this.storage.one<SessionRow>(`SELECT * FROM session LIMIT 1`);
    return this.row;
  }

  /** The session table was cleared behind our back (the session ended): read it again next time. */
  forget(): void {
    this.row = undefined;
  }

  /** The running session, started now (and recorded in D1) when there is none. */
  ensure(identity: ClassIdentity, now: number): SessionRow {
    const existing = this.current();
    if (existing) return existing;
    const id = crypto.randomUUID();
    this.storage.run(`INSERT INTO session (id, class_id, occurrence_id, started_at) VALUES (?, ?, ?, ?)`, id, identity.classId, identity.occurrenceId, now);
    this.outbox.add("session.start", { id, classId: identity.classId, occurrenceId: identity.occurrenceId, startedAt: now });
    this.row = undefined;
    return this.current()!;
  }

  state(): SessionState | null {
    const row = this.current();
    return row ? { sessionId: row.id, startedAt: row.started_at, chatLocked: row.chat_locked === 1, filesAllowed: row.files_allowed === 1 } : null;
  }

  setChatLocked(locked: boolean): void {
    this.storage.run(`UPDATE session SET chat_locked = ?`, locked ? 1 : 0);
    this.row = undefined;
  }

  setFilesAllowed(allowed: boolean): void {
    this.storage.run(`UPDATE session SET files_allowed = ?`, allowed ? 1 : 0);
    this.row = undefined;
  }

  /** Marks when the room became empty (null = someone is in). */
  setEmptySince(at: number | null): void {
    // Only write on a change: this runs on every join.
    const row = this.current();
    if (!row || row.empty_since === at) return;
    this.storage.run(`UPDATE session SET empty_since = ?`, at);
    this.row = { ...row, empty_since: at };
  }
}
