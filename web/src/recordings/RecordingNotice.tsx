import { createEffect, createSignal, on, onCleanup, Show, type JSX } from "solid-js";
import type { ClassChannel } from "../live/class-channel";
import { useSession } from "../session";
import { formatTime } from "../time";
import "./recordings.css";

/** How long "Recording stopped" stays before it goes by itself. */
const STOPPED_SHOW_MS = 10_000;

/**
 * The recording notice everyone in the class sees (more than the small REC badge): who started recording and
 * when, until the person dismisses it; someone who enters while the class is recorded sees it on entering.
 * When the recording stops, the notice says so for a few seconds. It follows the class's recording state (the
 * snapshot and the `recording` events), so every participant sees the same. A recording that goes on in its
 * next part on another media server is one recording here: no new notice, no "stopped".
 */
export function RecordingNotice(props: { channel: ClassChannel }): JSX.Element {
  const session = useSession();
  const state = props.channel.state;
  const recording = () => state.media.recording;
  const [dismissed, setDismissed] = createSignal<string | null>(null);
  const [stopped, setStopped] = createSignal(false);
  let stoppedTimer: ReturnType<typeof setTimeout> | undefined;
  createEffect(
    on(
      () => recording()?.recordingId ?? null,
      (id, previous) => {
        // A recording that goes on as its next part (its media server changed) is the same recording to the
        // people in class: a notice they dismissed stays dismissed.
        if (id !== null && typeof previous === "string" && dismissed() === previous) setDismissed(id);
        clearTimeout(stoppedTimer);
        setStopped(id === null && typeof previous === "string");
        if (id === null && previous) stoppedTimer = setTimeout(() => setStopped(false), STOPPED_SHOW_MS);
      },
    ),
  );
  onCleanup(() => clearTimeout(stoppedTimer));

  const starter = (userId: string) => {
    if (userId === state.you?.userId) return "You";
    return state.participants.find((p) => p.userId === userId)?.displayName ?? "A teacher";
  };

  return (
    <>
      <Show when={recording() && recording()!.recordingId !== dismissed() ? recording() : null}>
        {(running) => (
          <div class="recording-notice" role="alert" data-testid="recording-notice">
            <div>
              <p class="recording-notice__title">This class is being recorded</p>
              <p class="small">
                {starter(running().startedBy)} started recording at {formatTime(running().startedAt, session.timeZone())}. What you say and show from now on may
                be in the recording.
              </p>
            </div>
            <button type="button" class="button button--small" onClick={() => setDismissed(running().recordingId)}>
              Dismiss
            </button>
          </div>
        )}
      </Show>
      <Show when={stopped()}>
        <div class="recording-notice recording-notice--stopped" role="status" data-testid="recording-stopped">
          <p class="recording-notice__title">Recording stopped</p>
          <button type="button" class="button button--small" onClick={() => setStopped(false)}>
            Dismiss
          </button>
        </div>
      </Show>
    </>
  );
}
