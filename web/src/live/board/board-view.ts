import type { BoardView } from "../../../../schema/protocol/board";

/**
 * The presenter's view of a page: `zoom` (1…8) and the top-left corner of what is seen, in page fractions. A
 * point of the frame at fraction (fx, fy) shows the page point (x + fx / zoom, y + fy / zoom); shapes stay in
 * page fractions, so they stay where they belong at any zoom.
 */
export const FIT_VIEW: BoardView = { zoom: 1, x: 0, y: 0 };
export const MAX_ZOOM = 8;
/** One press of "Zoom in" / "Zoom out". */
export const ZOOM_STEP = 1.5;
/** View changes go out at most this often while a pinch or drag goes on (about 10 a second); the last always. */
export const VIEW_SEND_INTERVAL_MS = 100;

/** The view with zoom in 1…8 and its corner where the zoomed view still lies on the page (as the class object keeps it). */
export function clampView(view: BoardView): BoardView {
  const zoom = round(Math.min(MAX_ZOOM, Math.max(1, view.zoom)));
  const reach = 1 - 1 / zoom;
  // Rounded down, so the corner never passes the reach the class object checks it against.
  const place = (value: number) => Math.floor(Math.min(reach, Math.max(0, value)) * 10_000) / 10_000;
  return { zoom, x: place(view.x), y: place(view.y) };
}

/** Zooms to `zoom` keeping the page point under the frame fraction (fx, fy) where it is. */
export function zoomAround(view: BoardView, zoom: number, fx: number, fy: number): BoardView {
  const next = Math.min(MAX_ZOOM, Math.max(1, zoom));
  return clampView({ zoom: next, x: view.x + fx / view.zoom - fx / next, y: view.y + fy / view.zoom - fy / next });
}

/** Moves the page with a drag of (dx, dy) frame fractions: the page follows the pointer. */
export function panBy(view: BoardView, dx: number, dy: number): BoardView {
  return clampView({ zoom: view.zoom, x: view.x - dx / view.zoom, y: view.y - dy / view.zoom });
}

export function sameView(a: BoardView, b: BoardView): boolean {
  return a.zoom === b.zoom && a.x === b.x && a.y === b.y;
}

/** The CSS transform of the page's content inside its frame (origin at the top-left). */
export function viewTransform(view: BoardView): string {
  return `scale(${view.zoom}) translate(${-view.x * 100}%, ${-view.y * 100}%)`;
}

/**
 * Sends the presenter's view at most every {@link VIEW_SEND_INTERVAL_MS}: the first change at once, the changes
 * in between collapsed into the latest, which goes out when the interval ends, so the final view always arrives.
 */
export class ViewSender {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #waiting: BoardView | null = null;
  #lastSentAt = 0;

  constructor(private readonly send: (view: BoardView) => void) {}

  change(view: BoardView): void {
    this.#waiting = view;
    if (this.#timer) return;
    const wait = this.#lastSentAt + VIEW_SEND_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), wait);
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#waiting = null;
  }

  #flush(): void {
    this.#timer = null;
    const view = this.#waiting;
    this.#waiting = null;
    if (!view) return;
    this.#lastSentAt = Date.now();
    this.send(view);
  }
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
