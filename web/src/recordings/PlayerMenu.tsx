import { createSignal, For, onCleanup, Show, type JSX } from "solid-js";

/** One choice of a {@link PlayerMenu}. */
export interface PlayerMenuChoice<T> {
  value: T;
  label: string;
}

/**
 * A control-bar button that opens a list of choices (quality, speed) above it: a menu button with radio items,
 * so screen readers announce the current choice. The list lives inside the player, so it also shows in full
 * screen. Arrow keys, Home and End move between the choices, Escape closes and gives the focus back.
 */
export function PlayerMenu<T>(props: {
  /** The button's accessible name, e.g. "Quality: Auto (720p)". */
  label: string;
  /** What the button shows. */
  children: JSX.Element;
  /** The menu's name, e.g. "Quality". */
  title: string;
  choices: readonly PlayerMenuChoice<T>[];
  isChosen: (value: T) => boolean;
  onChoose: (value: T) => void;
  testId?: string;
}): JSX.Element {
  const [open, setOpen] = createSignal(false);
  let root!: HTMLDivElement;
  let button!: HTMLButtonElement;
  let list: HTMLDivElement | undefined;

  const items = () => [...(list?.querySelectorAll<HTMLButtonElement>('[role="menuitemradio"]') ?? [])];
  const openMenu = () => {
    setOpen(true);
    // Once the list is in the document, the current choice takes the focus, as in native menus.
    queueMicrotask(() => (items().find((item) => item.getAttribute("aria-checked") === "true") ?? items()[0])?.focus());
  };
  const close = (returnFocus: boolean) => {
    setOpen(false);
    if (returnFocus) button.focus();
  };
  const onDocumentPointerDown = (event: PointerEvent) => {
    if (open() && !root.contains(event.target as Node)) close(false);
  };
  document.addEventListener("pointerdown", onDocumentPointerDown);
  onCleanup(() => document.removeEventListener("pointerdown", onDocumentPointerDown));

  const onListKeyDown = (event: KeyboardEvent) => {
    const all = items();
    const at = all.indexOf(document.activeElement as HTMLButtonElement);
    const focus = (index: number) => all[(index + all.length) % all.length]?.focus();
    if (event.key === "ArrowDown") focus(at + 1);
    else if (event.key === "ArrowUp") focus(at - 1);
    else if (event.key === "Home") focus(0);
    else if (event.key === "End") focus(all.length - 1);
    else if (event.key === "Escape") close(true);
    else if (event.key === "Tab") {
      close(false);
      return;
    } else return;
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    <div class="player-menu" ref={root}>
      <button
        type="button"
        ref={button}
        class="player-menu__button"
        aria-label={props.label}
        aria-haspopup="menu"
        aria-expanded={open()}
        data-testid={props.testId}
        onClick={() => (open() ? close(false) : openMenu())}
      >
        {props.children}
      </button>
      <Show when={open()}>
        <div class="player-menu__list" role="menu" aria-label={props.title} ref={list} onKeyDown={onListKeyDown}>
          <For each={props.choices}>
            {(choice) => (
              <button
                type="button"
                role="menuitemradio"
                aria-checked={props.isChosen(choice.value)}
                onClick={() => {
                  props.onChoose(choice.value);
                  close(true);
                }}
              >
                {choice.label}
              </button>
            )}
          </For>
        </div>
      </Show>
    </div>
  );
}
