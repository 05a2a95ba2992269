import type { RoomStorage } from "./storage";

/**
 * Every write meant for D1, by kind. The object first stores it in its own SQLite (the same transaction as the
 * change it describes), then ships batches to D1; a row leaves the outbox only after D1 accepted it, so an
 * eviction or restart loses nothing. Every write is idempotent, so shipping a batch twice is harmless.
 */
export interface OutboxWrites {
  "session.start": { id: string; classId: string; occurrenceId: string | null; startedAt: number };
  "session.end": { id: string; endedAt: number; endedBy: string | null; reason: string };
  "attendance.join": { id: string; sessionId: string; userId: string; joinedAt: number };
  "attendance.leave": { id: string; leftAt: number; durationMs: number; reason: string };
  "chat.insert": { id: string; classId: string; sessionId: string; userId: string; clientMessageId: string; body: string; createdAt: number };
  "chat.delete": { id: string; deletedAt: number; deletedBy: string };
  "poll.insert": {
    id: string;
    classId: string;
    sessionId: string;
    createdBy: string;
    question: string;
    multipleChoice: boolean;
    anonymous: boolean;
    closesAt: number | null;
    createdAt: number;
    options: { id: string; position: number; label: string }[];
  };
  "poll.status": { id: string; status: "closed" | "published"; at: number };
  "poll.vote": { pollId: string; userId: string; optionIds: string[]; createdAt: number };
  "block.insert": { id: string; userId: string; classId: string; reason: string; blockedBy: string; createdAt: number };
}
export type OutboxKind = keyof OutboxWrites;

const BATCH_ROWS = 100;
/** Ship soon after a write, so D1 readers (the API, reports) see it quickly, but batch bursts together. */
const FLUSH_DELAY_MS = 200;

export class Outbox {
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly d1: D1Database,
    /** Called after a write is queued, so the owner can make sure an alarm will flush it after eviction. */
    private readonly onQueued: () => void,
  ) {}

  add<K extends OutboxKind>(kind: K, payload: OutboxWrites[K]): void {
    this.storage.run(`INSERT INTO outbox (kind, payload) VALUES (?, ?)`, kind, JSON.stringify(payload));
    this.onQueued();
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, FLUSH_DELAY_MS);
  }

  get pending(): number {
    return this.storage.one<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`)?.n ?? 0;
  }

  /** Ships everything queued; concurrent callers share one run. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.storage.all<{ seq: number; kind: string; payload: string }>(`SELECT seq, kind, payload FROM outbox ORDER BY seq LIMIT ?`, BATCH_ROWS);
      if (rows.length === 0) return;
      const statements = rows.flatMap((row) => this.statements(row.kind as OutboxKind, JSON.parse(row.payload)));
      try {
        if (statements.length > 0) await this.d1.batch(statements);
      } catch (error) {
        // One bad row must not hold back the others: retry row by row and drop only the rows D1 refuses.
        console.error(JSON.stringify({ event: "classroom_outbox_batch_failed", rows: rows.length, error: String(error) }));
        for (const row of rows) {
          const own = this.statements(row.kind as OutboxKind, JSON.parse(row.payload));
          try {
            if (own.length > 0) await this.d1.batch(own);
          } catch (rowError) {
            console.error(JSON.stringify({ event: "classroom_outbox_row_dropped", kind: row.kind, payload: row.payload, error: String(rowError) }));
          }
          this.storage.run(`DELETE FROM outbox WHERE seq = ?`, row.seq);
        }
        continue;
      }
      this.storage.run(`DELETE FROM outbox WHERE seq <= ?`, rows[rows.length - 1]!.seq);
    }
  }

  /**
   * The statements of one write, in raw SQL: drizzle rebuilt its query objects for every row shipped (≈ 0.2 ms
   * each, one attendance row per joiner; bench/classroom.ts profile). The SQL is what drizzle generated for the
   * same writes; absent optional values are bound as NULL as drizzle did.
   */
  private statements<K extends OutboxKind>(kind: K, payload: OutboxWrites[K]): D1PreparedStatement[] {
    const p = payload as never as OutboxWrites[OutboxKind] & Record<string, unknown>;
    switch (kind) {
      case "session.start": {
        const w = p as OutboxWrites["session.start"];
        return [
          this.d1.prepare(
            `INSERT INTO live_sessions (id, class_id, occurrence_id, started_at, ended_at, ended_by, end_reason) VALUES (?, ?, ?, ?, NULL, NULL, NULL) ON CONFLICT DO NOTHING`,
          ).bind(w.id, w.classId, w.occurrenceId ?? null, w.startedAt),
        ];
      }
      case "session.end": {
        const w = p as OutboxWrites["session.end"];
        return [
          this.d1.prepare(`UPDATE live_sessions SET ended_at = ?, ended_by = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`).bind(w.endedAt, w.endedBy ?? null, w.reason, w.id),
        ];
      }
      case "attendance.join": {
        const w = p as OutboxWrites["attendance.join"];
        return [
          this.d1.prepare(
            `INSERT INTO attendance (id, session_id, user_id, joined_at, left_at, duration_ms, leave_reason) VALUES (?, ?, ?, ?, NULL, NULL, NULL) ON CONFLICT DO NOTHING`,
          ).bind(w.id, w.sessionId, w.userId, w.joinedAt),
        ];
      }
      case "attendance.leave": {
        const w = p as OutboxWrites["attendance.leave"];
        return [this.d1.prepare(`UPDATE attendance SET left_at = ?, duration_ms = ?, leave_reason = ? WHERE id = ?`).bind(w.leftAt, w.durationMs, w.reason, w.id)];
      }
      case "chat.insert": {
        const w = p as OutboxWrites["chat.insert"];
        return [
          this.d1.prepare(
            `INSERT INTO chat_messages (id, class_id, session_id, user_id, client_message_id, body, created_at, deleted_at, deleted_by) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT DO NOTHING`,
          ).bind(w.id, w.classId, w.sessionId ?? null, w.userId, w.clientMessageId, w.body, w.createdAt),
        ];
      }
      case "chat.delete": {
        const w = p as OutboxWrites["chat.delete"];
        return [this.d1.prepare(`UPDATE chat_messages SET deleted_at = ?, deleted_by = ? WHERE id = ?`).bind(w.deletedAt, w.deletedBy ?? null, w.id)];
      }
      case "poll.insert": {
        const { options, ...poll } = p as OutboxWrites["poll.insert"];
        const statements = [
          this.d1.prepare(
            `INSERT INTO polls (id, class_id, session_id, created_by, question, multiple_choice, anonymous, status, closes_at, created_at, closed_at, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, NULL, NULL) ON CONFLICT DO NOTHING`,
          ).bind(poll.id, poll.classId, poll.sessionId ?? null, poll.createdBy, poll.question, poll.multipleChoice ? 1 : 0, poll.anonymous ? 1 : 0, poll.closesAt ?? null, poll.createdAt),
        ];
        if (options.length > 0) {
          statements.push(
            this.d1.prepare(`INSERT INTO poll_options (id, poll_id, position, label) VALUES ${options.map(() => "(?, ?, ?, ?)").join(", ")} ON CONFLICT DO NOTHING`).bind(
              ...options.flatMap((o) => [o.id, poll.id, o.position, o.label]),
            ),
          );
        }
        return statements;
      }
      case "poll.status": {
        const w = p as OutboxWrites["poll.status"];
        return [
          w.status === "closed"
            ? this.d1.prepare(`UPDATE polls SET status = 'closed', closed_at = ? WHERE id = ?`).bind(w.at, w.id)
            : this.d1.prepare(`UPDATE polls SET status = 'published', published_at = ? WHERE id = ?`).bind(w.at, w.id),
        ];
      }
      case "poll.vote": {
        const w = p as OutboxWrites["poll.vote"];
        const statements = [this.d1.prepare(`DELETE FROM poll_votes WHERE poll_id = ? AND user_id = ?`).bind(w.pollId, w.userId)];
        if (w.optionIds.length > 0) {
          statements.push(
            this.d1.prepare(`INSERT INTO poll_votes (poll_id, option_id, user_id, created_at) VALUES ${w.optionIds.map(() => "(?, ?, ?, ?)").join(", ")}`).bind(
              ...w.optionIds.flatMap((optionId) => [w.pollId, optionId, w.userId, w.createdAt]),
            ),
          );
        }
        return statements;
      }
      case "block.insert": {
        const w = p as OutboxWrites["block.insert"];
        return [
          this.d1.prepare(
            `INSERT INTO blocks (id, user_id, class_id, reason, blocked_by, created_at, expires_at, lifted_at, lifted_by) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL) ON CONFLICT DO NOTHING`,
          ).bind(w.id, w.userId, w.classId, w.reason, w.blockedBy, w.createdAt),
        ];
      }
      default:
        return assertNever(kind as never);
    }
  }
}

function assertNever(value: never): never {
  throw new Error(`Unknown outbox kind ${String(value)}`);
}
