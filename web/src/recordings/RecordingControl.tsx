import { createSignal, Show, type JSX } from "solid-js";
import type { ClassChannel } from "../live/class-channel";
import "./recordings.css";

/**
 * The classroom's recording controls: a "REC" badge everyone sees while the class is recorded, and for teachers
 * and admins the button that starts and stops it (the class's Durable Object checks the role again).
 */
export function RecordingControl(props: { channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const [busy, setBusy] = createSignal(false);
  const recording = () => props.channel.state.media.recording;
  const toggle = async () => {
    setBusy(true);
    try {
      await props.channel.request(recording() ? "recording.stop" : "recording.start", {});
    } catch (error) {
      props.onError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Show when={recording()}>
        <span class="rec-indicator" role="status" aria-label="This class is being recorded" data-testid="rec-indicator">
          REC
        </span>
      </Show>
      <Show when={props.moderator}>
        <button
          type="button"
          class="button"
          classList={{ "button--danger": recording() !== null }}
          aria-pressed={recording() !== null}
          disabled={busy()}
          data-testid="recording-toggle"
          onClick={() => void toggle()}
        >
          {recording() ? "■ Stop recording" : "● Record"}
        </button>
      </Show>
    </>
  );
}
