import { createEffect, createSignal, on, onCleanup, type Accessor } from "solid-js";
import { type BoardOpEntry, type BoardSurface, type BoardSurfaceState, surfaceKey } from "../../../../schema/protocol/board";
import type { ClassChannel } from "../class-channel";

/** A page looked at alone (not the presenter's): which one, and its shapes kept current by the class's ops. */
export interface BrowsedPage {
  /** The page looked at alone; null while following the presenter. */
  surface: Accessor<BoardSurface | null>;
  /** Its shapes, once read (null until then). */
  state: Accessor<BoardSurfaceState | null>;
  /** Looks at `surface` alone, or follows the presenter again (null). */
  browse(surface: BoardSurface | null): void;
}

/**
 * A participant paging through the presenter's deck on their own: the page's shapes are read once with
 * `board.fetch` and every op on it after that is applied as it arrives, so drawings made meanwhile show up.
 * Ops that arrive while the read is under way are held and applied on top of its answer. Nothing is sent to
 * the class: nobody else's view changes.
 */
export function createBrowsedPage(channel: ClassChannel, onError: (error: unknown) => void): BrowsedPage {
  const [surface, setSurface] = createSignal<BoardSurface | null>(null);
  const [state, setState] = createSignal<BoardSurfaceState | null>(null);
  let held: BoardOpEntry[] = [];

  const read = (next: BoardSurface) => {
    const key = surfaceKey(next);
    held = [];
    channel.request("board.fetch", { surface: next }).then((fetched) => {
      const shown = surface();
      if (!shown || surfaceKey(shown) !== key) return;
      let result = fetched;
      for (const entry of held) result = withOp(result, entry);
      held = [];
      setState(result);
    }, onError);
  };

  onCleanup(
    channel.onBoardOp((entry) => {
      const shown = surface();
      if (!shown || entry.surface !== surfaceKey(shown)) return;
      const known = state();
      if (known) setState(withOp(known, entry));
      else held.push(entry);
    }),
  );
  // Ops may have been missed while the connection was down: read the page again after a reconnect.
  createEffect(
    on(
      () => channel.state.status,
      (status, previous) => {
        const shown = surface();
        if (shown && status === "open" && previous !== undefined && previous !== "open") read(shown);
      },
    ),
  );

  return {
    surface,
    state,
    browse(next) {
      setSurface(next);
      setState(null);
      if (next) read(next);
    },
  };
}

/** The surface after one more op (ops at or before its `opSeq` are already in it). */
function withOp(state: BoardSurfaceState, entry: BoardOpEntry): BoardSurfaceState {
  if (entry.surface !== state.surface || entry.opSeq <= state.opSeq) return state;
  const op = entry.op;
  let shapes = state.shapes;
  if (op.type === "add") shapes = [...shapes, { shape: op.shape, userId: entry.userId }];
  else if (op.type === "update") shapes = shapes.map((s) => (s.shape.id === op.shape.id ? { ...s, shape: op.shape } : s));
  else if (op.type === "delete") shapes = shapes.filter((s) => !op.shapeIds.includes(s.shape.id));
  else shapes = [];
  return { ...state, opSeq: entry.opSeq, shapes };
}
