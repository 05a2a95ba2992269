import { createEffect, createResource, createSignal, For, Show, type JSX } from "solid-js";
import { ClassBoardResponseSchema } from "../../../../schema/api/board";
import { BLANK_PAGE_ASPECT } from "../../../../schema/protocol/board";
import { api } from "../../api";
import { createDeckFiles } from "./deck-files";
import { deckPageAspect, PdfPage } from "./PdfPage";
import { ShapeLayer } from "./ShapeLayer";
import "./board.css";

/** How wide each page is drawn in the list (it shrinks with a narrow screen). */
const PAGE_WIDTH = 480;

/**
 * The class's board after class, read-only: every page that has drawings on it (deck pages over their PDF page,
 * blank pages on white), drawn by the same shape layer as the live board. Nothing shows when nothing was drawn.
 */
export function BoardAfterClass(props: { classId: string }): JSX.Element {
  const [board] = createResource(() => api(`/api/classes/${props.classId}/board`, ClassBoardResponseSchema));
  const decks = createDeckFiles(props.classId, () => (board()?.decks.length ?? 0) > 0);
  const pages = () =>
    (board()?.surfaces ?? [])
      .filter((surface) => surface.shapes.length > 0)
      .map((surface) => {
        const [kind, first, second] = surface.surface.split(":");
        if (kind === "blank") return { key: surface.surface, label: `Whiteboard page ${first}`, deck: null, page: Number(first), shapes: surface.shapes };
        const deck = board()!.decks.find((each) => each.id === first);
        return { key: surface.surface, label: `${deck?.title ?? "Deck"} — page ${second}`, deck: first ?? null, page: Number(second), shapes: surface.shapes };
      });
  return (
    <Show when={pages().length > 0}>
      <section class="card stack" aria-labelledby="class-board" data-testid="board-after-class">
        <h2 id="class-board">Board</h2>
        <For each={pages()}>
          {(page) => {
            const url = () => (page.deck ? (decks.files()?.find((file) => file.deck?.id === page.deck)?.url ?? null) : null);
            const [aspect, setAspect] = createSignal(page.deck ? 4 / 3 : BLANK_PAGE_ASPECT);
            const [failed, setFailed] = createSignal(false);
            createEffect(() => {
              const address = url();
              if (address) deckPageAspect(address, page.page).then(setAspect, () => setFailed(true));
            });
            return (
              <figure class="stack board-after__page">
                <figcaption class="small">{page.label}</figcaption>
                <Show when={failed()}>
                  <p class="muted small">The deck page could not be drawn; the drawings are shown on white.</p>
                </Show>
                <div class="board__frame" style={{ width: `min(100%, ${PAGE_WIDTH}px)`, "aspect-ratio": String(aspect()) }}>
                  <Show when={!failed() && url()}>
                    {(address) => <PdfPage url={address()} page={page.page} cssWidth={PAGE_WIDTH} onError={() => setFailed(true)} />}
                  </Show>
                  <ShapeLayer
                    aspect={aspect()}
                    shapes={page.shapes.map((shape) => ({ shape, userId: "" }))}
                    strokes={[]}
                    live={null}
                    erasing={new Set()}
                    cursor="default"
                    readOnly
                    ref={() => undefined}
                    onPointerDown={() => undefined}
                    onPointerMove={() => undefined}
                    onPointerUp={() => undefined}
                  />
                </div>
              </figure>
            );
          }}
        </For>
      </section>
    </Show>
  );
}
