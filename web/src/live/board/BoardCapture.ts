import type { BoardView } from "../../../../schema/protocol/board";
import { BOARD_UNITS, type Drawable, paintShape, TEXT_FONT, textSize } from "./shape-geometry";

/** The board's picture for the recording: the composed recording's own size, so nothing is scaled twice. */
export const BOARD_CAPTURE_WIDTH = 1280;
export const BOARD_CAPTURE_HEIGHT = 720;
/** While something moves (a stroke, a shared screen's video) the picture is sent at up to this rate. */
export const BOARD_CAPTURE_MAX_FPS = 15;
/**
 * While nothing changes one frame goes out this often: the recorder's segments need pictures to start from, and
 * the pdf.js page (drawn asynchronously into its own canvas) is picked up without a signal of its own.
 */
export const BOARD_CAPTURE_IDLE_MS = 1000;

/** The laser pointer's trail, as the shape layer draws it. */
const LASER_COLOR = "#ff1744";

/** What the board shows, as the capture draws it. */
export interface BoardScene {
  /** The surface's picture: the pdf.js page canvas, the shared screen's video, or null for a blank page. */
  background: () => HTMLCanvasElement | HTMLVideoElement | null;
  /** A screen share moves by itself, so it is drawn at the full rate; a page only when something changes. */
  moving: boolean;
  /** Width / height of the surface. */
  aspect: number;
  /** The presenter's zoom and position: the recording shows the part of the page the class sees. */
  view: BoardView;
  drawables: readonly Drawable[];
}

/**
 * The presenter's board composed onto one 16:9 canvas (surface letterboxed on black, shapes over it) and sent as
 * a video track: `captureStream(0)` with `requestFrame()`, so a frame leaves only when the picture changed (at
 * most {@link BOARD_CAPTURE_MAX_FPS}) or once per {@link BOARD_CAPTURE_IDLE_MS}; a still slide costs one
 * frame a second instead of fifteen identical ones.
 */
export class BoardCapture {
  readonly track: MediaStreamTrack;
  readonly #canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #timer: ReturnType<typeof setInterval>;
  #scene: BoardScene | null = null;
  #dirty = true;
  #lastFrameAt = 0;
  #closed = false;
  /** Frames sent, for tests and diagnostics. */
  frames = 0;

  constructor() {
    this.#canvas = document.createElement("canvas");
    this.#canvas.width = BOARD_CAPTURE_WIDTH;
    this.#canvas.height = BOARD_CAPTURE_HEIGHT;
    this.#context = this.#canvas.getContext("2d")!;
    this.track = this.#canvas.captureStream(0).getVideoTracks()[0]!;
    // A slide's text and thin strokes matter more than motion: the encoder keeps resolution over frame rate.
    this.track.contentHint = "detail";
    // A timer rather than requestAnimationFrame: a presenter who switches tabs still records the board.
    this.#timer = setInterval(() => this.#tick(), 1000 / BOARD_CAPTURE_MAX_FPS);
    this.#draw();
  }

  /** The board changed: drawn with the next tick. */
  update(scene: BoardScene): void {
    this.#scene = scene;
    this.#dirty = true;
  }

  /** Stops drawing and ends the track. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.track.stop();
  }

  #tick(): void {
    if (this.#closed || this.track.readyState === "ended") return;
    const now = performance.now();
    if (!this.#dirty && !this.#scene?.moving && now - this.#lastFrameAt < BOARD_CAPTURE_IDLE_MS) return;
    this.#dirty = false;
    this.#lastFrameAt = now;
    this.#draw();
  }

  #draw(): void {
    const context = this.#context;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.globalAlpha = 1;
    context.fillStyle = "#000";
    context.fillRect(0, 0, BOARD_CAPTURE_WIDTH, BOARD_CAPTURE_HEIGHT);
    const scene = this.#scene;
    if (scene) {
      const width = Math.min(BOARD_CAPTURE_WIDTH, BOARD_CAPTURE_HEIGHT * scene.aspect);
      const height = width / scene.aspect;
      const x = (BOARD_CAPTURE_WIDTH - width) / 2;
      const y = (BOARD_CAPTURE_HEIGHT - height) / 2;
      const background = scene.background();
      if (!(background instanceof HTMLVideoElement)) {
        context.fillStyle = "#fff";
        context.fillRect(x, y, width, height);
      }
      // Zoomed in: the whole page is drawn larger, shifted so the view's corner is at the frame's, and clipped to it.
      const { zoom } = scene.view;
      const pageX = x - scene.view.x * width * zoom;
      const pageY = y - scene.view.y * height * zoom;
      context.save();
      context.beginPath();
      context.rect(x, y, width, height);
      context.clip();
      if (background instanceof HTMLVideoElement && background.videoWidth > 0) context.drawImage(background, pageX, pageY, width * zoom, height * zoom);
      if (background instanceof HTMLCanvasElement && background.width > 0 && background.height > 0)
        context.drawImage(background, pageX, pageY, width * zoom, height * zoom);
      // Shapes are in board units (BOARD_UNITS across), as in the SVG layer; one transform maps them onto the surface.
      const scale = (width * zoom) / BOARD_UNITS;
      context.setTransform(scale, 0, 0, scale, pageX, pageY);
      for (const drawable of scene.drawables) drawShape(context, drawable, scene.aspect);
      context.restore();
    }
    this.frames += 1;
    (this.track as CanvasCaptureMediaStreamTrack).requestFrame();
  }
}

function drawShape(context: CanvasRenderingContext2D, drawable: Drawable, aspect: number): void {
  const color = drawable.type === "laser" ? LASER_COLOR : drawable.color;
  if (drawable.type === "text") {
    context.globalAlpha = 1;
    context.fillStyle = color;
    context.font = `${textSize(drawable.width)}px ${TEXT_FONT}`;
    context.textBaseline = "hanging";
    context.fillText(drawable.text ?? "", (drawable.points[0] ?? 0) * BOARD_UNITS, ((drawable.points[1] ?? 0) * BOARD_UNITS) / aspect);
    return;
  }
  const paint = paintShape(drawable, aspect);
  if (!paint || paint.d === "") return;
  const path = new Path2D(paint.d);
  context.globalAlpha = paint.opacity;
  if (paint.mode === "fill") {
    context.fillStyle = color;
    context.fill(path);
  } else {
    context.strokeStyle = color;
    context.lineWidth = paint.strokeWidth;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.stroke(path);
  }
  context.globalAlpha = 1;
}
