/**
 * The Classroom's own SQLite storage: everything a live session needs to survive hibernation, eviction or a
 * restart (session state, participants, chat tail, polls and votes, mutes, recent blocks, the media map, the D1 outbox).
 */

/** Tables of the object's storage; created on start (idempotent). */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS session (
     id TEXT PRIMARY KEY, class_id TEXT NOT NULL, occurrence_id TEXT, started_at INTEGER NOT NULL,
     chat_locked INTEGER NOT NULL DEFAULT 0, empty_since INTEGER)`,
  `CREATE TABLE IF NOT EXISTS participants (
     user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL, attendance_id TEXT NOT NULL,
     joined_at INTEGER NOT NULL, present INTEGER NOT NULL, leave_due_at INTEGER, hand_raised_at INTEGER)`,
  `CREATE INDEX IF NOT EXISTS participants_leave_due ON participants(leave_due_at)`,
  `CREATE TABLE IF NOT EXISTS muted (user_id TEXT PRIMARY KEY)`,
  `CREATE TABLE IF NOT EXISTS recent_blocks (user_id TEXT PRIMARY KEY, until INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS chat (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, client_message_id TEXT NOT NULL, user_id TEXT NOT NULL,
     display_name TEXT NOT NULL, role TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
     UNIQUE (user_id, client_message_id))`,
  `CREATE TABLE IF NOT EXISTS polls (
     id TEXT PRIMARY KEY, question TEXT NOT NULL, multiple_choice INTEGER NOT NULL, anonymous INTEGER NOT NULL,
     status TEXT NOT NULL, created_at INTEGER NOT NULL, closes_at INTEGER, created_by TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS poll_options (id TEXT PRIMARY KEY, poll_id TEXT NOT NULL, position INTEGER NOT NULL, label TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS poll_votes (
     poll_id TEXT NOT NULL, option_id TEXT NOT NULL, user_id TEXT NOT NULL, display_name TEXT NOT NULL, created_at INTEGER NOT NULL,
     PRIMARY KEY (poll_id, option_id, user_id))`,
  `CREATE TABLE IF NOT EXISTS media_producers (
     producer_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, node_id TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
     paused INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS media_stage (user_id TEXT PRIMARY KEY)`,
  `CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL)`,
  // The board (board.ts): the op log (for order and idempotent resends), the shapes it leaves, its small state.
  `CREATE TABLE IF NOT EXISTS board_ops (
     op_seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, client_op_id TEXT NOT NULL, surface TEXT NOT NULL,
     op TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE (user_id, client_op_id))`,
  `CREATE TABLE IF NOT EXISTS board_shapes (
     surface TEXT NOT NULL, shape_id TEXT NOT NULL, user_id TEXT NOT NULL, shape TEXT NOT NULL, op_seq INTEGER NOT NULL,
     PRIMARY KEY (surface, shape_id))`,
  `CREATE TABLE IF NOT EXISTS board_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS board_pens (user_id TEXT PRIMARY KEY)`,
];

/**
 * Columns added after objects already existed: CREATE TABLE IF NOT EXISTS leaves an old table as it was, so each
 * is added on start, and "duplicate column" means the object has it already.
 */
const ADDED_COLUMNS = [
  // The shared file of a message, as JSON (ChatAttachment), or null.
  `ALTER TABLE chat ADD COLUMN attachment TEXT`,
  // Students may share files into chat (files.allow).
  `ALTER TABLE session ADD COLUMN files_allowed INTEGER NOT NULL DEFAULT 0`,
];

/** Chat messages kept in the object beyond the snapshot's tail, so resends stay idempotent for a while. */
const CHAT_TAIL_KEPT = 1000;

type SqlValue = string | number | null;
type Row = Record<string, SqlValue>;

/** Thin typed access to `ctx.storage.sql`. */
export class RoomStorage {
  constructor(private readonly sqlStorage: SqlStorage) {
    for (const statement of SCHEMA) sqlStorage.exec(statement);
    for (const statement of ADDED_COLUMNS) {
      try {
        sqlStorage.exec(statement);
      } catch (error) {
        if (!/duplicate column/i.test(String(error))) throw error;
      }
    }
  }

  all<T extends Row>(query: string, ...params: SqlValue[]): T[] {
    return this.sqlStorage.exec<T>(query, ...params).toArray();
  }

  one<T extends Row>(query: string, ...params: SqlValue[]): T | null {
    return this.all<T>(query, ...params)[0] ?? null;
  }

  run(query: string, ...params: SqlValue[]): void {
    this.sqlStorage.exec(query, ...params);
  }

  /** Keeps the chat table bounded; older messages are in D1. */
  pruneChat(): void {
    this.run(`DELETE FROM chat WHERE seq <= (SELECT MAX(seq) FROM chat) - ?`, CHAT_TAIL_KEPT);
  }

  /** Forgets everything of the ended session (the outbox and recent blocks stay). */
  clearSession(): void {
    for (const table of ["session", "participants", "muted", "chat", "polls", "poll_options", "poll_votes", "media_producers", "media_stage"])
      this.run(`DELETE FROM ${table}`);
  }
}
