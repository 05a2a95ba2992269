import { createEffect, createSignal, For, on, onCleanup, Show, type JSX } from "solid-js";
import { describeMediaError, type MediaSession } from "../media";
import { canChooseSpeaker, type DeviceChoices, deviceChoices, playOnChosenSpeaker, rememberDevice } from "./device-choices";
import "./device-check.css";

/** How long the speaker test's tone plays. */
const TONE_MS = 800;

interface DeviceOption {
  deviceId: string;
  label: string;
}

/**
 * The device check: a preview of the chosen camera, a live level of the chosen microphone and a test tone on
 * the chosen speaker, each with its picker. Choices are remembered in this browser (device-choices.ts); in the
 * class (`session` given) a new camera or microphone also replaces the one being sent. Passing it is never
 * required to enter a class. The devices are held only while the check is shown.
 */
export function DeviceCheck(props: { session?: MediaSession }): JSX.Element {
  const [devices, setDevices] = createSignal<MediaDeviceInfo[]>([]);
  const [cameraError, setCameraError] = createSignal<string | null>(null);
  const [microphoneError, setMicrophoneError] = createSignal<string | null>(null);
  const [level, setLevel] = createSignal(0);
  const [playing, setPlaying] = createSignal(false);
  let video!: HTMLVideoElement;
  let cameraStream: MediaStream | null = null;
  let microphoneStream: MediaStream | null = null;
  const audioContext = new AudioContext();
  let meterFrame = 0;

  const options = (kind: MediaDeviceKind, fallback: string): DeviceOption[] =>
    devices()
      .filter((device) => device.kind === kind && device.deviceId !== "")
      .map((device, index) => ({ deviceId: device.deviceId, label: device.label || `${fallback} ${index + 1}` }));
  const refreshDevices = async () => {
    if (navigator.mediaDevices?.enumerateDevices) setDevices(await navigator.mediaDevices.enumerateDevices());
  };
  navigator.mediaDevices?.addEventListener("devicechange", refreshDevices);

  const choose = (kind: keyof DeviceChoices, deviceId: string) => {
    if (!props.session || kind === "speaker") {
      rememberDevice(kind, deviceId);
      return;
    }
    // In the class the new device also replaces the one being sent; a failure to switch is said where it shows.
    const show = kind === "camera" ? setCameraError : setMicrophoneError;
    props.session.selectDevice(kind === "camera" ? "videoinput" : "audioinput", deviceId).catch((error: unknown) => show(describeMediaError(error)));
  };

  const capture = async (constraints: MediaStreamConstraints): Promise<MediaStream> => {
    if (!navigator.mediaDevices) throw new Error("This browser cannot use a camera or microphone here (a secure https:// page is needed)");
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    // Device names are hidden until a capture was allowed.
    void refreshDevices();
    return stream;
  };
  const stop = (stream: MediaStream | null) => {
    for (const track of stream?.getTracks() ?? []) track.stop();
  };

  createEffect(
    on(
      () => deviceChoices.camera,
      async (deviceId) => {
        stop(cameraStream);
        cameraStream = null;
        try {
          const stream = await capture({ video: { deviceId: deviceId ? { ideal: deviceId } : undefined, width: { ideal: 640 }, height: { ideal: 360 } } });
          cameraStream = stream;
          video.srcObject = stream;
          setCameraError(null);
          await video.play().catch(() => undefined);
        } catch (error) {
          setCameraError(describeMediaError(error));
        }
      },
    ),
  );

  createEffect(
    on(
      () => deviceChoices.microphone,
      async (deviceId) => {
        stop(microphoneStream);
        microphoneStream = null;
        cancelAnimationFrame(meterFrame);
        setLevel(0);
        try {
          const stream = await capture({ audio: { deviceId: deviceId ? { ideal: deviceId } : undefined } });
          microphoneStream = stream;
          setMicrophoneError(null);
          await audioContext.resume().catch(() => undefined);
          const analyser = audioContext.createAnalyser();
          analyser.fftSize = 1024;
          audioContext.createMediaStreamSource(stream).connect(analyser);
          const samples = new Float32Array(analyser.fftSize);
          const measure = () => {
            analyser.getFloatTimeDomainData(samples);
            setLevel(loudness(samples));
            meterFrame = requestAnimationFrame(measure);
          };
          measure();
        } catch (error) {
          setMicrophoneError(describeMediaError(error));
        }
      },
    ),
  );

  const playTone = async () => {
    setPlaying(true);
    try {
      await audioContext.resume();
      const oscillator = audioContext.createOscillator();
      const gain = audioContext.createGain();
      const output = audioContext.createMediaStreamDestination();
      oscillator.frequency.value = 660;
      // A short fade in and out, so the tone does not click.
      gain.gain.setValueAtTime(0, audioContext.currentTime);
      gain.gain.linearRampToValueAtTime(0.3, audioContext.currentTime + 0.05);
      gain.gain.linearRampToValueAtTime(0, audioContext.currentTime + TONE_MS / 1000);
      oscillator.connect(gain).connect(output);
      // Through an audio element: only a media element can be sent to a chosen speaker.
      const element = new Audio();
      element.srcObject = output.stream;
      await playOnChosenSpeaker(element, deviceChoices.speaker);
      oscillator.start();
      oscillator.stop(audioContext.currentTime + TONE_MS / 1000);
      await element.play();
      await new Promise((resolve) => setTimeout(resolve, TONE_MS));
      element.srcObject = null;
    } finally {
      setPlaying(false);
    }
  };

  onCleanup(() => {
    cancelAnimationFrame(meterFrame);
    stop(cameraStream);
    stop(microphoneStream);
    navigator.mediaDevices?.removeEventListener("devicechange", refreshDevices);
    void audioContext.close().catch(() => undefined);
  });

  return (
    <div class="device-check" data-testid="device-check">
      <section class="device-check__part" aria-labelledby="device-check-camera">
        <h3 id="device-check-camera" class="device-check__heading">
          Camera
        </h3>
        <video ref={video} class="device-check__preview" autoplay muted playsinline aria-label="Your camera" data-testid="camera-preview" />
        <Show when={cameraError()}>{(message) => <p class="alert alert--error small">{message()}</p>}</Show>
        <Picker label="Camera" options={options("videoinput", "Camera")} chosen={deviceChoices.camera} onPick={(id) => choose("camera", id)} />
      </section>
      <section class="device-check__part" aria-labelledby="device-check-microphone">
        <h3 id="device-check-microphone" class="device-check__heading">
          Microphone
        </h3>
        <div
          class="device-check__meter"
          role="meter"
          aria-label="Microphone level"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={level()}
          data-testid="microphone-level"
        >
          <span class="device-check__meter-fill" style={{ width: `${level()}%` }} />
        </div>
        <p class="small muted">Speak: the bar moves when the microphone hears you.</p>
        <Show when={microphoneError()}>{(message) => <p class="alert alert--error small">{message()}</p>}</Show>
        <Picker label="Microphone" options={options("audioinput", "Microphone")} chosen={deviceChoices.microphone} onPick={(id) => choose("microphone", id)} />
      </section>
      <section class="device-check__part" aria-labelledby="device-check-speaker">
        <h3 id="device-check-speaker" class="device-check__heading">
          Speaker
        </h3>
        <div class="row">
          <button type="button" class="button" disabled={playing()} onClick={() => void playTone().catch(() => setPlaying(false))}>
            {playing() ? "Playing…" : "Play a test sound"}
          </button>
          <span class="small muted">You should hear a short tone.</span>
        </div>
        <Show when={canChooseSpeaker()} fallback={<p class="small muted">This browser plays the class through the system's speaker.</p>}>
          <Picker label="Speaker" options={options("audiooutput", "Speaker")} chosen={deviceChoices.speaker} onPick={(id) => choose("speaker", id)} />
        </Show>
      </section>
    </div>
  );
}

/** A labelled device list; shown once the browser named the devices (after a capture was allowed). */
function Picker(props: { label: string; options: DeviceOption[]; chosen: string | null; onPick: (deviceId: string) => void }): JSX.Element {
  return (
    <Show when={props.options.length > 0}>
      <label class="device-check__picker">
        <span class="small">{props.label}</span>
        <select value={props.chosen ?? props.options[0]?.deviceId ?? ""} onChange={(event) => props.onPick(event.currentTarget.value)}>
          <For each={props.options}>{(option) => <option value={option.deviceId}>{option.label}</option>}</For>
        </select>
      </label>
    </Show>
  );
}

/** 0–100 from the samples' RMS on a decibel scale (-60 dB and quieter is 0), the way a level meter reads. */
function loudness(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  const rms = Math.sqrt(sum / samples.length);
  const decibels = 20 * Math.log10(Math.max(rms, 1e-6));
  return Math.round(Math.min(100, Math.max(0, ((decibels + 60) / 60) * 100)));
}
