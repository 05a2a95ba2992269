import { createMemo, For, Show, type JSX } from "solid-js";
import type { ClassChannel } from "./class-channel";

/**
 * A moderator's stage list: every student present, whether they are on stage (may send camera and
 * microphone), and buttons to invite them, take the stage back, or mute their microphone.
 */
export function StageControls(props: { channel: ClassChannel; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  const students = createMemo(() =>
    state.participants.filter((p) => p.role === "student" && p.present).sort((a, b) => a.displayName.localeCompare(b.displayName)),
  );
  const onStage = (userId: string) => state.media.stage.includes(userId);
  const liveMicrophone = (userId: string) => state.media.producers.some((p) => p.userId === userId && p.source === "audio" && !p.paused);
  const act = (promise: Promise<unknown>) => void promise.catch(props.onError);

  return (
    <details class="card stage-controls" open={students().length <= 8}>
      <summary class="card__title">Stage ({state.media.stage.length})</summary>
      <Show when={students().length > 0} fallback={<p class="muted small">No students here yet.</p>}>
        <ul class="list" data-testid="stage-controls">
          <For each={students()}>
            {(student) => (
              <li class="row stage-controls__person" data-user-id={student.userId} data-on-stage={onStage(student.userId) ? "true" : "false"}>
                <span class="stage-controls__name">
                  <bdi>{student.displayName}</bdi>
                  <Show when={onStage(student.userId)}>
                    <span class="badge badge--success">on stage</span>
                  </Show>
                </span>
                <Show when={liveMicrophone(student.userId)}>
                  <button
                    type="button"
                    class="button button--quiet button--small"
                    aria-label={`Mute ${student.displayName}`}
                    onClick={() => act(props.channel.request("media.mute", { userId: student.userId, source: "audio" }))}
                  >
                    Mute
                  </button>
                </Show>
                <Show
                  when={onStage(student.userId)}
                  fallback={
                    <button
                      type="button"
                      class="button button--small"
                      aria-label={`Invite ${student.displayName} to stage`}
                      onClick={() => act(props.channel.request("stage.invite", { userId: student.userId }))}
                    >
                      Invite to stage
                    </button>
                  }
                >
                  <button
                    type="button"
                    class="button button--quiet button--small"
                    aria-label={`Take ${student.displayName} off stage`}
                    onClick={() => act(props.channel.request("stage.revoke", { userId: student.userId }))}
                  >
                    Off stage
                  </button>
                </Show>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </details>
  );
}
