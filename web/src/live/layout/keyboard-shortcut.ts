import { onCleanup, onMount } from "solid-js";

/**
 * Runs `action` when the single key `key` is pressed anywhere on the page, while `enabled()` holds. Keys typed
 * into a field (chat, poll options), keys with a modifier (the browser's own shortcuts) and held-down repeats
 * are left alone, so that typing "hmm" in the chat never mutes anyone and holding M does not flap the microphone.
 */
export function useKeyboardShortcut(key: string, action: () => void, enabled: () => boolean = () => true): void {
  onMount(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!enabled() || event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (event.key.toLowerCase() !== key) return;
      event.preventDefault();
      action();
    };
    window.addEventListener("keydown", onKey);
    onCleanup(() => window.removeEventListener("keydown", onKey));
  });
}

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
