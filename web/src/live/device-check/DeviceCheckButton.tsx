import { createSignal, Show, type JSX } from "solid-js";
import { Modal } from "../../components/Modal";
import type { MediaSession } from "../media";
import { DeviceCheck } from "./DeviceCheck";

/** "Check devices" in the classroom's control bar: the device check in a dialog, holding the devices only while open. */
export function DeviceCheckButton(props: { session: MediaSession }): JSX.Element {
  const [open, setOpen] = createSignal(false);
  return (
    <>
      <button type="button" class="button" onClick={() => setOpen(true)}>
        ⚙️ Check devices
      </button>
      <Modal
        open={open()}
        onOpenChange={setOpen}
        title="Check your devices"
        description="See your camera, hear your microphone and test your speaker. Your choices are kept for your next classes."
      >
        <Show when={open()}>
          <DeviceCheck session={props.session} />
        </Show>
      </Modal>
    </>
  );
}
