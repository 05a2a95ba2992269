import { onMount, type JSX } from "solid-js";
import { BOARD_LIMITS } from "../../../../schema/protocol/board";
import { BOARD_UNITS, TEXT_FONT, textSize } from "./shape-geometry";

/** Where a text box was opened: the page point (fractions) of its top-left corner, and its colour and size. */
export interface TextPlacement {
  x: number;
  y: number;
  color: string;
  width: number;
}

/**
 * The text box the text tool opens where the page was clicked or tapped, drawn in the same font and size as
 * the text will be on the page. Enter, or clicking away, commits what was typed (nothing when empty); Escape
 * cancels. It sits inside the zoomed page, so it is placed and sized in the page's own CSS pixels.
 */
export function TextBox(props: { at: TextPlacement; pageWidth: number; onCommit: (text: string) => void; onCancel: () => void }): JSX.Element {
  let input!: HTMLInputElement;
  let finished = false;
  const finish = (commit: boolean) => {
    if (finished) return;
    finished = true;
    const text = input.value.trim();
    if (commit && text !== "") props.onCommit(text);
    else props.onCancel();
  };
  // Focused once it is in the page (the pointer that opened it is still down on the drawing layer).
  onMount(() => setTimeout(() => input.focus(), 0));
  return (
    <input
      ref={input}
      type="text"
      class="board__text-input"
      aria-label="Text on the page"
      data-testid="board-text-input"
      maxLength={BOARD_LIMITS.maxTextLength}
      style={{
        left: `${props.at.x * 100}%`,
        top: `${props.at.y * 100}%`,
        color: props.at.color,
        "font-family": TEXT_FONT,
        "font-size": `${(textSize(props.at.width) / BOARD_UNITS) * props.pageWidth}px`,
      }}
      onKeyDown={(event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          finish(true);
        } else if (event.key === "Escape") {
          event.preventDefault();
          finish(false);
        }
      }}
      onBlur={() => finish(true)}
      onPointerDown={(event) => event.stopPropagation()}
    />
  );
}

/** The extent of a text on the page (fractions of width and height), measured in the font it is drawn in. */
export function textExtent(text: string, width: number, aspect: number): { width: number; height: number } {
  const size = textSize(width);
  const context = document.createElement("canvas").getContext("2d");
  let measured = text.length * size * 0.55;
  if (context) {
    context.font = `${size}px ${TEXT_FONT}`;
    measured = context.measureText(text).width;
  }
  return { width: measured / BOARD_UNITS, height: (size * 1.2 * aspect) / BOARD_UNITS };
}
