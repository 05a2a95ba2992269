import { createMemo, createSignal, For, Show, type JSX } from "solid-js";
import type { Participant } from "../../../schema/protocol/classroom";
import type { ClassChannel } from "./class-channel";
import { isolate } from "../bidi";
import { PeopleDirectory } from "./PeopleDirectory";

const ROLE_ORDER = { teacher: 0, admin: 1, student: 2 } as const;

/**
 * People in the class with role, presence and hand, under the head count. Moderators see everyone, with the
 * controls for each student; a student sees the teachers, the stage, raised hands and themselves, and opens the
 * whole class with "Show everyone".
 */
export function ParticipantList(props: { channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  const people = createMemo(() =>
    [...state.participants].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.displayName.localeCompare(b.displayName)),
  );
  const hands = createMemo(() => state.participants.filter((p) => p.handRaisedAt !== null).sort((a, b) => a.handRaisedAt! - b.handRaisedAt!));
  const act = (promise: Promise<unknown>) => void promise.catch(props.onError);
  const [everyoneOpen, setEveryoneOpen] = createSignal(false);

  const holdsPen = (userId: string) => state.board.pens.includes(userId);

  const controls = (person: Participant) => (
    <span class="row participants__controls">
      <button
        type="button"
        class="button button--quiet button--small"
        aria-label={holdsPen(person.userId) ? `Take pen from ${person.displayName}` : `Give pen to ${person.displayName}`}
        aria-pressed={holdsPen(person.userId)}
        onClick={() => act(props.channel.request("board.pen", { userId: person.userId, allowed: !holdsPen(person.userId) }))}
      >
        {holdsPen(person.userId) ? "Take pen" : "Give pen"}
      </button>
      <button
        type="button"
        class="button button--quiet button--small"
        onClick={() => act(props.channel.request("participant.mute", { userId: person.userId, muted: !person.chatMuted }))}
      >
        {person.chatMuted ? "Unmute chat" : "Mute chat"}
      </button>
      <button
        type="button"
        class="button button--quiet button--small"
        onClick={() => act(props.channel.request("participant.remove", { userId: person.userId }))}
      >
        Remove
      </button>
      <button
        type="button"
        class="button button--danger button--small"
        onClick={() => {
          if (window.confirm(`Block ${isolate(person.displayName)} from this class? They are removed now and cannot rejoin.`))
            act(props.channel.request("participant.block", { userId: person.userId }));
        }}
      >
        Block
      </button>
    </span>
  );

  return (
    <section class="card participants" aria-label="Participants">
      <div class="row participants__head">
        <h2 class="card__title">People</h2>
        <span class="muted" data-testid="head-count">
          {state.headCount} in class
        </span>
      </div>
      <Show when={hands().length > 0}>
        <h3 class="small">Raised hands</h3>
        <ol class="list hands" data-testid="hand-queue">
          <For each={hands()}>
            {(person) => (
              <li class="row">
                <span>
                  ✋ <bdi>{person.displayName}</bdi>
                </span>
                <Show when={props.moderator}>
                  <button type="button" class="button button--small" onClick={() => act(props.channel.request("hand.lower", { userId: person.userId }))}>
                    Lower
                  </button>
                </Show>
              </li>
            )}
          </For>
        </ol>
      </Show>
      <ul class="list" data-testid="participants">
        <For each={people()}>
          {(person) => (
            <li class="participants__person" classList={{ "participants__person--away": !person.present }}>
              <span class="participants__name">
                <bdi>{person.displayName}</bdi>
                <Show when={person.userId === state.you?.userId}> (you)</Show>
              </span>
              <Show when={person.role !== "student"}>
                <span class="badge">{person.role}</span>
              </Show>
              <Show when={person.handRaisedAt !== null}>
                <span aria-label="hand raised">✋</span>
              </Show>
              <Show when={!person.present}>
                <span class="muted small">reconnecting…</span>
              </Show>
              <Show when={state.board.pens.includes(person.userId)}>
                <span class="badge" title="May draw on the board">
                  ✎ pen
                </span>
              </Show>
              <Show when={person.chatMuted}>
                <span class="muted small">chat muted</span>
              </Show>
              <Show when={props.moderator && person.role === "student"}>{controls(person)}</Show>
            </li>
          )}
        </For>
      </ul>
      <Show when={!props.moderator}>
        <button type="button" class="button button--small" onClick={() => setEveryoneOpen(true)}>
          Show everyone
        </button>
        <PeopleDirectory channel={props.channel} open={everyoneOpen()} onOpenChange={setEveryoneOpen} onError={props.onError} />
      </Show>
    </section>
  );
}
