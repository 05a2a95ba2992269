import { A } from "@solidjs/router";
import { Show, type JSX } from "solid-js";
import { RecordingControl } from "../../recordings/RecordingControl";
import type { ClassChannel } from "../class-channel";
import { DeviceCheckButton } from "../device-check/DeviceCheckButton";
import { DeviceControls } from "../DeviceControls";
import type { MediaSession } from "../media";
import { useKeyboardShortcut } from "./keyboard-shortcut";
import { ReactionsMenu } from "./ReactionsMenu";
import "./layout.css";

/**
 * The classroom's one control bar, under the main picture: what you send (microphone, camera, screen, each
 * device's picker), recording, the device check, reactions, the hand (students), and leaving or ending the class.
 */
export function ControlBar(props: {
  channel: ClassChannel;
  session: MediaSession;
  moderator: boolean;
  /** H belongs to the board's highlighter while this person may draw on a shown board. */
  boardTakesH: boolean;
  classId: string;
  ending: boolean;
  onEnd: () => void;
  onError: (error: unknown) => void;
}): JSX.Element {
  const state = props.channel.state;
  const myHand = () => state.participants.find((p) => p.userId === state.you?.userId)?.handRaisedAt ?? null;
  const handShortcut = () => !props.moderator && !props.boardTakesH;
  const toggleHand = () => void props.channel.request(myHand() === null ? "hand.raise" : "hand.lower", {}).catch(props.onError);
  useKeyboardShortcut("h", toggleHand, handShortcut);

  return (
    <div class="control-bar" role="toolbar" aria-label="Class controls" data-testid="control-bar">
      <DeviceControls session={props.session} onError={(message) => props.onError(new Error(message))} />
      <span class="control-bar__group">
        <RecordingControl channel={props.channel} moderator={props.moderator} onError={props.onError} />
        <DeviceCheckButton session={props.session} />
        <ReactionsMenu channel={props.channel} onError={props.onError} />
        <Show when={!props.moderator}>
          <button
            type="button"
            class="button"
            classList={{ "button--primary": myHand() !== null }}
            aria-pressed={myHand() !== null}
            aria-keyshortcuts={handShortcut() ? "H" : undefined}
            title={handShortcut() ? "Raise or lower your hand (H)" : undefined}
            onClick={toggleHand}
          >
            {myHand() === null ? "✋ Raise hand" : "Lower hand"}
          </button>
        </Show>
      </span>
      <span class="control-bar__group control-bar__end">
        <A href={`/classes/${props.classId}`} class="button button--quiet">
          Leave
        </A>
        <Show when={props.moderator}>
          <button type="button" class="button button--danger" disabled={props.ending} onClick={() => props.onEnd()}>
            End class
          </button>
        </Show>
      </span>
    </div>
  );
}
