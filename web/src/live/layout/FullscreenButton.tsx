import { createSignal, onCleanup, onMount, Show, type JSX } from "solid-js";

/**
 * Shows one element (the classroom's main picture) on the whole screen, and back. The icon is an SVG so that it
 * looks the same on every system (a font glyph would not); browsers without the Fullscreen API get no button.
 */
export function FullscreenButton(props: { target: () => HTMLElement | undefined }): JSX.Element {
  const [active, setActive] = createSignal(false);
  onMount(() => {
    const onChange = () => setActive(document.fullscreenElement !== null && document.fullscreenElement === props.target());
    document.addEventListener("fullscreenchange", onChange);
    onCleanup(() => document.removeEventListener("fullscreenchange", onChange));
  });
  const toggle = () => {
    if (active()) void document.exitFullscreen().catch(() => undefined);
    else
      void props
        .target()
        ?.requestFullscreen()
        .catch(() => undefined);
  };
  return (
    <Show when={document.fullscreenEnabled}>
      <button
        type="button"
        class="button button--quiet icon-button fullscreen-button"
        aria-label={active() ? "Exit fullscreen" : "Fullscreen"}
        title={active() ? "Exit fullscreen" : "Fullscreen"}
        onClick={toggle}
      >
        <svg
          viewBox="0 0 24 24"
          width="20"
          height="20"
          aria-hidden="true"
          fill="none"
          stroke="currentColor"
          stroke-width="2"
          stroke-linecap="round"
          stroke-linejoin="round"
        >
          <Show when={active()} fallback={<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" />}>
            <path d="M9 4v5H4M15 4v5h5M9 20v-5H4M15 20v-5h5" />
          </Show>
        </svg>
      </button>
    </Show>
  );
}
