import type { PositionPut } from "../../../schema/api/recording-viewer";

/** While the video plays, where the viewer is goes to the server this often (and on pause and on leaving). */
export const POSITION_SAVE_INTERVAL_MS = 10_000;
/** Stopping in the last 5 % counts as having watched it all: the next visit starts from the beginning. */
export const START_OVER_FRACTION = 0.95;
/** Resuming a few seconds in saves nothing; the viewer starts from the beginning. */
export const MIN_RESUME_MS = 3_000;

/** Where to resume, in ms, or null to start from the beginning. */
export function resumePoint(positionMs: number | null, durationMs: number): number | null {
  if (positionMs === null || positionMs < MIN_RESUME_MS) return null;
  if (durationMs > 0 && positionMs >= durationMs * START_OVER_FRACTION) return null;
  return positionMs;
}

/**
 * Stores the position. `keepalive` lets the request outlive the page, so leaving or reloading in the middle of a
 * recording still saves where the viewer was. A failed save is only logged: it must never interrupt watching.
 */
function savePosition(recordingId: string, positionMs: number): void {
  const body: PositionPut = { positionMs };
  void fetch(`/api/recordings/${encodeURIComponent(recordingId)}/position`, {
    method: "PUT",
    credentials: "same-origin",
    keepalive: true,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  })
    .then((response) => {
      if (!response.ok) console.warn("the playback position was not saved", response.status);
    })
    .catch((error: unknown) => console.warn("the playback position was not saved", error));
}

/**
 * Saves where the viewer is in `video`: every {@link POSITION_SAVE_INTERVAL_MS} while it plays, when it pauses or
 * ends, and when the page is hidden or left. Nothing is saved before the viewer has played it, so opening a
 * recording and leaving does not overwrite where they stopped last time. Returns a stop that saves once more.
 */
export function trackPosition(recordingId: string, video: HTMLVideoElement): () => void {
  let started = false;
  let lastSaved = -1;
  const save = () => {
    if (!started || !Number.isFinite(video.currentTime)) return;
    const positionMs = Math.round(video.currentTime * 1000);
    if (positionMs === lastSaved) return;
    lastSaved = positionMs;
    savePosition(recordingId, positionMs);
  };
  const onPlaying = () => {
    started = true;
  };
  const onHidden = () => {
    if (document.visibilityState === "hidden") save();
  };
  const timer = setInterval(() => {
    if (!video.paused) save();
  }, POSITION_SAVE_INTERVAL_MS);
  video.addEventListener("playing", onPlaying);
  video.addEventListener("pause", save);
  video.addEventListener("ended", save);
  window.addEventListener("pagehide", save);
  document.addEventListener("visibilitychange", onHidden);
  return () => {
    save();
    clearInterval(timer);
    video.removeEventListener("playing", onPlaying);
    video.removeEventListener("pause", save);
    video.removeEventListener("ended", save);
    window.removeEventListener("pagehide", save);
    document.removeEventListener("visibilitychange", onHidden);
  };
}
