import { createEffect, createMemo, For, onMount, Show, type JSX } from "solid-js";
import type { Shape } from "../../../../schema/protocol/board";
import { CommittedShapes } from "./CommittedShapes";
import { BOARD_UNITS, type Drawable, paintShape, TEXT_FONT, textSize } from "./shape-geometry";

/** The laser pointer's trail: a bright stroke that is never stored. */
const LASER_COLOR = "#ff1744";

/**
 * The vector layer over the page: every shape of the surface, the strokes others are drawing, and the user's own
 * stroke in progress, in SVG whose user space is the surface (BOARD_UNITS across), so the drawing scales with
 * the page on every screen. Pointer events on it are the caller's (drawing). The committed shapes, which may be
 * thousands, are drawn by {@link CommittedShapes}; strokes in progress (others' and the user's own) are drawn in a
 * second SVG over it that lets the pointer through.
 */
export function ShapeLayer(props: {
  aspect: number;
  shapes: { shape: Shape; userId: string }[];
  strokes: { strokeId: string; userId: string; stroke: Drawable }[];
  live: Drawable | null;
  /** Shapes the eraser is about to remove (drawn faded). */
  erasing: Set<string>;
  cursor: string;
  /** Shown only (the board after class): a finger on it scrolls the page. */
  readOnly?: boolean;
  ref: (element: SVGSVGElement) => void;
  onPointerDown: (event: PointerEvent) => void;
  onPointerMove: (event: PointerEvent) => void;
  onPointerUp: (event: PointerEvent) => void;
}): JSX.Element {
  const height = () => BOARD_UNITS / props.aspect;
  let committed!: SVGGElement;
  onMount(() => {
    const layer = new CommittedShapes(committed);
    createEffect(() => layer.render(props.shapes, props.aspect, props.erasing));
  });
  const viewBox = () => `0 0 ${BOARD_UNITS} ${height()}`;
  return (
    <>
      <svg
        ref={props.ref}
        class="board__shapes"
        classList={{ "board__shapes--read-only": props.readOnly === true }}
        viewBox={viewBox()}
        preserveAspectRatio="none"
        style={{ cursor: props.cursor }}
        data-testid="board-shapes"
        onPointerDown={(event) => props.onPointerDown(event)}
        onPointerMove={(event) => props.onPointerMove(event)}
        onPointerUp={(event) => props.onPointerUp(event)}
        onPointerCancel={(event) => props.onPointerUp(event)}
      >
        <g ref={committed} />
      </svg>
      {/* Strokes in progress change up to 60 times a second; in a layer of their own, the browser repaints only
          them, not the thousands of committed shapes under them (bench/board-render.ts, frame times). */}
      <svg class="board__shapes board__ink" viewBox={viewBox()} preserveAspectRatio="none" data-testid="board-ink" aria-hidden="true">
        <For each={props.strokes}>
          {(entry) => (
            <ShapePath
              drawable={entry.stroke}
              aspect={props.aspect}
              faded={false}
              attributes={{ "data-stroke-id": entry.strokeId, "data-user-id": entry.userId }}
            />
          )}
        </For>
        <Show when={props.live}>{(live) => <ShapePath drawable={live()} aspect={props.aspect} faded={false} attributes={{ "data-live": "true" }} />}</Show>
      </svg>
    </>
  );
}

function ShapePath(props: { drawable: Drawable; aspect: number; faded: boolean; attributes: Record<string, string> }): JSX.Element {
  const color = () => (props.drawable.type === "laser" ? LASER_COLOR : props.drawable.color);
  const paint = createMemo(() => paintShape(props.drawable, props.aspect));
  return (
    <Show
      when={props.drawable.type !== "text"}
      fallback={
        <text
          {...props.attributes}
          x={(props.drawable.points[0] ?? 0) * BOARD_UNITS}
          y={((props.drawable.points[1] ?? 0) * BOARD_UNITS) / props.aspect}
          fill={color()}
          font-size={String(textSize(props.drawable.width))}
          font-family={TEXT_FONT}
          style={{ "white-space": "pre" }}
          dominant-baseline="hanging"
          opacity={props.faded ? 0.3 : 1}
        >
          {props.drawable.text ?? ""}
        </text>
      }
    >
      <path
        {...props.attributes}
        d={paint()?.d ?? ""}
        fill={paint()?.mode === "fill" ? color() : "none"}
        stroke={paint()?.mode === "stroke" ? color() : "none"}
        stroke-width={paint()?.strokeWidth ?? 0}
        stroke-linecap="round"
        stroke-linejoin="round"
        opacity={(paint()?.opacity ?? 1) * (props.faded ? 0.3 : 1)}
      />
    </Show>
  );
}
