import { createEffect, createSignal, For, Show, type JSX } from "solid-js";
import type { BoardSurface } from "../../../../schema/protocol/board";
import { errorMessage } from "../../api";
import type { ClassChannel } from "../class-channel";
import type { DeckFiles } from "./deck-files";
import type { UploadProgress } from "./deck-upload";
import { createUploadState, UploadProgressBar } from "../upload-state";

/**
 * The teacher's board controls: upload a PDF deck (progress, cancel, the server's refusal shown), pick a deck,
 * turn pages, add a blank page, draw over a shared screen, hide the board. Every change goes through `board.show` / `board.hide`, so the
 * whole class follows.
 */
export function DeckControls(props: { channel: ClassChannel; decks: DeckFiles; screenShared: boolean; onError: (error: unknown) => void }): JSX.Element {
  const board = props.channel.state.board;
  const [chosenDeck, setChosenDeck] = createSignal("");
  const uploading = createUploadState<UploadProgress>();
  const progress = uploading.progress;
  const [uploadError, setUploadError] = createSignal<string | null>(null);
  let fileInput!: HTMLInputElement;

  const decks = () => props.decks.files() ?? [];
  // Offer the newest deck until the teacher picks another.
  createEffect(() => {
    if (!chosenDeck() && decks().length > 0) setChosenDeck(decks()[0]!.deck!.id);
  });
  const surface = () => board.presenter?.surface ?? null;
  const deckOf = (deckId: string) => decks().find((file) => file.deck?.id === deckId)?.deck ?? null;
  const pageCount = () => {
    const shown = surface();
    if (!shown) return 0;
    if (shown.kind === "deck") return deckOf(shown.deckId)?.pageCount ?? 0;
    if (shown.kind === "blank") return board.blankPages;
    return 0;
  };
  const page = () => {
    const shown = surface();
    return shown && shown.kind !== "screen" ? shown.page : 0;
  };

  const show = (next: BoardSurface) => void props.channel.request("board.show", { surface: next }).catch(props.onError);
  const turn = (delta: number) => {
    const shown = surface();
    if (!shown || shown.kind === "screen") return;
    show({ ...shown, page: shown.page + delta });
  };

  const upload = async (file: File) => {
    setUploadError(null);
    try {
      await uploading.run({ sentBytes: 0, totalBytes: file.size }, async (signal, report) => {
        // The upload code (and the file shapes it checks answers with) loads when a teacher first uploads.
        const { uploadDeck } = await import("./deck-upload");
        const uploaded = await uploadDeck(props.channel.classId, file, report, signal);
        if (uploaded) {
          props.decks.refetch();
          if (uploaded.deck) setChosenDeck(uploaded.deck.id);
        }
      });
    } catch (error) {
      setUploadError(errorMessage(error));
    } finally {
      fileInput.value = "";
    }
  };

  return (
    <section class="board-controls row" aria-label="Board controls">
      <label class="button board-controls__upload" classList={{ "button--disabled": progress() !== null }}>
        Upload PDF deck
        <input
          ref={fileInput}
          type="file"
          accept="application/pdf,.pdf"
          class="visually-hidden"
          aria-label="Upload a PDF deck"
          disabled={progress() !== null}
          onChange={(event) => {
            const file = event.currentTarget.files?.[0];
            if (file) void upload(file);
          }}
        />
      </label>
      <Show when={progress()}>
        {(now) => (
          <span class="row board-controls__progress" data-testid="upload-progress">
            <UploadProgressBar now={now()} percent={uploading.percent()} label="Upload progress" onCancel={uploading.cancel} />
          </span>
        )}
      </Show>
      <Show when={uploadError()}>
        <p class="alert alert--error small" role="alert" data-testid="upload-error">
          {uploadError()}
        </p>
      </Show>

      <Show when={decks().length > 0}>
        <select aria-label="Deck" value={chosenDeck()} onChange={(event) => setChosenDeck(event.currentTarget.value)}>
          <For each={decks()}>{(file) => <option value={file.deck!.id}>{`${file.deck!.title} (${file.deck!.pageCount} pages)`}</option>}</For>
        </select>
        <button type="button" class="button" disabled={!chosenDeck()} onClick={() => show({ kind: "deck", deckId: chosenDeck(), page: 1 })}>
          Show deck
        </button>
      </Show>
      <button type="button" class="button" onClick={() => show({ kind: "blank", page: board.blankPages + 1 })}>
        New blank page
      </button>
      <Show when={props.screenShared && surface()?.kind !== "screen"}>
        <button type="button" class="button" onClick={() => show({ kind: "screen" })}>
          Draw over the shared screen
        </button>
      </Show>
      <Show when={board.presenter}>
        <Show when={page() > 0}>
          <button type="button" class="button button--small" aria-label="Previous page" disabled={page() <= 1} onClick={() => turn(-1)}>
            ◀
          </button>
          <span class="small" data-testid="board-page-number">
            Page {page()}
            <Show when={pageCount() > 0}> of {pageCount()}</Show>
          </span>
          <button type="button" class="button button--small" aria-label="Next page" disabled={pageCount() > 0 && page() >= pageCount()} onClick={() => turn(1)}>
            ▶
          </button>
        </Show>
        <button type="button" class="button button--quiet" onClick={() => void props.channel.request("board.hide", {}).catch(props.onError)}>
          Hide board
        </button>
      </Show>
    </section>
  );
}
