import { createSignal, type JSX, onCleanup, Show } from "solid-js";
import type { ClassChannel } from "../live/class-channel";
import "./recordings.css";

/** How long the button waits for the class's state to show an accepted start or stop before it is offered again. */
const SETTLE_TIMEOUT_MS = 5_000;

/**
 * The classroom's recording controls: a "REC" badge everyone sees while the class is recorded, and for teachers
 * and admins the button that starts and stops it (the class's Durable Object checks the role again).
 */
export function RecordingControl(props: { channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const [busy, setBusy] = createSignal(false);
  /** What the last accepted press asked for, until the class's state shows it (its event can trail the answer). */
  const [expecting, setExpecting] = createSignal<"on" | "off" | null>(null);
  const recording = () => props.channel.state.media.recording;
  // Until the state catches up the button would still offer the press just made: a second click then undid it.
  const settling = () => (expecting() === "on" && recording() === null) || (expecting() === "off" && recording() !== null);
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(settleTimer));
  const toggle = async () => {
    const want = recording() ? "off" : "on";
    setBusy(true);
    try {
      await props.channel.request(want === "on" ? "recording.start" : "recording.stop", {});
      setExpecting(want);
      clearTimeout(settleTimer);
      settleTimer = setTimeout(() => setExpecting((current) => (current === want ? null : current)), SETTLE_TIMEOUT_MS);
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
          disabled={busy() || settling()}
          data-testid="recording-toggle"
          onClick={() => void toggle()}
        >
          {recording() ? "■ Stop recording" : "● Record"}
        </button>
      </Show>
    </>
  );
}
