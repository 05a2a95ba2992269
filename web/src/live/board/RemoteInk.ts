import { createStore, produce } from "solid-js/store";
import { type BoardInk, surfaceKey } from "../../../../schema/protocol/board";
import type { ClassChannel } from "../class-channel";

/** A stroke someone else is drawing right now. */
export interface InkStroke {
  strokeId: string;
  userId: string;
  key: string;
  type: BoardInk["type"];
  color: string;
  width: number;
  points: number[];
  done: boolean;
  lastAt: number;
}

/** A finished laser trail fades after this long; a finished stroke waits this long at most for its shape. */
const LASER_FADE_MS = 1_000;
const DONE_KEEP_MS = 4_000;
/** A stroke whose drawer went silent this long (a dropped connection) is let go. */
const STALE_MS = 6_000;

/**
 * Strokes others are drawing, assembled from the `board.ink` batches the class relays as they are drawn, so the
 * class sees a line grow under the pen. A stroke leaves when its shape arrives as an op (the shape takes its
 * place), when a laser trail fades, or when its drawer goes silent. This browser's own strokes (echoed to its
 * other sockets) are ignored: it draws them itself.
 */
export class RemoteInk {
  readonly strokes: InkStroke[];
  private readonly setStrokes: (fn: (list: InkStroke[]) => void) => void;
  private readonly unsubscribe: () => void;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    channel: ClassChannel,
    private readonly isMine: (strokeId: string) => boolean,
  ) {
    const [strokes, setStrokes] = createStore<InkStroke[]>([]);
    this.strokes = strokes;
    this.setStrokes = (fn) => setStrokes(produce(fn));
    this.unsubscribe = channel.onInk((userId, ink) => this.receive(userId, ink));
    this.sweeper = setInterval(() => this.sweep(), 500);
  }

  /** The shape with this id arrived: its stroke in progress is no longer needed. */
  landed(shapeIds: Set<string>): void {
    if (this.strokes.some((stroke) => shapeIds.has(stroke.strokeId))) this.setStrokes((list) => removeWhere(list, (stroke) => shapeIds.has(stroke.strokeId)));
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.sweeper);
  }

  private receive(userId: string, ink: BoardInk): void {
    if (this.isMine(ink.strokeId)) return;
    const now = Date.now();
    this.setStrokes((list) => {
      const stroke = list.find((item) => item.strokeId === ink.strokeId);
      if (stroke) {
        stroke.points.push(...ink.points);
        stroke.done = ink.done;
        stroke.lastAt = now;
      } else {
        list.push({
          strokeId: ink.strokeId,
          userId,
          key: surfaceKey(ink.surface),
          type: ink.type,
          color: ink.color,
          width: ink.width,
          points: [...ink.points],
          done: ink.done,
          lastAt: now,
        });
      }
    });
  }

  private sweep(): void {
    const now = Date.now();
    const gone = (stroke: InkStroke) => now - stroke.lastAt > (stroke.done ? (stroke.type === "laser" ? LASER_FADE_MS : DONE_KEEP_MS) : STALE_MS);
    if (this.strokes.some(gone)) this.setStrokes((list) => removeWhere(list, gone));
  }
}

function removeWhere<T>(list: T[], test: (item: T) => boolean): void {
  for (let i = list.length - 1; i >= 0; i--) if (test(list[i]!)) list.splice(i, 1);
}
