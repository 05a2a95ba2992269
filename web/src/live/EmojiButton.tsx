import { Popover } from "@kobalte/core/popover";
import { createEffect, createSignal, type JSX } from "solid-js";
import emojiDataUrl from "emoji-picker-element-data/en/emojibase/data.json?url";

/**
 * A button that opens emoji-picker-element in a Kobalte popover (Escape, a click outside and the button close
 * it; focus goes in and comes back like in the app's other dialogs). The picker and its data load on first use;
 * the data is served by us (bundled by Vite), so it works without any CDN.
 */
export function EmojiButton(props: { onPick: (emoji: string) => void; label?: string }): JSX.Element {
  const [open, setOpen] = createSignal(false);
  const [holder, setHolder] = createSignal<HTMLDivElement>();
  let picker: Promise<HTMLElement> | undefined;

  const loadPicker = () => {
    picker ??= import("emoji-picker-element").then(({ Picker }) => {
      const element = new Picker({ dataSource: emojiDataUrl }) as unknown as HTMLElement;
      element.addEventListener("emoji-click", (event) => {
        const unicode = (event as CustomEvent<{ unicode?: string }>).detail.unicode;
        if (unicode) props.onPick(unicode);
        setOpen(false);
      });
      return element;
    });
    return picker;
  };
  // The popover's content exists only while open: the one picker moves into it each time.
  createEffect(() => {
    const target = holder();
    if (open() && target) void loadPicker().then((element) => target.isConnected && target.append(element));
  });

  return (
    <Popover open={open()} onOpenChange={setOpen} placement="top-end" gutter={8}>
      <Popover.Trigger class="button button--quiet" aria-label={props.label ?? "Insert emoji"}>
        😊
      </Popover.Trigger>
      <Popover.Portal>
        <Popover.Content class="emoji-button__popover" ref={setHolder} aria-label="Emoji" />
      </Popover.Portal>
    </Popover>
  );
}
