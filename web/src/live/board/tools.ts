/** The board's tools: what a press on the page does. */
export const BOARD_TOOLS = ["pen", "highlighter", "line", "arrow", "rect", "ellipse", "text", "eraser", "laser", "hand"] as const;
export type BoardTool = (typeof BOARD_TOOLS)[number];

export const TOOL_LABELS: Record<BoardTool, { label: string; icon: string; shortcut?: string }> = {
  pen: { label: "Pen", icon: "✎", shortcut: "P" },
  highlighter: { label: "Highlighter", icon: "▮", shortcut: "H" },
  line: { label: "Line", icon: "╱" },
  arrow: { label: "Arrow", icon: "➚" },
  rect: { label: "Rectangle", icon: "▭" },
  ellipse: { label: "Ellipse", icon: "◯" },
  text: { label: "Text", icon: "T", shortcut: "T" },
  eraser: { label: "Eraser", icon: "⌫", shortcut: "E" },
  laser: { label: "Laser pointer", icon: "✦" },
  hand: { label: "Move the page (zoomed in)", icon: "✋", shortcut: "Space" },
};

/** Tools that are not a stroke: the text tool opens a text box, the hand moves the presenter's view. */
export const NON_STROKE_TOOLS: ReadonlySet<BoardTool> = new Set(["text", "hand"]);
/** Tools only the presenter has: moving the view is the class's view. */
export const PRESENTER_TOOLS: ReadonlySet<BoardTool> = new Set(["hand"]);

/** Tools whose shape is its first and last point (a drag from corner to corner). */
export const TWO_POINT_TOOLS: ReadonlySet<BoardTool> = new Set(["line", "arrow", "rect", "ellipse"]);

export const BOARD_COLORS = [
  { value: "#1f1f1f", name: "Black" },
  { value: "#d32f2f", name: "Red" },
  { value: "#1565c0", name: "Blue" },
  { value: "#2e7d32", name: "Green" },
  { value: "#f9a825", name: "Yellow" },
  { value: "#ffffff", name: "White" },
] as const;

/** Stroke widths as fractions of the surface width: fine, medium, bold. */
export const BOARD_WIDTHS = [
  { value: 0.003, name: "Thin" },
  { value: 0.006, name: "Medium" },
  { value: 0.012, name: "Thick" },
] as const;
