import { createSignal, For, Show, type JSX } from "solid-js";
import { useKeyboardShortcut } from "./layout/keyboard-shortcut";
import { describeMediaError, type MediaDeviceChoice, type MediaSession } from "./media";

/**
 * What a sender controls: microphone (start, mute/unmute; M anywhere on the page), camera (on/off), screen
 * share, and which microphone and camera to use. Only the sources the current grant allows are offered.
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
  useKeyboardShortcut(
    "m",
    () => void toggleMicrophone(),
    () => may("audio") && !busy() && state.status !== "closed",
  );

  return (
    <Show when={state.produce.length > 0 && state.status !== "closed"}>
      <div class="device-controls" role="group" aria-label="Your camera, microphone and screen">
        <Show when={may("audio")}>
          <span class="device-controls__device">
            <button
              type="button"
              class="button"
              classList={{ "button--danger": microphone()?.paused === true }}
              aria-label={!microphone() ? "Start microphone" : microphone()!.paused ? "Unmute microphone" : "Mute microphone"}
              aria-keyshortcuts="M"
              title={`${!microphone() ? "Start" : microphone()!.paused ? "Unmute" : "Mute"} microphone (M)`}
              disabled={busy()}
              onClick={() => void toggleMicrophone()}
            >
              {!microphone() ? "🎙️ Start" : microphone()!.paused ? "🔇 Unmute" : "🎙️ Mute"}
            </button>
            <DevicePicker
              label="Microphone"
              devices={state.microphones}
              chosen={state.microphoneId}
              disabled={busy()}
              onPick={(deviceId) => void act(() => props.session.selectDevice("audioinput", deviceId))}
            />
          </span>
        </Show>
        <Show when={may("video")}>
          <span class="device-controls__device">
            <button
              type="button"
              class="button"
              classList={{ "button--danger": !state.local.video }}
              aria-label={state.local.video ? "Turn camera off" : "Turn camera on"}
              title={state.local.video ? "Turn camera off" : "Turn camera on"}
              disabled={busy()}
              onClick={() => void toggleCamera()}
            >
              {state.local.video ? "📷 Stop" : "📷 Start"}
            </button>
            <DevicePicker
              label="Camera"
              devices={state.cameras}
              chosen={state.cameraId}
              disabled={busy()}
              onPick={(deviceId) => void act(() => props.session.selectDevice("videoinput", deviceId))}
            />
          </span>
        </Show>
        <Show when={may("screen")}>
          <button
            type="button"
            class="button"
            classList={{ "button--primary": state.local.screen !== undefined }}
            aria-label={state.local.screen ? "Stop sharing" : "Share screen"}
            title={state.local.screen ? "Stop sharing" : "Share screen"}
            disabled={busy()}
            onClick={() => void toggleScreen()}
          >
            {state.local.screen ? "🖥️ Stop sharing" : "🖥️ Share"}
          </button>
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

/**
 * Which device to use. Shown even with one device, so that a person sees which camera or microphone the class
 * gets; the list fills once the browser was allowed to capture (labels are hidden before that).
 */
function DevicePicker(props: {
  label: string;
  devices: MediaDeviceChoice[];
  chosen: string | null;
  disabled: boolean;
  onPick: (deviceId: string) => void;
}): JSX.Element {
  return (
    <Show when={props.devices.length > 0}>
      {/* The native list stays (keyboard, screen readers, phones' own pickers); closed it shows as a chevron. */}
      <span class="device-controls__picker" title={props.label}>
        <select
          class="device-controls__select"
          aria-label={props.label}
          value={props.chosen ?? props.devices[0]?.deviceId ?? ""}
          disabled={props.disabled}
          onChange={(event) => props.onPick(event.currentTarget.value)}
        >
          <For each={props.devices}>{(device) => <option value={device.deviceId}>{device.label}</option>}</For>
        </select>
        <svg
          viewBox="0 0 24 24"
          width="16"
          height="16"
          aria-hidden="true"
          fill="none"
          stroke="currentColor"
          stroke-width="2.5"
          stroke-linecap="round"
          stroke-linejoin="round"
        >
          <path d="M6 9l6 6 6-6" />
        </svg>
      </span>
    </Show>
  );
}
