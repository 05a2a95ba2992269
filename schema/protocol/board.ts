import * as v from "valibot";

/**
 * The board of a class: the presenter's surface (a deck page, a blank whiteboard page, or the shared screen) and
 * every shape drawn on each surface. The class object is its single authority: shapes change only through ops
 * it accepts, orders (`opSeq`) and stores; browsers render. Coordinates are fractions of the surface (0…1 of its
 * width and height), so every screen size, the phone and the recording put a shape in the same place.
 */

export const BOARD_LIMITS = {
  /** Numbers in one shape's `points` (x, y, pressure triples): a long handwritten stroke fits, a flood does not. */
  maxPointNumbers: 6000,
  /** Numbers in one `board.ink` batch (the stroke in progress since the last batch). */
  maxInkNumbers: 1500,
  maxTextLength: 500,
  /** Blank whiteboard pages a class may add. */
  maxBlankPages: 200,
  /** Shapes on one surface; far past what a lesson draws (BigBlueButton caps at 300 per slide). */
  maxShapesPerSurface: 20_000,
  /** Ids of shapes deleted by one op (an eraser sweep). */
  maxDeleteIds: 500,
} as const;

/**
 * A blank whiteboard page is always this shape (width / height), on every screen and in the recording, so a
 * drawing in page fractions looks the same everywhere; 16:9 like most projectors and screens.
 */
export const BLANK_PAGE_ASPECT = 16 / 9;

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
/**
 * x, y, pressure triples in surface fractions (-1…2: a stroke may start a little off the page). One check over the
 * whole list instead of a pipe per number: a late joiner's snapshot carries every point of the page (5,000 strokes
 * are about 1.5 million numbers), and a pipe per number was most of the browser's work in that join.
 */
function pointList(min: number, max: number) {
  return v.pipe(
    v.custom<number[]>(
      (value) => Array.isArray(value) && value.every((n) => typeof n === "number" && n >= -1 && n <= 2),
      "Points are numbers between -1 and 2 (fractions of the page)",
    ),
    v.minLength(min),
    v.maxLength(max),
    v.check((points) => points.length % 3 === 0, "Points come in x, y, pressure triples"),
  );
}

/** Where shapes live: one page of a deck, one blank whiteboard page, or the screen being shared. */
export const BoardSurfaceSchema = v.variant("kind", [
  v.strictObject({ kind: v.literal("deck"), deckId: Id, page: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)) }),
  v.strictObject({ kind: v.literal("blank"), page: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(BOARD_LIMITS.maxBlankPages)) }),
  v.strictObject({ kind: v.literal("screen") }),
]);
export type BoardSurface = v.InferOutput<typeof BoardSurfaceSchema>;

/** One string per surface, for storage and maps: `deck:<id>:<page>`, `blank:<page>`, `screen`. */
export function surfaceKey(surface: BoardSurface): string {
  switch (surface.kind) {
    case "deck":
      return `deck:${surface.deckId}:${surface.page}`;
    case "blank":
      return `blank:${surface.page}`;
    case "screen":
      return "screen";
  }
}

export const SHAPE_TYPES = ["pen", "highlighter", "line", "arrow", "rect", "ellipse", "text"] as const;
export type ShapeType = (typeof SHAPE_TYPES)[number];

/**
 * A shape. `points` are x, y, pressure triples in surface fractions (a line or box uses its first and last
 * point); `width` is a fraction of the surface width; `id` is chosen by the drawer's browser.
 */
export const ShapeSchema = v.strictObject({
  id: Id,
  type: v.picklist(SHAPE_TYPES),
  color: v.pipe(v.string(), v.regex(/^#[0-9a-f]{6}$/i, "Colours are #rrggbb")),
  width: v.pipe(v.number(), v.minValue(0.0005), v.maxValue(0.1)),
  points: pointList(3, BOARD_LIMITS.maxPointNumbers),
  text: v.optional(v.pipe(v.string(), v.maxLength(BOARD_LIMITS.maxTextLength))),
});
export type Shape = v.InferOutput<typeof ShapeSchema>;

/** A change to one surface: add or replace a shape, delete shapes (eraser, undo), clear the surface. */
export const BoardOpSchema = v.variant("type", [
  v.strictObject({ type: v.literal("add"), shape: ShapeSchema }),
  v.strictObject({ type: v.literal("update"), shape: ShapeSchema }),
  v.strictObject({ type: v.literal("delete"), shapeIds: v.pipe(v.array(Id), v.minLength(1), v.maxLength(BOARD_LIMITS.maxDeleteIds)) }),
  v.strictObject({ type: v.literal("clear") }),
]);
export type BoardOp = v.InferOutput<typeof BoardOpSchema>;

/** An op as the object accepted it: its place in the board's order, who made it, and on which surface. */
export const BoardOpEntrySchema = v.object({ opSeq: v.number(), userId: v.string(), surface: v.string(), op: BoardOpSchema, at: v.number() });
export type BoardOpEntry = v.InferOutput<typeof BoardOpEntrySchema>;

/** What the presenter shows: the surface and the part of it in view (zoom ≥ 1; x, y of the view's top-left). */
export const BoardViewSchema = v.strictObject({
  zoom: v.pipe(v.number(), v.minValue(1), v.maxValue(8)),
  x: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  y: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
});
export type BoardView = v.InferOutput<typeof BoardViewSchema>;

export const BoardPresenterSchema = v.object({ surface: BoardSurfaceSchema, view: BoardViewSchema, since: v.number() });
export type BoardPresenter = v.InferOutput<typeof BoardPresenterSchema>;

/** A surface's shapes as they stand after every accepted op up to `opSeq`. */
export const BoardSurfaceStateSchema = v.object({
  surface: v.string(),
  opSeq: v.number(),
  shapes: v.array(v.object({ shape: ShapeSchema, userId: v.string() })),
});
export type BoardSurfaceState = v.InferOutput<typeof BoardSurfaceStateSchema>;

/** The board in a snapshot: the presenter's surface with everything on it, who holds a pen, the blank pages. */
export const BoardStateSchema = v.object({
  presenter: v.nullable(BoardPresenterSchema),
  /** Students who may draw now (teachers and admins always may). */
  pens: v.array(v.string()),
  blankPages: v.number(),
  /** The presenter's surface, so a late joiner sees it drawn at once; other surfaces come from `board.fetch`. */
  current: v.nullable(BoardSurfaceStateSchema),
});
export type BoardState = v.InferOutput<typeof BoardStateSchema>;

/** A stroke in progress (or the laser pointer), sent on while it is drawn and never stored. */
export const BoardInkSchema = v.strictObject({
  strokeId: Id,
  surface: BoardSurfaceSchema,
  type: v.picklist([...SHAPE_TYPES, "laser"]),
  color: v.pipe(v.string(), v.regex(/^#[0-9a-f]{6}$/i)),
  width: v.pipe(v.number(), v.minValue(0.0005), v.maxValue(0.1)),
  /** Points since the last batch of this stroke (x, y, pressure triples). */
  points: pointList(0, BOARD_LIMITS.maxInkNumbers),
  /** The pen lifted: the stroke's shape follows as a `board.op` (or, for the laser, it fades). */
  done: v.optional(v.boolean(), false),
});
export type BoardInk = v.InferOutput<typeof BoardInkSchema>;
