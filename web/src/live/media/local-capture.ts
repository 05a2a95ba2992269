import { produce, type SetStoreFunction } from "solid-js/store";
import type { MediaSource } from "../../../../schema/tokens/media-token";
import { rememberDevice } from "../device-check/device-choices";
import type { LocalSource, MediaSessionState } from "./types";

/**
 * This browser's own side of what it sends: the microphone, camera and screen tracks, the list of devices
 * (refreshed when one is plugged in or out), and the device choices remembered in localStorage. It knows
 * nothing of the node; the session hands the tracks to the producers.
 */
export class LocalCapture {
  private readonly onDeviceChange = () => void this.refreshDevices();

  constructor(
    private readonly state: MediaSessionState,
    private readonly setState: SetStoreFunction<MediaSessionState>,
  ) {
    navigator.mediaDevices?.addEventListener("devicechange", this.onDeviceChange);
  }

  /** Reads the media devices (labels appear once a capture was allowed). */
  async refreshDevices(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const choices = (kind: MediaDeviceKind) =>
      devices
        .filter((d) => d.kind === kind && d.deviceId !== "")
        .map((d, index) => ({ deviceId: d.deviceId, label: d.label || `${kind === "audioinput" ? "Microphone" : "Camera"} ${index + 1}` }));
    this.setState({ microphones: choices("audioinput"), cameras: choices("videoinput") });
  }

  /** Records the user's choice of microphone or camera (here and for the next class); returns the source it feeds. */
  choose(kind: "audioinput" | "videoinput", deviceId: string): "audio" | "video" {
    this.setState(kind === "audioinput" ? "microphoneId" : "cameraId", deviceId);
    rememberDevice(kind === "audioinput" ? "microphone" : "camera", deviceId);
    return kind === "audioinput" ? "audio" : "video";
  }

  /** A new track of `source` from the chosen device (or the screen the user picks). */
  async capture(source: MediaSource): Promise<MediaStreamTrack> {
    if (!navigator.mediaDevices) throw new Error("This browser cannot capture media here (a secure https:// page is needed)");
    if (source === "board") throw new Error("The board is sent from the board's own canvas");
    if (source === "screen") {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      return stream.getVideoTracks()[0]!;
    }
    const kind = source === "audio" ? "microphoneId" : "cameraId";
    const deviceId = this.state[kind];
    try {
      return await captureDevice(source, deviceId);
    } catch (error) {
      // A remembered device that is no longer there (an unplugged headset): use the default instead.
      if (!deviceId || !(error instanceof DOMException && (error.name === "OverconstrainedError" || error.name === "NotFoundError"))) throw error;
      this.setState(kind, null);
      return captureDevice(source, null);
    }
  }

  /** Forgets `source` and stops its track; returns what it was. */
  release(source: MediaSource): LocalSource | undefined {
    const local = this.state.local[source];
    if (!local) return undefined;
    this.setState(
      "local",
      produce((all) => {
        delete all[source];
      }),
    );
    local.track.stop();
    return local;
  }

  /** Stops every track and stops following device changes. */
  close(): void {
    for (const local of Object.values(this.state.local)) local?.track.stop();
    navigator.mediaDevices?.removeEventListener("devicechange", this.onDeviceChange);
  }
}

/** One microphone or camera track, from the given device (null: the system's default). */
async function captureDevice(source: "audio" | "video", deviceId: string | null): Promise<MediaStreamTrack> {
  const device = deviceId ? { exact: deviceId } : undefined;
  if (source === "audio") {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { deviceId: device, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    return stream.getAudioTracks()[0]!;
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { deviceId: device, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  });
  return stream.getVideoTracks()[0]!;
}

/** A message a person can act on, for a failed capture or media request. */
export function describeMediaError(error: unknown): string {
  if (error instanceof DOMException) {
    if (error.name === "NotAllowedError") return "Access to the camera, microphone or screen was refused. Allow it in the browser's site settings.";
    if (error.name === "NotFoundError") return "No camera or microphone was found.";
    if (error.name === "NotReadableError") return "The camera or microphone is in use by another application.";
  }
  return error instanceof Error ? error.message : String(error);
}

/** How the user names `source`, in "You may not send …". */
export function sourceName(source: MediaSource): string {
  return source === "audio" ? "your microphone" : source === "video" ? "your camera" : source === "screen" ? "your screen" : "the board";
}
