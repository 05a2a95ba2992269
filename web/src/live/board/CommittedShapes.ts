import { unwrap } from "solid-js/store";
import type { Shape } from "../../../../schema/protocol/board";
import { BOARD_UNITS, paintShape, TEXT_FONT, textSize } from "./shape-geometry";

const SVG = "http://www.w3.org/2000/svg";
/** Shapes the eraser is about to take away are drawn this faint. */
const FADED_OPACITY = 0.3;

interface Drawn {
  /** The shape the element was made from (the store's plain object: a changed shape is a new object). */
  shape: Shape;
  element: SVGElement;
  /** The element's own opacity (the highlighter is see-through), before fading. */
  opacity: number;
  faded: boolean;
}

/**
 * The shapes committed to a surface, drawn into one SVG group without a reactive component per shape. A page may
 * hold thousands of strokes: a component each (a memo and an effect per attribute) made a late joiner's first
 * render take seconds, most of it the garbage those left (bench/board-render.ts). Here each shape's element is
 * made once, from the plain shape (not through the store's proxies), and kept while the shape object is the same;
 * a render only adds, removes, reorders and fades what changed.
 */
export class CommittedShapes {
  private readonly drawn = new Map<string, Drawn>();
  private aspect = 0;

  constructor(private readonly group: SVGGElement) {}

  render(entries: { shape: Shape; userId: string }[], aspect: number, erasing: Set<string>): void {
    if (aspect !== this.aspect) {
      // Every outline depends on the page's proportions.
      for (const { element } of this.drawn.values()) element.remove();
      this.drawn.clear();
      this.aspect = aspect;
    }
    const keep = new Set<string>();
    let cursor = this.group.firstChild;
    for (const entry of entries) {
      const shape = unwrap(entry.shape);
      keep.add(shape.id);
      let drawn = this.drawn.get(shape.id);
      if (drawn && drawn.shape !== shape) {
        if (cursor === drawn.element) cursor = cursor.nextSibling;
        drawn.element.remove();
        drawn = undefined;
      }
      if (!drawn) {
        drawn = this.create(shape, entry.userId, aspect);
        this.drawn.set(shape.id, drawn);
      }
      const faded = erasing.has(shape.id);
      if (faded !== drawn.faded) {
        drawn.faded = faded;
        drawn.element.setAttribute("opacity", String(drawn.opacity * (faded ? FADED_OPACITY : 1)));
      }
      if (drawn.element === cursor) cursor = cursor.nextSibling;
      else this.group.insertBefore(drawn.element, cursor);
    }
    for (const [id, { element }] of this.drawn) {
      if (keep.has(id)) continue;
      element.remove();
      this.drawn.delete(id);
    }
  }

  private create(shape: Shape, userId: string, aspect: number): Drawn {
    const element = shape.type === "text" ? this.text(shape, aspect) : this.path(shape, aspect);
    element.setAttribute("data-shape-id", shape.id);
    element.setAttribute("data-user-id", userId);
    const opacity = Number(element.getAttribute("opacity") ?? 1);
    return { shape, element, opacity, faded: false };
  }

  private path(shape: Shape, aspect: number): SVGElement {
    const paint = paintShape(shape, aspect);
    const element = document.createElementNS(SVG, "path");
    element.setAttribute("d", paint?.d ?? "");
    element.setAttribute("fill", paint?.mode === "fill" ? shape.color : "none");
    element.setAttribute("stroke", paint?.mode === "stroke" ? shape.color : "none");
    element.setAttribute("stroke-width", String(paint?.strokeWidth ?? 0));
    element.setAttribute("stroke-linecap", "round");
    element.setAttribute("stroke-linejoin", "round");
    element.setAttribute("opacity", String(paint?.opacity ?? 1));
    return element;
  }

  private text(shape: Shape, aspect: number): SVGElement {
    const element = document.createElementNS(SVG, "text");
    element.setAttribute("x", String((shape.points[0] ?? 0) * BOARD_UNITS));
    element.setAttribute("y", String(((shape.points[1] ?? 0) * BOARD_UNITS) / aspect));
    element.setAttribute("fill", shape.color);
    element.setAttribute("font-size", String(textSize(shape.width)));
    element.setAttribute("font-family", TEXT_FONT);
    element.setAttribute("dominant-baseline", "hanging");
    element.setAttribute("style", "white-space: pre");
    element.setAttribute("opacity", "1");
    element.textContent = shape.text ?? "";
    return element;
  }
}
