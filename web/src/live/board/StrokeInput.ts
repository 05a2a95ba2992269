import { BOARD_LIMITS, type BoardInk, type BoardSurface, type Shape } from "../../../../schema/protocol/board";
import type { Drawable } from "./shape-geometry";
import { type BoardTool, TWO_POINT_TOOLS } from "./tools";

/** Ink batches go out at 25 Hz: a stroke grows smoothly on other screens without a frame per mouse event. */
const INK_INTERVAL_MS = 40;
/** How far from the pointer the eraser reaches, as a fraction of the surface width. */
export const ERASER_REACH = 0.012;

export interface StrokeInputOptions {
  canDraw(): boolean;
  tool(): BoardTool;
  color(): string;
  width(): number;
  surface(): BoardSurface | null;
  /** The user's own stroke in progress, drawn locally (null when none). */
  onLive(stroke: Drawable | null): void;
  sendInk(ink: BoardInk): void;
  /** A finished stroke (never for the laser). */
  commit(surface: BoardSurface, shape: Shape): void;
  /** The eraser passed over (x, y); `done` when it lifted. */
  erase(x: number, y: number, done: boolean): void;
}

interface Stroke {
  id: string;
  surface: BoardSurface;
  tool: Exclude<BoardTool, "eraser" | "text" | "hand">;
  color: string;
  width: number;
  points: number[];
  /** Points not yet sent as ink. */
  unsent: number[];
  pointerId: number;
}

/**
 * Turns pointer events on the page (mouse, pen with its pressure, touch) into strokes: the stroke is drawn
 * locally at once, streamed to the class as ink batches while it is drawn, and committed as one shape when the
 * pointer lifts. Stroke ids double as shape ids, so others swap the ink for the shape when it lands.
 */
export class StrokeInput {
  private stroke: Stroke | null = null;
  private erasing: number | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly ownStrokeIds = new Set<string>();
  /** Strokes whose first ink batch went out (a box then sends only its moving corner). */
  private readonly sentIds = new Set<string>();

  constructor(private readonly options: StrokeInputOptions) {}

  /** Whether a stroke id is this browser's (its echo from the class is ignored). */
  isMine(strokeId: string): boolean {
    return this.ownStrokeIds.has(strokeId);
  }

  down(event: PointerEvent, element: Element): void {
    if (!this.options.canDraw() || event.button !== 0 || this.stroke || this.erasing !== null) return;
    const surface = this.options.surface();
    if (!surface) return;
    event.preventDefault();
    element.setPointerCapture(event.pointerId);
    const [x, y] = this.position(event, element);
    const tool = this.options.tool();
    if (tool === "text" || tool === "hand") return;
    if (tool === "eraser") {
      this.erasing = event.pointerId;
      this.options.erase(x, y, false);
      return;
    }
    this.stroke = {
      id: crypto.randomUUID(),
      surface,
      tool,
      color: this.options.color(),
      width: this.options.width(),
      points: [],
      unsent: [],
      pointerId: event.pointerId,
    };
    this.ownStrokeIds.add(this.stroke.id);
    this.addPoint(x, y, this.pressure(event));
    this.timer = setInterval(() => this.flush(false), INK_INTERVAL_MS);
  }

  move(event: PointerEvent, element: Element): void {
    if (this.erasing === event.pointerId) {
      const [x, y] = this.position(event, element);
      this.options.erase(x, y, false);
      return;
    }
    const stroke = this.stroke;
    if (!stroke || stroke.pointerId !== event.pointerId) return;
    // Coalesced events carry the points the browser merged into this one: a fast stroke keeps its curve.
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const each of events.length > 0 ? events : [event]) {
      const [x, y] = this.position(each, element);
      this.addPoint(x, y, this.pressure(each));
    }
  }

  up(event: PointerEvent, element: Element): void {
    if (this.erasing === event.pointerId) {
      this.erasing = null;
      const [x, y] = this.position(event, element);
      this.options.erase(x, y, true);
      return;
    }
    if (this.stroke?.pointerId === event.pointerId) this.finish();
  }

  /** Ends a stroke that is being drawn (the page changed, the pen was taken). */
  cancel(): void {
    if (this.stroke) this.finish();
    this.erasing = null;
  }

  /** Drops the stroke being drawn without keeping it (a second finger came down: a pinch, not a stroke). */
  abort(): void {
    if (!this.stroke) return;
    // Others see the stroke end without a shape, and their preview of it fades.
    this.flush(true);
    this.stroke = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.options.onLive(null);
  }

  private finish(): void {
    const stroke = this.stroke!;
    this.flush(true);
    this.stroke = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (stroke.tool === "laser") {
      // The laser is seen while it moves and then fades; it leaves nothing on the page.
      setTimeout(() => {
        if (!this.stroke) this.options.onLive(null);
      }, 600);
      return;
    }
    this.options.onLive(null);
    // A pen taken away mid-stroke leaves nothing: the class would refuse the shape anyway.
    if (this.options.canDraw() && stroke.points.length >= (TWO_POINT_TOOLS.has(stroke.tool) ? 6 : 3)) {
      this.options.commit(stroke.surface, { id: stroke.id, type: stroke.tool, color: stroke.color, width: stroke.width, points: stroke.points });
    }
  }

  private addPoint(x: number, y: number, pressure: number): void {
    const stroke = this.stroke!;
    const point = [round(x), round(y), round(pressure)];
    if (TWO_POINT_TOOLS.has(stroke.tool)) {
      // A box or line is its first and last point; others see it follow the pointer from the last point sent.
      stroke.points = stroke.points.length === 0 ? point : [...stroke.points.slice(0, 3), ...point];
      stroke.unsent = this.sentIds.has(stroke.id) ? point : stroke.points.slice();
    } else {
      const last = stroke.points.length;
      if (last >= 3 && stroke.points[last - 3] === point[0] && stroke.points[last - 2] === point[1]) return;
      stroke.points.push(...point);
      stroke.unsent.push(...point);
    }
    this.options.onLive({ type: stroke.tool, color: stroke.color, width: stroke.width, points: stroke.points.slice() });
    // A very long freehand stroke is cut into shapes the class accepts; the next one starts where it ended.
    if (stroke.points.length >= BOARD_LIMITS.maxPointNumbers - 3) {
      this.finish();
      this.stroke = { ...stroke, id: crypto.randomUUID(), points: [], unsent: [] };
      this.ownStrokeIds.add(this.stroke.id);
      this.timer = setInterval(() => this.flush(false), INK_INTERVAL_MS);
      this.addPoint(x, y, pressure);
    }
    if (stroke.unsent.length >= BOARD_LIMITS.maxInkNumbers) this.flush(false);
  }

  private flush(done: boolean): void {
    const stroke = this.stroke;
    if (!stroke || (stroke.unsent.length === 0 && !done)) return;
    const points = stroke.unsent.splice(0, BOARD_LIMITS.maxInkNumbers);
    this.sentIds.add(stroke.id);
    this.options.sendInk({
      strokeId: stroke.id,
      surface: stroke.surface,
      type: stroke.tool,
      color: stroke.color,
      width: stroke.width,
      points,
      done: done && stroke.unsent.length === 0,
    });
    if (done && stroke.unsent.length > 0) this.flush(true);
  }

  private position(event: PointerEvent, element: Element): [number, number] {
    const box = element.getBoundingClientRect();
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }

  /** A pen's own pressure; mouse and touch report none worth using, so they get a flat 0.5 (simulated later). */
  private pressure(event: PointerEvent): number {
    return event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5;
  }
}

function clamp(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
