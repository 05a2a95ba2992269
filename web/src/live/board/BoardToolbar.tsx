import { For, Show, type JSX } from "solid-js";
import { BOARD_COLORS, BOARD_WIDTHS, type BoardTool, TOOL_LABELS } from "./tools";

/** The drawing tools: tool, colour, width (also the text size), undo and redo, and (for teachers) clearing the page. */
export function BoardToolbar(props: {
  /** The tools this user has (moving the class's view is the presenter's). */
  tools: readonly BoardTool[];
  tool: BoardTool;
  color: string;
  width: number;
  canUndo: boolean;
  canRedo: boolean;
  canClear: boolean;
  onTool: (tool: BoardTool) => void;
  onColor: (color: string) => void;
  onWidth: (width: number) => void;
  onUndo: () => void;
  onRedo: () => void;
  onClear: () => void;
}): JSX.Element {
  return (
    <div class="board-toolbar row" role="toolbar" aria-label="Drawing tools">
      <span class="row board-toolbar__group">
        <For each={props.tools}>
          {(tool) => (
            <button
              type="button"
              class="button button--small board-toolbar__tool"
              aria-label={TOOL_LABELS[tool].label}
              aria-pressed={props.tool === tool}
              title={TOOL_LABELS[tool].shortcut ? `${TOOL_LABELS[tool].label} (${TOOL_LABELS[tool].shortcut})` : TOOL_LABELS[tool].label}
              onClick={() => props.onTool(tool)}
            >
              {TOOL_LABELS[tool].icon}
            </button>
          )}
        </For>
      </span>
      <span class="row board-toolbar__group">
        <For each={BOARD_COLORS}>
          {(color) => (
            <button
              type="button"
              class="board-toolbar__color"
              style={{ background: color.value }}
              aria-label={`Colour ${color.name}`}
              aria-pressed={props.color === color.value}
              onClick={() => props.onColor(color.value)}
            />
          )}
        </For>
      </span>
      <span class="row board-toolbar__group">
        <For each={BOARD_WIDTHS}>
          {(width) => (
            <button
              type="button"
              class="button button--small"
              aria-label={`Width ${width.name}`}
              aria-pressed={props.width === width.value}
              onClick={() => props.onWidth(width.value)}
            >
              <span class="board-toolbar__width" style={{ height: `${Math.round(width.value * 400)}px` }} />
            </button>
          )}
        </For>
      </span>
      <span class="row board-toolbar__group">
        <button type="button" class="button button--small" aria-label="Undo" title="Undo (Ctrl+Z)" disabled={!props.canUndo} onClick={() => props.onUndo()}>
          ↶
        </button>
        <button
          type="button"
          class="button button--small"
          aria-label="Redo"
          title="Redo (Shift+Ctrl+Z)"
          disabled={!props.canRedo}
          onClick={() => props.onRedo()}
        >
          ↷
        </button>
        <Show when={props.canClear}>
          <button type="button" class="button button--small button--danger" onClick={() => props.onClear()}>
            Clear page
          </button>
        </Show>
      </span>
    </div>
  );
}
