import { createSignal, For, Show, type JSX } from "solid-js";
import type { ClassChannel } from "../class-channel";

const QUICK_REACTIONS = ["👍", "🎉", "❤️", "😂", "👏", "🤔"];

/** One button in the control bar that opens the quick reactions; a reaction sent closes it again. */
export function ReactionsMenu(props: { channel: ClassChannel; onError: (error: unknown) => void }): JSX.Element {
  const [open, setOpen] = createSignal(false);
  return (
    <span class="reactions-menu" onKeyDown={(event) => event.key === "Escape" && setOpen(false)}>
      <button
        type="button"
        class="button"
        aria-expanded={open()}
        aria-controls="reactions-menu"
        aria-label="Reactions"
        title="Reactions"
        onClick={() => setOpen(!open())}
      >
        😊
      </button>
      <Show when={open()}>
        <span id="reactions-menu" class="reactions-menu__popover row" role="group" aria-label="Send a reaction">
          <For each={QUICK_REACTIONS}>
            {(emoji) => (
              <button
                type="button"
                class="button button--quiet"
                aria-label={`React ${emoji}`}
                onClick={() => {
                  setOpen(false);
                  void props.channel.request("reaction.send", { emoji }).catch(props.onError);
                }}
              >
                {emoji}
              </button>
            )}
          </For>
        </span>
      </Show>
    </span>
  );
}
