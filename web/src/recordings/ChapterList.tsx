import { For, type JSX, Show } from "solid-js";
import type { Chapter } from "../../../schema/api/recording-viewer";
import { formatDuration } from "./format";
import type { PlayerHandle, ThumbnailPicture } from "./shaka";

/** The chapter playing at `seconds`: the last one that starts at or before it. */
export function currentChapterIndex(chapters: readonly Chapter[], seconds: number): number {
  let current = -1;
  for (const [index, chapter] of chapters.entries()) if (chapter.atMs <= seconds * 1000 + 250) current = index;
  return current;
}

/** The recorded picture follows a change of the board within about a second (the board sends a frame a second). */
const PICTURE_SETTLES_MS = 1_000;

/**
 * The thumbnail that shows a chapter: the first one taken once the chapter's picture is on screen (the one before
 * would still show the previous page, and the very first frame of a recording is black), or the last one when
 * the chapter starts after the last thumbnail.
 */
export async function chapterPicture(handle: Pick<PlayerHandle, "thumbnailAt">, atMs: number): Promise<ThumbnailPicture | null> {
  const settled = atMs + PICTURE_SETTLES_MS;
  const covering = await handle.thumbnailAt(settled / 1000);
  if (!covering || covering.startMs >= settled) return covering;
  return (await handle.thumbnailAt(covering.endMs / 1000)) ?? covering;
}

/**
 * The recording's chapters beside the video: each with its time, its label and the thumbnail of that moment
 * (from the recording's thumbnail sprite). Choosing one plays from there; the one playing now is marked.
 */
export function ChapterList(props: {
  chapters: readonly Chapter[];
  /** Each chapter's thumbnail, by index (missing while they load, or null without one). */
  pictures: readonly (ThumbnailPicture | null)[];
  /** Playback position in seconds. */
  time: number;
  onChoose: (chapter: Chapter) => void;
}): JSX.Element {
  const current = () => currentChapterIndex(props.chapters, props.time);
  return (
    <section class="replay-panel" aria-labelledby="chapters-heading">
      <h2 id="chapters-heading">Chapters</h2>
      <Show when={props.chapters.length > 0} fallback={<p class="muted">No chapters: the board did not change while this was recorded.</p>}>
        <ol class="chapters" data-testid="chapters">
          <For each={props.chapters}>
            {(chapter, index) => {
              const picture = () => props.pictures[index()] ?? null;
              return (
                <li>
                  <button
                    type="button"
                    class="chapter"
                    data-testid="chapter"
                    data-at-ms={chapter.atMs}
                    aria-current={index() === current() ? "true" : undefined}
                    onClick={() => props.onChoose(chapter)}
                  >
                    <Show when={picture()} fallback={<span class="chapter__thumb chapter__thumb--empty" aria-hidden="true" />}>
                      {(shown) => (
                        <span
                          class="chapter__thumb"
                          aria-hidden="true"
                          style={{
                            "background-image": `url("${shown().image}")`,
                            "background-position": shown().sprite ? `-${shown().x}px -${shown().y}px` : "center",
                            "background-size": shown().sprite ? "auto" : "cover",
                            width: `${shown().width || 96}px`,
                            height: `${shown().height || 54}px`,
                          }}
                        />
                      )}
                    </Show>
                    <span class="chapter__text">
                      <span class="chapter__time">{formatDuration(chapter.atMs)}</span>
                      <span class="chapter__label">{chapter.label}</span>
                    </span>
                  </button>
                </li>
              );
            }}
          </For>
        </ol>
      </Show>
    </section>
  );
}
