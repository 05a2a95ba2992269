import type { ClassMarkKind } from "../schema/db";
import type { Outbox } from "./outbox";
import type { RoomStorage } from "./storage";

/**
 * A mark shown by the same person within this long after their previous one replaces it. A teacher flipping
 * through ten pages in two seconds to reach page 11 meant page 11: a chapter list with one entry per flipped
 * page would bury the pages that were taught. The rule chains: each mark within 3 s of the one before (by the
 * same user, in the same session) takes that mark's place, its label and its time; a mark after a pause of
 * 3 s or more, or by someone else, stands on its own.
 */
export const MARK_REPLACE_WITHIN_MS = 3_000;

/** The last mark written, kept so the next one can replace it (in `board_state`, with the board's other state). */
interface LastMark {
  id: string;
  sessionId: string | null;
  userId: string | null;
  at: number;
}

/**
 * Who started the screen share running now (`board_state` key `sharing`), or who is on stage (key `stage:<user>`),
 * kept so the end is marked once.
 */
interface Sharing {
  sessionId: string | null;
  userId: string;
  name: string;
}

export interface MarkInput {
  kind: ClassMarkKind;
  label: string;
  surface: string | null;
  userId: string | null;
}

/**
 * The moments of a live session a viewer may want to jump to (a page shown, a share started or ended, the board hidden,
 * a student brought on stage or off it),
 * shipped to D1 `class_marks` through the class object's outbox. A replaced mark is written again under the same
 * id (an upsert), so D1 keeps one row whichever of the writes it saw last.
 */
export class ClassMarks {
  constructor(
    private readonly classId: () => string,
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    /** The running live session's id (null between sessions). */
    private readonly sessionId: () => string | null,
  ) {}

  /** A screen share started: marked ("Screen share by Ana"), and remembered for {@link screenShareEnded}. */
  screenShareStarted(userId: string, name: string, now: number): void {
    const sharing: Sharing = { sessionId: this.sessionId(), userId, name };
    this.storage.run(`INSERT OR REPLACE INTO board_state (key, value) VALUES ('sharing', ?)`, JSON.stringify(sharing));
    this.record({ kind: "screen-share", label: `Screen share by ${name}`, surface: null, userId }, now);
  }

  /**
   * Nobody shares a screen any more. The media map says so whenever producers go and no share is left, so only
   * the end of a share this session marked is marked ("Screen share by Ana ended"), once.
   */
  screenShareEnded(now: number): void {
    const raw = this.storage.one<{ value: string }>(`SELECT value FROM board_state WHERE key = 'sharing'`)?.value;
    if (!raw) return;
    this.storage.run(`DELETE FROM board_state WHERE key = 'sharing'`);
    const sharing = JSON.parse(raw) as Sharing;
    if (sharing.sessionId !== this.sessionId()) return;
    this.record({ kind: "screen-share-ended", label: `Screen share by ${sharing.name} ended`, surface: null, userId: sharing.userId }, now);
  }

  /**
   * A student was brought on stage (the invitation reached the nodes): marked ("Ana on stage"), and remembered
   * so that {@link stageLeft} marks the end of this stretch only.
   */
  stageJoined(userId: string, name: string, now: number): void {
    const marked = this.storage.one<{ value: string }>(`SELECT value FROM board_state WHERE key = ?`, stageKey(userId))?.value;
    // Invited again while on stage: the stretch goes on, no second chapter.
    if (marked && (JSON.parse(marked) as Sharing).sessionId === this.sessionId()) return;
    const onStage: Sharing = { sessionId: this.sessionId(), userId, name };
    this.storage.run(`INSERT OR REPLACE INTO board_state (key, value) VALUES (?, ?)`, stageKey(userId), JSON.stringify(onStage));
    this.record({ kind: "stage", label: `${name} on stage`, surface: null, userId }, now);
  }

  /**
   * The user is off the stage (taken off, or gone from the class). Only a stretch this session marked ends with a
   * mark ("Ana left the stage"), once: an invitation the nodes refused is taken back without a chapter.
   */
  stageLeft(userId: string, now: number): void {
    const raw = this.storage.one<{ value: string }>(`SELECT value FROM board_state WHERE key = ?`, stageKey(userId))?.value;
    if (!raw) return;
    this.storage.run(`DELETE FROM board_state WHERE key = ?`, stageKey(userId));
    const onStage = JSON.parse(raw) as Sharing;
    if (onStage.sessionId !== this.sessionId()) return;
    this.record({ kind: "stage-ended", label: `${onStage.name} left the stage`, surface: null, userId }, now);
  }

  record(mark: MarkInput, now: number): void {
    const sessionId = this.sessionId();
    const raw = this.storage.one<{ value: string }>(`SELECT value FROM board_state WHERE key = 'last_mark'`)?.value;
    const last = raw ? (JSON.parse(raw) as LastMark) : null;
    const replaces = last !== null && last.sessionId === sessionId && last.userId === mark.userId && now - last.at < MARK_REPLACE_WITHIN_MS;
    const id = replaces ? last.id : crypto.randomUUID();
    const next: LastMark = { id, sessionId, userId: mark.userId, at: now };
    this.storage.run(`INSERT OR REPLACE INTO board_state (key, value) VALUES ('last_mark', ?)`, JSON.stringify(next));
    this.outbox.add("mark.upsert", {
      id,
      classId: this.classId(),
      liveSessionId: sessionId,
      kind: mark.kind,
      label: mark.label,
      surface: mark.surface,
      userId: mark.userId,
      at: now,
    });
  }
}

/** The `board_state` key remembering a marked stretch on stage. */
function stageKey(userId: string): string {
  return `stage:${userId}`;
}
