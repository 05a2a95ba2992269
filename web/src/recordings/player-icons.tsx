import type { JSX } from "solid-js";

/**
 * The player's icons as inline SVG: symbol glyphs ("▶", "🔇", "⛶") are missing from many system fonts (and from
 * headless Chromium) and showed as empty boxes. Each is decorative; its button carries the accessible name.
 */
function Icon(props: { children: JSX.Element; filled?: boolean }): JSX.Element {
  return (
    <svg
      viewBox="0 0 24 24"
      width="18"
      height="18"
      aria-hidden="true"
      fill={props.filled ? "currentColor" : "none"}
      stroke={props.filled ? "none" : "currentColor"}
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
    >
      {props.children}
    </svg>
  );
}

export const PlayIcon = () => (
  <Icon filled>
    <path d="M7 4.5v15l13-7.5z" />
  </Icon>
);

export const PauseIcon = () => (
  <Icon filled>
    <path d="M6 4h4v16H6zM14 4h4v16h-4z" />
  </Icon>
);

export const VolumeIcon = () => (
  <Icon>
    <path d="M4 9v6h4l5 4V5L8 9z" />
    <path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12" />
  </Icon>
);

export const MutedIcon = () => (
  <Icon>
    <path d="M4 9v6h4l5 4V5L8 9z" />
    <path d="M17 9.5l5 5M22 9.5l-5 5" />
  </Icon>
);

export const FullscreenIcon = () => (
  <Icon>
    <path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" />
  </Icon>
);

export const ExitFullscreenIcon = () => (
  <Icon>
    <path d="M9 4v5H4M15 4v5h5M9 20v-5H4M15 20v-5h5" />
  </Icon>
);

export const KeyboardIcon = () => (
  <Icon>
    <rect x="2.5" y="6" width="19" height="12" rx="2" />
    <path d="M6 10h.01M10 10h.01M14 10h.01M18 10h.01M8 14h8" />
  </Icon>
);

export const CloseIcon = () => (
  <Icon>
    <path d="M6 6l12 12M18 6L6 18" />
  </Icon>
);
