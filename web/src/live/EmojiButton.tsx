import { createSignal, onCleanup, Show, type JSX } from "solid-js";
import emojiDataUrl from "emoji-picker-element-data/en/emojibase/data.json?url";

/**
 * A button that opens emoji-picker-element. The picker and its data load on first use; the data is served by
 * us (bundled by Vite), so it works without any CDN.
 */
export function EmojiButton(props: { onPick: (emoji: string) => void; label?: string }): JSX.Element {
  const [open, setOpen] = createSignal(false);
  let holder: HTMLDivElement | undefined;
  let picker: HTMLElement | undefined;

  const toggle = async () => {
    if (open()) return setOpen(false);
    setOpen(true);
    if (!picker) {
      const { Picker } = await import("emoji-picker-element");
      picker = new Picker({ dataSource: emojiDataUrl }) as unknown as HTMLElement;
      picker.addEventListener("emoji-click", (event) => {
        const unicode = (event as CustomEvent<{ unicode?: string }>).detail.unicode;
        if (unicode) props.onPick(unicode);
        setOpen(false);
      });
    }
    holder?.append(picker);
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Escape") setOpen(false);
  };
  document.addEventListener("keydown", onKey);
  onCleanup(() => document.removeEventListener("keydown", onKey));

  return (
    <span class="emoji-button">
      <button type="button" class="button button--quiet" aria-expanded={open()} aria-label={props.label ?? "Insert emoji"} onClick={() => void toggle()}>
        😊
      </button>
      <Show when={open()}>
        <div class="emoji-button__popover" ref={holder} />
      </Show>
    </span>
  );
}
