import {
  BOARD_LIMITS,
  type BoardInk,
  type BoardOp,
  type BoardOpEntry,
  type BoardPresenter,
  type BoardState,
  type BoardSurface,
  type BoardSurfaceState,
  type BoardView,
  type Shape,
  surfaceKey,
} from "../schema/protocol/board";
import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import type { Outbox } from "./outbox";
import { ChannelError } from "./errors";
import type { ClassMarks } from "./marks";
import type { RoomStorage } from "./storage";

/** Ops kept in the object beyond what any resend could still ask about (they are all in the shapes table). */
const OPS_KEPT = 5_000;
const DEFAULT_VIEW: BoardView = { zoom: 1, x: 0, y: 0 };

interface ShapeRow extends Record<string, string | number | null> {
  shape_id: string;
  user_id: string;
  shape: string;
}

/** Checks that a deck belongs to the class and returns its page count and title (null when it does not). */
export type DeckPages = (deckId: string) => Promise<{ pages: number; title: string } | null>;

/** Sends a frame to every participant socket but the drawer's (implemented by the Classroom). */
export type SendInk = (fromUserId: string, frame: string) => void;

/**
 * The board of the class: the presenter's surface and view, who holds a pen, and every shape on every surface.
 * Shapes change only through ops this object accepts: each gets the next `opSeq` and is stored (the op log and
 * the shapes it leaves) in the same synchronous SQLite turn, so an eviction loses nothing and a resend of a
 * `clientOpId` is answered from the log instead of being applied twice. The board stays with the class across
 * sessions (a deck keeps its annotations for next week); the presenter, the pens and the screen annotations
 * belong to one session.
 */
export class Board {
  constructor(
    /** The class's id (the object's name, known once the first request arrived). */
    private readonly classId: () => string,
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly broadcaster: Broadcaster,
    private readonly deckPages: DeckPages,
    private readonly sendInk: SendInk,
    private readonly marks: ClassMarks,
  ) {}

  state(): BoardState {
    const presenter = this.presenter();
    return { presenter, pens: this.pens(), blankPages: this.blankPages(), current: presenter ? this.surfaceState(surfaceKey(presenter.surface)) : null };
  }

  /** Applies one op (or answers the op a resend of `clientOpId` already made). */
  apply(caller: ClassIdentity, clientOpId: string, surface: BoardSurface, op: BoardOp, now: number): number {
    const earlier = this.storage.one<{ op_seq: number }>(`SELECT op_seq FROM board_ops WHERE user_id = ? AND client_op_id = ?`, caller.userId, clientOpId);
    if (earlier) return earlier.op_seq;
    this.requirePen(caller, surface);
    const key = surfaceKey(surface);
    const moderator = isModerator(caller.role);
    switch (op.type) {
      case "add": {
        if (this.shapeOwner(key, op.shape.id) !== null) throw new ChannelError("CONFLICT", "A shape with this id is already on the page");
        const count = this.storage.one<{ n: number }>(`SELECT COUNT(*) AS n FROM board_shapes WHERE surface = ?`, key)?.n ?? 0;
        if (count >= BOARD_LIMITS.maxShapesPerSurface)
          throw new ChannelError("CONFLICT", `This page holds ${BOARD_LIMITS.maxShapesPerSurface} shapes; clear some or add a page`);
        break;
      }
      case "update": {
        const owner = this.shapeOwner(key, op.shape.id);
        if (owner === null) throw new ChannelError("NOT_FOUND", "That shape is no longer on the page");
        if (owner !== caller.userId && !moderator) throw new ChannelError("FORBIDDEN", "You may change only your own drawings");
        break;
      }
      case "delete": {
        for (const id of op.shapeIds) {
          const owner = this.shapeOwner(key, id);
          if (owner !== null && owner !== caller.userId && !moderator) throw new ChannelError("FORBIDDEN", "You may erase only your own drawings");
        }
        break;
      }
      case "clear":
        if (!moderator) throw new ChannelError("FORBIDDEN", "Only teachers clear a page");
        break;
    }
    this.storage.run(
      `INSERT INTO board_ops (user_id, client_op_id, surface, op, at) VALUES (?, ?, ?, ?, ?)`,
      caller.userId,
      clientOpId,
      key,
      JSON.stringify(op),
      now,
    );
    const opSeq = this.storage.one<{ seq: number }>(`SELECT last_insert_rowid() AS seq`)!.seq;
    this.applyToShapes(key, caller.userId, op, opSeq);
    this.storage.run(`DELETE FROM board_ops WHERE op_seq <= ?`, opSeq - OPS_KEPT);
    this.accepted({ opSeq, userId: caller.userId, surface: key, op, at: now });
    return opSeq;
  }

  /** Passes a stroke in progress on to everyone else at once; nothing is stored. */
  ink(caller: ClassIdentity, ink: BoardInk): void {
    this.requirePen(caller, ink.surface);
    this.sendInk(caller.userId, JSON.stringify({ notification: "board.ink", data: { userId: caller.userId, ink } }));
  }

  async show(caller: ClassIdentity, surface: BoardSurface, view: BoardView | undefined, now: number): Promise<BoardPresenter> {
    let deckTitle = "";
    if (surface.kind === "deck") {
      const deck = await this.deckPages(surface.deckId);
      if (deck === null) throw new ChannelError("NOT_FOUND", "No such deck in this class");
      if (surface.page > deck.pages) throw new ChannelError("INVALID_MESSAGE", `The deck has ${deck.pages} pages`);
      deckTitle = deck.title;
    }
    let blankPages = this.blankPages();
    if (surface.kind === "blank") {
      if (surface.page > blankPages + 1) throw new ChannelError("INVALID_MESSAGE", `Add blank pages one at a time (next: ${blankPages + 1})`);
      if (surface.page === blankPages + 1) {
        blankPages = surface.page;
        this.setValue("blank_pages", String(blankPages));
      }
    }
    const before = this.presenter();
    const presenter: BoardPresenter = { surface, view: view ?? DEFAULT_VIEW, since: now };
    this.setValue("presenter", JSON.stringify(presenter));
    this.broadcaster.emit({ type: "board.presenter", presenter, blankPages });
    // A chapter per page shown (the screen's own mark is its share starting); showing the same page again is none.
    const key = surfaceKey(surface);
    if (!before || surfaceKey(before.surface) !== key) {
      if (surface.kind === "deck") this.marks.record({ kind: "page", label: `${deckTitle} — page ${surface.page}`, surface: key, userId: caller.userId }, now);
      if (surface.kind === "blank") this.marks.record({ kind: "blank", label: `Whiteboard page ${surface.page}`, surface: key, userId: caller.userId }, now);
    }
    return presenter;
  }

  /**
   * Moves the presenter's view (zoom and the top-left corner, in page fractions); everyone following sees the
   * same part of the page. The corner is kept where the zoomed view still lies on the page.
   */
  setView(view: BoardView): BoardPresenter {
    const current = this.presenter();
    if (!current) throw new ChannelError("CONFLICT", "Show the board before zooming");
    const reach = 1 - 1 / view.zoom;
    const presenter: BoardPresenter = { ...current, view: { zoom: view.zoom, x: Math.min(view.x, reach), y: Math.min(view.y, reach) } };
    this.setValue("presenter", JSON.stringify(presenter));
    this.broadcaster.emit({ type: "board.presenter", presenter, blankPages: this.blankPages() });
    return presenter;
  }

  hide(caller: ClassIdentity, now: number): void {
    const shown = this.presenter() !== null;
    this.storage.run(`DELETE FROM board_state WHERE key = 'presenter'`);
    this.broadcaster.emit({ type: "board.presenter", presenter: null, blankPages: this.blankPages() });
    if (shown) this.marks.record({ kind: "board-hidden", label: "Board hidden", surface: null, userId: caller.userId }, now);
  }

  setPen(userId: string, allowed: boolean): string[] {
    if (allowed) this.storage.run(`INSERT OR IGNORE INTO board_pens (user_id) VALUES (?)`, userId);
    else this.storage.run(`DELETE FROM board_pens WHERE user_id = ?`, userId);
    const pens = this.pens();
    this.broadcaster.emit({ type: "board.pens", pens });
    return pens;
  }

  /** A participant left for good: a pen they held is taken back. */
  userLeft(userId: string): void {
    if (this.storage.one(`SELECT user_id FROM board_pens WHERE user_id = ?`, userId)) this.setPen(userId, false);
  }

  /** The screen share ended: what was drawn over it goes with it (as one op, so every board agrees). */
  screenShareEnded(now: number): void {
    if (this.storage.one(`SELECT shape_id FROM board_shapes WHERE surface = 'screen' LIMIT 1`) === null) return;
    const op: BoardOp = { type: "clear" };
    this.storage.run(
      `INSERT INTO board_ops (user_id, client_op_id, surface, op, at) VALUES ('', ?, 'screen', ?, ?)`,
      `screen-ended-${now}-${crypto.randomUUID()}`,
      JSON.stringify(op),
      now,
    );
    const opSeq = this.storage.one<{ seq: number }>(`SELECT last_insert_rowid() AS seq`)!.seq;
    this.applyToShapes("screen", "", op, opSeq);
    this.accepted({ opSeq, userId: "", surface: "screen", op, at: now });
  }

  /** An op took effect: everyone is told, and it goes to D1 (through the outbox) so the board outlives the class. */
  private accepted(entry: BoardOpEntry): void {
    this.broadcaster.emit({ type: "board.op", entry });
    this.outbox.add("board.op", {
      classId: this.classId(),
      opSeq: entry.opSeq,
      userId: entry.userId,
      surface: entry.surface,
      op: JSON.stringify(entry.op),
      createdAt: entry.at,
    });
  }

  surfaceState(key: string): BoardSurfaceState {
    const rows = this.storage.all<ShapeRow>(`SELECT shape_id, user_id, shape FROM board_shapes WHERE surface = ? ORDER BY op_seq, rowid`, key);
    const opSeq = this.storage.one<{ seq: number | null }>(`SELECT MAX(op_seq) AS seq FROM board_ops`)?.seq ?? 0;
    return { surface: key, opSeq, shapes: rows.map((row) => ({ shape: JSON.parse(row.shape) as Shape, userId: row.user_id })) };
  }

  /** The session ended: the presenter, the pens and the screen annotations go; decks and blank pages stay. */
  endSession(): void {
    for (const statement of [`DELETE FROM board_state WHERE key = 'presenter'`, `DELETE FROM board_pens`, `DELETE FROM board_shapes WHERE surface = 'screen'`])
      this.storage.run(statement);
  }

  private applyToShapes(key: string, userId: string, op: BoardOp, opSeq: number): void {
    switch (op.type) {
      case "add":
        this.storage.run(
          `INSERT INTO board_shapes (surface, shape_id, user_id, shape, op_seq) VALUES (?, ?, ?, ?, ?)`,
          key,
          op.shape.id,
          userId,
          JSON.stringify(op.shape),
          opSeq,
        );
        break;
      case "update":
        this.storage.run(`UPDATE board_shapes SET shape = ?, op_seq = ? WHERE surface = ? AND shape_id = ?`, JSON.stringify(op.shape), opSeq, key, op.shape.id);
        break;
      case "delete":
        for (const id of op.shapeIds) this.storage.run(`DELETE FROM board_shapes WHERE surface = ? AND shape_id = ?`, key, id);
        break;
      case "clear":
        this.storage.run(`DELETE FROM board_shapes WHERE surface = ?`, key);
        break;
    }
  }

  /** Teachers and admins always draw; a student only with a pen, and only where the presenter is. */
  private requirePen(caller: ClassIdentity, surface: BoardSurface): void {
    if (isModerator(caller.role)) return;
    if (this.storage.one(`SELECT user_id FROM board_pens WHERE user_id = ?`, caller.userId) === null)
      throw new ChannelError("FORBIDDEN", "The teacher has not given you the pen");
    const presenter = this.presenter();
    if (!presenter || surfaceKey(presenter.surface) !== surfaceKey(surface)) throw new ChannelError("FORBIDDEN", "Draw on the page the teacher is showing");
  }

  private shapeOwner(key: string, shapeId: string): string | null {
    return this.storage.one<{ user_id: string }>(`SELECT user_id FROM board_shapes WHERE surface = ? AND shape_id = ?`, key, shapeId)?.user_id ?? null;
  }

  private presenter(): BoardPresenter | null {
    const raw = this.value("presenter");
    return raw ? (JSON.parse(raw) as BoardPresenter) : null;
  }

  private pens(): string[] {
    return this.storage.all<{ user_id: string }>(`SELECT user_id FROM board_pens ORDER BY rowid`).map((row) => row.user_id);
  }

  private blankPages(): number {
    return Number(this.value("blank_pages") ?? 0);
  }

  private value(key: string): string | null {
    return this.storage.one<{ value: string }>(`SELECT value FROM board_state WHERE key = ?`, key)?.value ?? null;
  }

  private setValue(key: string, value: string): void {
    this.storage.run(`INSERT OR REPLACE INTO board_state (key, value) VALUES (?, ?)`, key, value);
  }
}
