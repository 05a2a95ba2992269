import { createSignal, For, Index, Show, type JSX } from "solid-js";
import { CLASSROOM_LIMITS, type Poll } from "../../../schema/protocol/classroom";
import type { ClassChannel } from "./class-channel";
import { isolate } from "../bidi";

/** Polls: moderators create, close and publish them and watch live bars; students vote and see published results. */
export function PollsPanel(props: { channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  return (
    <section class="card polls" aria-label="Polls">
      <h2 class="card__title">Polls</h2>
      <Show when={props.moderator}>
        <PollCreator channel={props.channel} onError={props.onError} />
      </Show>
      <For each={[...state.polls].reverse()} fallback={<p class="muted">No polls yet.</p>}>
        {(poll) => <PollCard poll={poll} channel={props.channel} moderator={props.moderator} onError={props.onError} />}
      </For>
    </section>
  );
}

function PollCreator(props: { channel: ClassChannel; onError: (error: unknown) => void }): JSX.Element {
  const [open, setOpen] = createSignal(false);
  const [question, setQuestion] = createSignal("");
  const [options, setOptions] = createSignal(["", ""]);
  const [multipleChoice, setMultipleChoice] = createSignal(false);
  const [anonymous, setAnonymous] = createSignal(false);
  const [minutes, setMinutes] = createSignal("");

  const submit = async (event: Event) => {
    event.preventDefault();
    const seconds = Number(minutes()) * 60;
    try {
      await props.channel.request("poll.create", {
        question: question(),
        options: options().filter((o) => o.trim()),
        multipleChoice: multipleChoice(),
        anonymous: anonymous(),
        ...(minutes() && seconds > 0 ? { durationSeconds: Math.round(seconds) } : {}),
      });
      setQuestion("");
      setOptions(["", ""]);
      setOpen(false);
    } catch (error) {
      props.onError(error);
    }
  };

  return (
    <Show
      when={open()}
      fallback={
        <button type="button" class="button" onClick={() => setOpen(true)}>
          New poll
        </button>
      }
    >
      <form class="stack poll-form" onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="poll-question">Question</label>
          <input id="poll-question" class="input" required maxLength={500} value={question()} onInput={(e) => setQuestion(e.currentTarget.value)} />
        </div>
        <Index each={options()}>
          {(option, index) => (
            <div class="field row">
              <label for={`poll-option-${index}`} class="visually-hidden">
                Option {index + 1}
              </label>
              <input
                id={`poll-option-${index}`}
                class="input"
                placeholder={`Option ${index + 1}`}
                maxLength={200}
                value={option()}
                onInput={(e) => setOptions((all) => all.map((o, i) => (i === index ? e.currentTarget.value : o)))}
              />
              <Show when={options().length > CLASSROOM_LIMITS.pollMinOptions}>
                <button
                  type="button"
                  class="button button--quiet button--small"
                  aria-label={`Remove option ${index + 1}`}
                  onClick={() => setOptions((all) => all.filter((_, i) => i !== index))}
                >
                  ✕
                </button>
              </Show>
            </div>
          )}
        </Index>
        <Show when={options().length < CLASSROOM_LIMITS.pollMaxOptions}>
          <button type="button" class="button button--quiet button--small" onClick={() => setOptions((all) => [...all, ""])}>
            Add option
          </button>
        </Show>
        <label class="check">
          <input type="checkbox" checked={multipleChoice()} onChange={(e) => setMultipleChoice(e.currentTarget.checked)} /> Several answers allowed
        </label>
        <label class="check">
          <input type="checkbox" checked={anonymous()} onChange={(e) => setAnonymous(e.currentTarget.checked)} /> Anonymous
        </label>
        <div class="field">
          <label for="poll-minutes">Closes after (minutes, optional)</label>
          <input id="poll-minutes" class="input" type="number" min="1" max="60" value={minutes()} onInput={(e) => setMinutes(e.currentTarget.value)} />
        </div>
        <div class="form-actions">
          <button type="submit" class="button button--primary">
            Start poll
          </button>
          <button type="button" class="button button--quiet" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </form>
    </Show>
  );
}

function PollCard(props: { poll: Poll; channel: ClassChannel; moderator: boolean; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  const [choice, setChoice] = createSignal<string[]>([]);
  const mine = () => state.myVotes[props.poll.id] ?? [];
  const selected = () => (choice().length > 0 ? choice() : mine());
  const toggle = (optionId: string, checked: boolean) => {
    if (!props.poll.multipleChoice) return setChoice([optionId]);
    const base = selected().filter((id) => id !== optionId);
    setChoice(checked ? [...base, optionId] : base);
  };
  const vote = async (event: Event) => {
    event.preventDefault();
    try {
      const { optionIds } = await props.channel.request("poll.vote", { pollId: props.poll.id, optionIds: selected() });
      props.channel.recordVote(props.poll.id, optionIds);
      setChoice([]);
    } catch (error) {
      props.onError(error);
    }
  };
  const act = (method: "poll.close" | "poll.publish") => void props.channel.request(method, { pollId: props.poll.id }).catch(props.onError);
  const canVote = () => !props.moderator && props.poll.status === "open";

  return (
    <article class="poll" data-testid="poll">
      <h3 class="poll__question" dir="auto">
        {props.poll.question}
      </h3>
      <p class="small muted">
        {props.poll.status === "open" ? "Open" : props.poll.status === "closed" ? "Closed" : "Results"}
        {props.poll.anonymous ? " · anonymous" : ""}
        {props.poll.multipleChoice ? " · several answers" : ""}
        <Show when={props.poll.totalVoters !== null}> · {props.poll.totalVoters} voted</Show>
      </p>
      <form onSubmit={(e) => void vote(e)}>
        <ul class="poll__options">
          <For each={props.poll.options}>
            {(option) => {
              const share = () => (props.poll.totalVoters ? Math.round(((option.votes ?? 0) / props.poll.totalVoters) * 100) : 0);
              return (
                <li class="poll__option">
                  <Show when={canVote()} fallback={<bdi>{option.label}</bdi>}>
                    <label class="check">
                      <input
                        type={props.poll.multipleChoice ? "checkbox" : "radio"}
                        name={`poll-${props.poll.id}`}
                        checked={selected().includes(option.id)}
                        onChange={(e) => toggle(option.id, e.currentTarget.checked)}
                      />
                      <bdi>{option.label}</bdi>
                    </label>
                  </Show>
                  <Show when={option.votes !== null}>
                    <span class="poll__bar" role="img" aria-label={`${option.label}: ${option.votes} votes`}>
                      <span class="poll__fill" style={{ width: `${share()}%` }} />
                    </span>
                    <span class="small" data-testid="poll-count">
                      {option.votes}
                    </span>
                  </Show>
                  <Show when={option.voters && option.voters.length > 0}>
                    <span class="small muted">{option.voters!.map((v) => isolate(v.displayName)).join(", ")}</span>
                  </Show>
                </li>
              );
            }}
          </For>
        </ul>
        <Show when={canVote()}>
          <button type="submit" class="button button--primary button--small" disabled={selected().length === 0}>
            {mine().length > 0 ? "Change vote" : "Vote"}
          </button>
          <Show when={mine().length > 0}>
            <span class="small muted"> Your vote is in.</span>
          </Show>
        </Show>
      </form>
      <Show when={props.moderator}>
        <div class="row">
          <Show when={props.poll.status === "open"}>
            <button type="button" class="button button--small" onClick={() => act("poll.close")}>
              Close
            </button>
          </Show>
          <Show when={props.poll.status !== "published"}>
            <button type="button" class="button button--small" onClick={() => act("poll.publish")}>
              Publish results
            </button>
          </Show>
        </div>
      </Show>
    </article>
  );
}
