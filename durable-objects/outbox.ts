import { and, eq, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import { attendance, blocks, boardOps, chatMessages, classMarks, liveSessions, pollOptions, polls, pollVotes, sessionEngagement } from "../schema/db";
import * as schema from "../schema/db";
import type { ChatAttachment } from "../schema/protocol/classroom";
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
  "chat.insert": {
    id: string;
    classId: string;
    sessionId: string;
    userId: string;
    clientMessageId: string;
    body: string;
    createdAt: number;
    attachment?: ChatAttachment | null;
  };
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
  "board.op": { classId: string; opSeq: number; userId: string; surface: string; op: string; createdAt: number };
  /** A chapter mark, or a later mark that replaces it under the same id (see durable-objects/marks.ts). */
  "mark.upsert": {
    id: string;
    classId: string;
    liveSessionId: string | null;
    kind: schema.ClassMarkKind;
    label: string;
    surface: string | null;
    userId: string | null;
    at: number;
  };
  /**
   * People's hands raised, reactions and time on stage in a session so far (see durable-objects/engagement.ts):
   * whole totals that replace what D1 holds, so a batch shipped twice changes nothing.
   */
  "engagement.totals": {
    totals: { sessionId: string; userId: string; handsRaised: number; reactions: number; stageMs: number; stageSince: number | null }[];
  };
}
export type OutboxKind = keyof OutboxWrites;

const BATCH_ROWS = 100;
/** D1 binds at most 100 values per statement; a `session_engagement` row takes 6. */
const ENGAGEMENT_ROWS_PER_STATEMENT = 16;
/** An `attendance` row of a join takes 4 (the columns of its leave stay null). */
const ATTENDANCE_JOINS_PER_STATEMENT = 25;
/** Ship soon after a write, so D1 readers (the API, reports) see it quickly, but batch bursts together. */
const FLUSH_DELAY_MS = 200;
/** After D1 failed to take a batch: wait this long, doubling per failure up to {@link RETRY_MAX_MS}. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/**
 * Errors that mean D1 looked at the statement and refused it (a constraint, a type, a statement it cannot
 * run): sending it again gives the same answer, so the row is dropped. Anything else — the network, an
 * overloaded or restarting database, a timeout — says nothing about the row, and the row waits for D1.
 */
const REFUSED_BY_D1 =
  /SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE|ERROR)\b|constraint failed|datatype mismatch|no such (table|column)|too many SQL variables|syntax error/i;

/** True when D1 refused the statement itself (see {@link REFUSED_BY_D1}), looking through wrapped causes. */
export function refusedByD1(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    if (REFUSED_BY_D1.test(String((cause as { message?: unknown }).message ?? cause))) return true;
  }
  return false;
}

/** D1 did not take a row for a reason that may pass (see {@link refusedByD1}); the row stays queued. */
class D1Unavailable extends Error {
  override name = "D1Unavailable";
}

export class Outbox {
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;
  /** Failed attempts in a row; 0 while D1 takes every batch. */
  private failures = 0;
  /**
   * While D1 is failing, no attempt before this time (epoch ms): neither the flush timer of a new write nor an
   * alarm hammers a database that is down, and every class does not retry in the same millisecond. In memory:
   * an object woken after eviction tries once at its first alarm and backs off again from there.
   */
  private retryAt = 0;
  private readonly db;

  constructor(
    private readonly storage: RoomStorage,
    d1: D1Database,
    /** Called after a write is queued, so the owner can make sure an alarm will flush it after eviction. */
    private readonly onQueued: () => void,
  ) {
    this.db = drizzle(d1, { schema });
  }

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

  /** While D1 is failing: the earliest time of the next attempt (the owner's alarm need not come sooner). */
  get nextAttemptAt(): number | null {
    return this.failures > 0 ? this.retryAt : null;
  }

  /**
   * Ships everything queued; concurrent callers share one run. Never throws: while D1 is failing the rows stay
   * queued and the next attempt is backed off (a call before then returns at once). The owner's alarm makes
   * that attempt (see {@link nextAttemptAt}); a timer here would keep the object from hibernating, for up to a
   * minute per wait, during an outage.
   */
  flush(): Promise<void> {
    if (Date.now() < this.retryAt) return Promise.resolve();
    this.flushing ??= this.drain()
      .then(
        () => this.recovered(),
        (error: unknown) => this.backOff(error),
      )
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private recovered(): void {
    if (this.failures > 0) console.log(JSON.stringify({ event: "classroom_outbox_recovered", failures: this.failures }));
    this.failures = 0;
    this.retryAt = 0;
  }

  private backOff(error: unknown): void {
    this.failures += 1;
    // Jitter (±25 %) spreads out the classes that lost D1 together, so they do not all come back at once.
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.failures - 1)) * (0.75 + Math.random() / 2);
    this.retryAt = Date.now() + delay;
    console.warn(
      JSON.stringify({
        event: "classroom_outbox_waiting_for_d1",
        pending: this.pending,
        failures: this.failures,
        retryInMs: Math.round(delay),
        error: String(error),
      }),
    );
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.storage.all<{ seq: number; kind: string; payload: string }>(`SELECT seq, kind, payload FROM outbox ORDER BY seq LIMIT ?`, BATCH_ROWS);
      if (rows.length === 0) return;
      const statements = this.batchStatements(rows);
      try {
        if (statements.length > 0) await this.db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
      } catch (error) {
        // D1 is down (or the network to it): the rows wait, in order, for the next attempt.
        if (!refusedByD1(error)) throw new D1Unavailable(String(error), { cause: error });
        // D1 refused something in the batch. One bad row must not hold back the others: retry row by row and
        // drop only the rows D1 refuses; if D1 goes away meanwhile, the rest waits as above.
        console.error(JSON.stringify({ event: "classroom_outbox_batch_failed", rows: rows.length, error: String(error) }));
        for (const row of rows) {
          const own = this.statements(row.kind as OutboxKind, JSON.parse(row.payload));
          try {
            if (own.length > 0) await this.db.batch(own as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
          } catch (rowError) {
            if (!refusedByD1(rowError)) throw new D1Unavailable(String(rowError), { cause: rowError });
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
   * The statements of a batch of rows, in their order. A run of joins becomes multi-row inserts: a class of 1,000
   * joining queues 1,000 `attendance.join` rows, which as one statement each cost D1 and the object's query
   * building a thousand statements where forty do.
   */
  private batchStatements(rows: { kind: string; payload: string }[]): BatchItem<"sqlite">[] {
    const statements: BatchItem<"sqlite">[] = [];
    let joins: OutboxWrites["attendance.join"][] = [];
    const addJoins = () => {
      for (let i = 0; i < joins.length; i += ATTENDANCE_JOINS_PER_STATEMENT)
        statements.push(
          this.db
            .insert(attendance)
            .values(joins.slice(i, i + ATTENDANCE_JOINS_PER_STATEMENT))
            .onConflictDoNothing(),
        );
      joins = [];
    };
    for (const row of rows) {
      if (row.kind === "attendance.join") {
        joins.push(JSON.parse(row.payload) as OutboxWrites["attendance.join"]);
        continue;
      }
      addJoins();
      statements.push(...this.statements(row.kind as OutboxKind, JSON.parse(row.payload)));
    }
    addJoins();
    return statements;
  }

  private statements<K extends OutboxKind>(kind: K, payload: OutboxWrites[K]): BatchItem<"sqlite">[] {
    const db = this.db;
    const p = payload as never as OutboxWrites[OutboxKind] & Record<string, unknown>;
    switch (kind) {
      case "session.start": {
        const w = p as OutboxWrites["session.start"];
        return [db.insert(liveSessions).values(w).onConflictDoNothing()];
      }
      case "session.end": {
        const w = p as OutboxWrites["session.end"];
        return [
          db
            .update(liveSessions)
            .set({ endedAt: w.endedAt, endedBy: w.endedBy, endReason: w.reason })
            .where(and(eq(liveSessions.id, w.id), isNull(liveSessions.endedAt))),
        ];
      }
      case "attendance.join": {
        const w = p as OutboxWrites["attendance.join"];
        return [db.insert(attendance).values(w).onConflictDoNothing()];
      }
      case "attendance.leave": {
        const w = p as OutboxWrites["attendance.leave"];
        return [db.update(attendance).set({ leftAt: w.leftAt, durationMs: w.durationMs, leaveReason: w.reason }).where(eq(attendance.id, w.id))];
      }
      case "chat.insert": {
        const w = p as OutboxWrites["chat.insert"];
        return [db.insert(chatMessages).values(w).onConflictDoNothing()];
      }
      case "chat.delete": {
        const w = p as OutboxWrites["chat.delete"];
        return [db.update(chatMessages).set({ deletedAt: w.deletedAt, deletedBy: w.deletedBy }).where(eq(chatMessages.id, w.id))];
      }
      case "poll.insert": {
        const { options, ...poll } = p as OutboxWrites["poll.insert"];
        return [
          db
            .insert(polls)
            .values({ ...poll, status: "open" })
            .onConflictDoNothing(),
          db
            .insert(pollOptions)
            .values(options.map((o) => ({ ...o, pollId: poll.id })))
            .onConflictDoNothing(),
        ];
      }
      case "poll.status": {
        const w = p as OutboxWrites["poll.status"];
        return [
          w.status === "closed"
            ? db.update(polls).set({ status: "closed", closedAt: w.at }).where(eq(polls.id, w.id))
            : db.update(polls).set({ status: "published", publishedAt: w.at }).where(eq(polls.id, w.id)),
        ];
      }
      case "poll.vote": {
        const w = p as OutboxWrites["poll.vote"];
        return [
          db.delete(pollVotes).where(and(eq(pollVotes.pollId, w.pollId), eq(pollVotes.userId, w.userId))),
          db.insert(pollVotes).values(w.optionIds.map((optionId) => ({ pollId: w.pollId, optionId, userId: w.userId, createdAt: w.createdAt }))),
        ];
      }
      case "block.insert": {
        const w = p as OutboxWrites["block.insert"];
        return [db.insert(blocks).values(w).onConflictDoNothing()];
      }
      case "board.op": {
        const w = p as OutboxWrites["board.op"];
        return [db.insert(boardOps).values(w).onConflictDoNothing()];
      }
      case "mark.upsert": {
        const w = p as OutboxWrites["mark.upsert"];
        return [
          db
            .insert(classMarks)
            .values(w)
            .onConflictDoUpdate({ target: classMarks.id, set: { kind: w.kind, label: w.label, surface: w.surface, userId: w.userId, at: w.at } }),
        ];
      }
      case "engagement.totals": {
        const w = p as OutboxWrites["engagement.totals"];
        const statements: BatchItem<"sqlite">[] = [];
        for (let i = 0; i < w.totals.length; i += ENGAGEMENT_ROWS_PER_STATEMENT) {
          statements.push(
            db
              .insert(sessionEngagement)
              .values(w.totals.slice(i, i + ENGAGEMENT_ROWS_PER_STATEMENT))
              .onConflictDoUpdate({
                target: [sessionEngagement.sessionId, sessionEngagement.userId],
                set: {
                  handsRaised: sql`excluded.hands_raised`,
                  reactions: sql`excluded.reactions`,
                  stageMs: sql`excluded.stage_ms`,
                  stageSince: sql`excluded.stage_since`,
                },
              }),
          );
        }
        return statements;
      }
      default:
        return assertNever(kind as never);
    }
  }
}

function assertNever(value: never): never {
  throw new Error(`Unknown outbox kind ${String(value)}`);
}
