import { createStore } from "solid-js/store";

/** Which camera, microphone and speaker this browser uses for classes (device ids; null: the system's default). */
export interface DeviceChoices {
  camera: string | null;
  microphone: string | null;
  speaker: string | null;
}

const STORAGE_KEY = "insp-live.devices";

function load(): DeviceChoices {
  const empty: DeviceChoices = { camera: null, microphone: null, speaker: null };
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null");
    if (!raw || typeof raw !== "object") return empty;
    const pick = (key: keyof DeviceChoices) => {
      const value = (raw as Record<string, unknown>)[key];
      return typeof value === "string" && value.length > 0 && value.length <= 512 ? value : null;
    };
    return { camera: pick("camera"), microphone: pick("microphone"), speaker: pick("speaker") };
  } catch {
    // Storage blocked (private mode, policy) or not JSON: start from the defaults.
    return empty;
  }
}

const [choices, setChoices] = createStore<DeviceChoices>(load());

/**
 * The remembered choices, as a store: the device check writes them, the classroom reads them when it turns on
 * the camera or microphone and when it plays the class's sound.
 */
export const deviceChoices: Readonly<DeviceChoices> = choices;

/** Remembers a choice in this browser (a device id is only meaningful on this browser and origin). */
export function rememberDevice(kind: keyof DeviceChoices, deviceId: string | null): void {
  setChoices(kind, deviceId);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(choices));
  } catch {
    // Not stored: the choice still holds for this page.
  }
}

/** Whether this browser can send audio to a chosen output (`setSinkId`; not in every browser). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

/** Sends an element's sound to the chosen speaker, where the browser allows choosing one. */
export async function playOnChosenSpeaker(element: HTMLMediaElement, deviceId: string | null): Promise<void> {
  if (!canChooseSpeaker()) return;
  const sinkable = element as HTMLMediaElement & { setSinkId(id: string): Promise<void> };
  try {
    await sinkable.setSinkId(deviceId ?? "");
  } catch {
    // The device went away (unplugged headset): the system's default plays it.
    if (deviceId) await sinkable.setSinkId("").catch(() => undefined);
  }
}
