/** What a key does in the player. */
export type PlayerAction =
  | { kind: "toggle-play" }
  | { kind: "seek-by"; seconds: number }
  | { kind: "seek-to-fraction"; fraction: number }
  | { kind: "volume-by"; step: number }
  | { kind: "toggle-mute" }
  | { kind: "toggle-fullscreen" }
  | { kind: "speed-step"; step: 1 | -1 }
  | { kind: "show-shortcuts" };

/** The list the "Keyboard shortcuts" help shows, in the order people look for them. */
export const SHORTCUT_HELP: readonly { keys: string[]; does: string }[] = [
  { keys: ["Space", "K"], does: "Play or pause" },
  { keys: ["Left arrow", "Right arrow"], does: "Back or forward 5 seconds" },
  { keys: ["J", "L"], does: "Back or forward 10 seconds" },
  { keys: ["Up arrow", "Down arrow"], does: "Volume up or down" },
  { keys: ["M"], does: "Mute or unmute" },
  { keys: ["F"], does: "Full screen" },
  { keys: ["<", ">"], does: "Slower or faster" },
  { keys: ["Home", "End"], does: "Go to the start or the end" },
  { keys: ["0 to 9"], does: "Go to 0% to 90% of the recording" },
  { keys: ["?"], does: "Show these shortcuts" },
];

const VOLUME_STEP = 0.1;

/** The action for a key press, or null for keys the player leaves alone (and any with Ctrl, Alt or Cmd). */
export function shortcutFor(event: Pick<KeyboardEvent, "key" | "ctrlKey" | "altKey" | "metaKey">): PlayerAction | null {
  if (event.ctrlKey || event.altKey || event.metaKey) return null;
  const key = event.key;
  if (/^[0-9]$/.test(key)) return { kind: "seek-to-fraction", fraction: Number(key) / 10 };
  switch (key.length === 1 ? key.toLowerCase() : key) {
    case " ":
    case "k":
      return { kind: "toggle-play" };
    case "ArrowLeft":
      return { kind: "seek-by", seconds: -5 };
    case "ArrowRight":
      return { kind: "seek-by", seconds: 5 };
    case "j":
      return { kind: "seek-by", seconds: -10 };
    case "l":
      return { kind: "seek-by", seconds: 10 };
    case "ArrowUp":
      return { kind: "volume-by", step: VOLUME_STEP };
    case "ArrowDown":
      return { kind: "volume-by", step: -VOLUME_STEP };
    case "m":
      return { kind: "toggle-mute" };
    case "f":
      return { kind: "toggle-fullscreen" };
    case "<":
      return { kind: "speed-step", step: -1 };
    case ">":
      return { kind: "speed-step", step: 1 };
    case "Home":
      return { kind: "seek-to-fraction", fraction: 0 };
    case "End":
      return { kind: "seek-to-fraction", fraction: 1 };
    case "?":
      return { kind: "show-shortcuts" };
    default:
      return null;
  }
}

/**
 * Whether the player may take a key press: when the focus is in the player, or nowhere in particular (the page
 * itself). Never while someone types or chooses elsewhere (the comment box, the rating stars, a link), and not
 * inside the player's own menus and help, which handle their keys themselves.
 */
export function playerTakesKey(target: EventTarget | null, player: HTMLElement): boolean {
  if (!(target instanceof Element)) return true;
  if (target === document.body || target === document.documentElement) return true;
  if (!player.contains(target)) return false;
  return !target.closest('[role="menu"], [role="dialog"]');
}
