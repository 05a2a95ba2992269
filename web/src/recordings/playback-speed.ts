/** Playback speeds offered by the player's menu and its "<" / ">" keys, slowest first. */
export const PLAYBACK_SPEEDS = [0.75, 1, 1.25, 1.5, 1.75, 2] as const;
export type PlaybackSpeed = (typeof PLAYBACK_SPEEDS)[number];

/** Where the chosen speed is kept, so the next recording plays at the same speed. */
const STORAGE_KEY = "insp-live.player.speed";

function isPlaybackSpeed(value: number): value is PlaybackSpeed {
  return (PLAYBACK_SPEEDS as readonly number[]).includes(value);
}

/** The speed chosen last on this browser, or 1x (also when storage is blocked or holds something else). */
export function savedPlaybackSpeed(): PlaybackSpeed {
  try {
    const stored = Number(localStorage.getItem(STORAGE_KEY));
    return isPlaybackSpeed(stored) ? stored : 1;
  } catch {
    return 1;
  }
}

export function savePlaybackSpeed(speed: PlaybackSpeed): void {
  try {
    localStorage.setItem(STORAGE_KEY, String(speed));
  } catch {
    // Private modes may refuse storage: the speed then holds for this recording only.
  }
}

/** The next speed up (`step` 1) or down (-1), staying at the ends; an unlisted rate counts as 1x. */
export function stepPlaybackSpeed(current: number, step: 1 | -1): PlaybackSpeed {
  const index = PLAYBACK_SPEEDS.indexOf(isPlaybackSpeed(current) ? current : 1);
  return PLAYBACK_SPEEDS[Math.min(PLAYBACK_SPEEDS.length - 1, Math.max(0, index + step))]!;
}

/** 1.25 → "1.25x", 1 → "1x". */
export function speedLabel(speed: number): string {
  return `${speed}x`;
}
