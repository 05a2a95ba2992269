import { createSignal, For, Show, type JSX } from "solid-js";
import { describeMediaError, type MediaSession } from "./media";

/**
 * What a sender controls: microphone (start, mute/unmute), camera (on/off), screen share, and which microphone
 * and camera to use. Only the sources the current grant allows are offered.
 */
export function DeviceControls(props: { session: MediaSession; onError: (message: string) => void }): JSX.Element {
  const state = props.session.state;
  const [busy, setBusy] = createSignal(false);
  const may = (source: "audio" | "video" | "screen") => state.produce.includes(source);
  const act = async (action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } catch (error) {
      props.onError(describeMediaError(error));
    } finally {
      setBusy(false);
    }
  };
  const microphone = () => state.local.audio;
  const toggleMicrophone = () => act(() => (microphone() ? props.session.setPaused("audio", !microphone()!.paused) : props.session.publish("audio")));
  const toggleCamera = () => act(() => (state.local.video ? props.session.unpublish("video") : props.session.publish("video")));
  const toggleScreen = () => act(() => (state.local.screen ? props.session.unpublish("screen") : props.session.publish("screen")));

  return (
    <Show when={state.produce.length > 0 && state.status !== "closed"}>
      <div class="device-controls" role="toolbar" aria-label="Your camera, microphone and screen">
        <Show when={may("audio")}>
          <button type="button" class="button" classList={{ "button--danger": microphone()?.paused === true }} aria-label={!microphone() ? "Start microphone" : microphone()!.paused ? "Unmute microphone" : "Mute microphone"} disabled={busy()} onClick={() => void toggleMicrophone()}>
            {!microphone() ? "🎙️ Start microphone" : microphone()!.paused ? "🔇 Unmute" : "🎙️ Mute"}
          </button>
        </Show>
        <Show when={may("video")}>
          <button type="button" class="button" aria-label={state.local.video ? "Turn camera off" : "Turn camera on"} disabled={busy()} onClick={() => void toggleCamera()}>
            {state.local.video ? "📷 Camera off" : "📷 Camera on"}
          </button>
        </Show>
        <Show when={may("screen")}>
          <button type="button" class="button" classList={{ "button--primary": state.local.screen !== undefined }} aria-label={state.local.screen ? "Stop sharing" : "Share screen"} disabled={busy()} onClick={() => void toggleScreen()}>
            {state.local.screen ? "🖥️ Stop sharing" : "🖥️ Share screen"}
          </button>
        </Show>
        <Show when={may("audio") && state.microphones.length > 1}>
          <label class="device-controls__picker">
            <span class="visually-hidden">Microphone</span>
            <select class="select" aria-label="Microphone" value={state.microphoneId ?? ""} onChange={(event) => void act(() => props.session.selectDevice("audioinput", event.currentTarget.value))}>
              <For each={state.microphones}>{(device) => <option value={device.deviceId}>{device.label}</option>}</For>
            </select>
          </label>
        </Show>
        <Show when={may("video") && state.cameras.length > 1}>
          <label class="device-controls__picker">
            <span class="visually-hidden">Camera</span>
            <select class="select" aria-label="Camera" value={state.cameraId ?? ""} onChange={(event) => void act(() => props.session.selectDevice("videoinput", event.currentTarget.value))}>
              <For each={state.cameras}>{(device) => <option value={device.deviceId}>{device.label}</option>}</For>
            </select>
          </label>
        </Show>
        <Show when={microphone()?.pausedByModerator}>
          <span class="muted small" role="status">
            A teacher muted your microphone.
          </span>
        </Show>
      </div>
    </Show>
  );
}
