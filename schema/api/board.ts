import * as v from "valibot";
import { ShapeSchema } from "../protocol/board";
import { DeckViewSchema } from "./files";

/**
 * `GET /api/classes/:id/board`: the class's board after (or outside) a live session, read-only — its decks and
 * every surface's shapes as the accepted ops left them (screen annotations belong to their share and are left out).
 */
export const ClassBoardResponseSchema = v.object({
  decks: v.array(DeckViewSchema),
  surfaces: v.array(v.object({ surface: v.string(), shapes: v.array(ShapeSchema) })),
});
export type ClassBoardResponse = v.InferOutput<typeof ClassBoardResponseSchema>;
