import { createMemo, For, Show, type JSX } from "solid-js";
import type { ClassChannel } from "../class-channel";

/** Raised hands, first raised first, with the time waited; a moderator lowers each one. */
export function HandsPanel(props: { channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  const hands = createMemo(() => state.participants.filter((p) => p.handRaisedAt !== null).sort((a, b) => a.handRaisedAt! - b.handRaisedAt!));
  return (
    <section class="card hands-panel" aria-label="Raised hands">
      <h2 class="card__title">Raised hands</h2>
      <ol class="list" data-testid="hands-panel">
        <For each={hands()} fallback={<li class="muted">No hands are raised.</li>}>
          {(person) => (
            <li class="row hands-panel__person">
              <span>
                ✋ <bdi>{person.displayName}</bdi>
              </span>
              <Show when={props.moderator}>
                <button
                  type="button"
                  class="button button--small"
                  aria-label={`Lower ${person.displayName}'s hand`}
                  onClick={() => void props.channel.request("hand.lower", { userId: person.userId }).catch(props.onError)}
                >
                  Lower
                </button>
              </Show>
            </li>
          )}
        </For>
      </ol>
    </section>
  );
}
