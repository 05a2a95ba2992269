import { getStroke } from "perfect-freehand";
import type { Shape } from "../../../../schema/protocol/board";

/**
 * The SVG user space a board is drawn in: 1000 units across, and as tall as the surface's aspect makes it.
 * Shapes are stored in fractions of the surface, so every screen scales the same drawing; perfect-freehand's
 * tuning (noise thresholds in pixels) works best at a size like this rather than in 0…1.
 */
export const BOARD_UNITS = 1000;

/** What a shape needs to be drawn: the shape as stored, or a stroke still being drawn (same fields). */
export type Drawable = Pick<Shape, "color" | "width" | "points" | "text"> & { type: Shape["type"] | "laser" };

/**
 * A text's font size in board units: it follows the width chosen for the pen (thin, medium, thick make small,
 * medium and large text), in fractions of the surface width, so it is the same size on every screen.
 */
export function textSize(width: number): number {
  return Math.max(12, width * BOARD_UNITS * 8);
}

/** The font texts are drawn in, everywhere (the SVG layer, the text box being typed, the recording). */
export const TEXT_FONT = "sans-serif";

export interface ShapePaint {
  /** Path data in board units. */
  d: string;
  /** Filled outline (freehand strokes) or a stroked path (lines, boxes). */
  mode: "fill" | "stroke";
  strokeWidth: number;
  opacity: number;
}

/** The highlighter is a broad, see-through pen so the page stays readable under it. */
const HIGHLIGHTER_SCALE = 4;
const HIGHLIGHTER_OPACITY = 0.35;

/** Turns a shape into SVG path data in board units (height = BOARD_UNITS / aspect). */
export function paintShape(shape: Drawable, aspect: number): ShapePaint | null {
  const height = BOARD_UNITS / aspect;
  const xy = (index: number): [number, number] => [shape.points[index * 3]! * BOARD_UNITS, shape.points[index * 3 + 1]! * height];
  const count = Math.floor(shape.points.length / 3);
  if (count === 0) return null;
  const size = shape.width * BOARD_UNITS;
  if (shape.type === "pen" || shape.type === "highlighter" || shape.type === "laser") {
    const input: [number, number, number][] = [];
    for (let i = 0; i < count; i++) input.push([...xy(i), shape.points[i * 3 + 2]!]);
    const highlighter = shape.type === "highlighter";
    // Mouse and touch report a flat 0.5; a real pen reports its pressure, which then shapes the line.
    const flat = input.every((point) => point[2] === 0.5);
    const outline = getStroke(input, {
      size: highlighter ? size * HIGHLIGHTER_SCALE : size,
      thinning: highlighter ? 0 : 0.5,
      smoothing: 0.5,
      streamline: 0.4,
      simulatePressure: flat && !highlighter,
      last: true,
    });
    return { d: outlinePath(outline), mode: "fill", strokeWidth: 0, opacity: highlighter ? HIGHLIGHTER_OPACITY : 1 };
  }
  const [x1, y1] = xy(0);
  const [x2, y2] = xy(count - 1);
  switch (shape.type) {
    case "line":
      return { d: `M${x1} ${y1}L${x2} ${y2}`, mode: "stroke", strokeWidth: size, opacity: 1 };
    case "arrow": {
      const angle = Math.atan2(y2 - y1, x2 - x1);
      const head = Math.max(size * 4, 12);
      const wing = (turn: number) => `${x2 - head * Math.cos(angle + turn)} ${y2 - head * Math.sin(angle + turn)}`;
      return { d: `M${x1} ${y1}L${x2} ${y2}M${wing(0.45)}L${x2} ${y2}L${wing(-0.45)}`, mode: "stroke", strokeWidth: size, opacity: 1 };
    }
    case "rect":
      return { d: `M${x1} ${y1}H${x2}V${y2}H${x1}Z`, mode: "stroke", strokeWidth: size, opacity: 1 };
    case "ellipse": {
      const rx = Math.abs(x2 - x1) / 2;
      const ry = Math.abs(y2 - y1) / 2;
      const cx = (x1 + x2) / 2;
      const cy = (y1 + y2) / 2;
      return { d: `M${cx - rx} ${cy}A${rx} ${ry} 0 1 0 ${cx + rx} ${cy}A${rx} ${ry} 0 1 0 ${cx - rx} ${cy}Z`, mode: "stroke", strokeWidth: size, opacity: 1 };
    }
    case "text":
      return null;
  }
}

/**
 * The outline as path data, each number to a tenth of a board unit (a tenth of a pixel on a 1000-pixel board): full
 * doubles made the path text three times longer, and a page of thousands of strokes spent its first render parsing
 * and collecting that text.
 */
function outlinePath(outline: number[][]): string {
  if (outline.length < 2) return "";
  let d = `M${outline[0]![0]!.toFixed(1)} ${outline[0]![1]!.toFixed(1)}`;
  for (let i = 1; i < outline.length; i++) d += `L${outline[i]![0]!.toFixed(1)} ${outline[i]![1]!.toFixed(1)}`;
  return `${d}Z`;
}

/**
 * The shape's outline as line segments in surface fractions, scaled so that distances are measured in the
 * same unit across and down (x in widths, y in widths too): what the eraser tests the pointer against.
 */
function segments(shape: Shape, aspect: number): [number, number][] {
  const count = Math.floor(shape.points.length / 3);
  const at = (i: number): [number, number] => [shape.points[i * 3]!, shape.points[i * 3 + 1]! / aspect];
  if (count === 0) return [];
  const [x1, y1] = at(0);
  const [x2, y2] = at(count - 1);
  switch (shape.type) {
    case "rect":
    case "text":
      return [
        [x1, y1],
        [x2, y1],
        [x2, y2],
        [x1, y2],
        [x1, y1],
      ];
    case "ellipse": {
      const points: [number, number][] = [];
      for (let i = 0; i <= 32; i++) {
        const t = (i / 32) * 2 * Math.PI;
        points.push([(x1 + x2) / 2 + (Math.abs(x2 - x1) / 2) * Math.cos(t), (y1 + y2) / 2 + (Math.abs(y2 - y1) / 2) * Math.sin(t)]);
      }
      return points;
    }
    case "line":
    case "arrow":
      return [
        [x1, y1],
        [x2, y2],
      ];
    default:
      return Array.from({ length: count }, (_, i) => at(i));
  }
}

/** Whether the point (surface fractions) touches the shape, within `reach` (a fraction of the surface width). */
export function shapeHit(shape: Shape, aspect: number, x: number, y: number, reach: number): boolean {
  const line = segments(shape, aspect);
  const py = y / aspect;
  // A text is touched anywhere inside its box (its first and last point), not only on the box's edge.
  if (shape.type === "text" && line.length === 5) {
    const [[x1, y1], , [x2, y2]] = line as [[number, number], [number, number], [number, number]];
    if (x >= Math.min(x1, x2) - reach && x <= Math.max(x1, x2) + reach && py >= Math.min(y1, y2) - reach && py <= Math.max(y1, y2) + reach) return true;
  }
  const tolerance = reach + (shape.type === "highlighter" ? shape.width * HIGHLIGHTER_SCALE : shape.width) / 2;
  if (line.length === 1) return Math.hypot(line[0]![0] - x, line[0]![1] - py) <= tolerance;
  for (let i = 1; i < line.length; i++) if (distanceToSegment(x, py, line[i - 1]!, line[i]!) <= tolerance) return true;
  return false;
}

function distanceToSegment(px: number, py: number, [ax, ay]: [number, number], [bx, by]: [number, number]): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / lengthSquared));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
