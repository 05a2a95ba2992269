import { createEffect, createSignal, For, on, onCleanup, Show, type JSX } from "solid-js";
import * as v from "valibot";
import { type PeopleListEntry, PeopleListResponseSchema } from "../../../schema/protocol/classroom";
import { Modal } from "../components/Modal";
import type { ClassChannel } from "./class-channel";

/** People per page of `people.list`: a few screens of a phone. */
const PAGE_SIZE = 25;
/** A search waits for typing to pause this long, so a name typed letter by letter asks once. */
const SEARCH_PAUSE_MS = 300;

/**
 * Everyone in the class, for a student (whose own list holds only the teachers, the stage and raised hands):
 * pages of `people.list` in join order, "Load more" for the next, and a search by name that starts over.
 */
export function PeopleDirectory(props: {
  channel: ClassChannel;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onError: (error: unknown) => void;
}): JSX.Element {
  const state = props.channel.state;
  const [people, setPeople] = createSignal<PeopleListEntry[]>([]);
  const [nextCursor, setNextCursor] = createSignal<number | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [query, setQuery] = createSignal("");
  /** Bumped by every fresh start (opening, a new search), so an answer to an older one is dropped. */
  let generation = 0;
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(searchTimer));

  const load = async (fresh: boolean) => {
    const mine = fresh ? ++generation : generation;
    const cursor = fresh ? null : nextCursor();
    const search = query().trim();
    setLoading(true);
    try {
      const answer = await props.channel.request("people.list", {
        limit: PAGE_SIZE,
        ...(cursor === null ? {} : { cursor }),
        ...(search ? { query: search } : {}),
      });
      const page = v.parse(PeopleListResponseSchema, answer);
      if (mine !== generation) return;
      setPeople(fresh ? page.people : [...people(), ...page.people]);
      setNextCursor(page.nextCursor);
    } catch (error) {
      if (mine === generation) props.onError(error);
    } finally {
      if (mine === generation) setLoading(false);
    }
  };

  createEffect(
    on(
      () => props.open,
      (open) => {
        if (!open) return;
        setQuery("");
        setPeople([]);
        setNextCursor(null);
        void load(true);
      },
    ),
  );

  const search = (text: string) => {
    setQuery(text);
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void load(true), SEARCH_PAUSE_MS);
  };

  return (
    <Modal open={props.open} onOpenChange={props.onOpenChange} title="Everyone in the class" description={`${state.headCount} in class`}>
      <div class="people-directory">
        <label class="field">
          <span>Search by name</span>
          <input type="search" class="input" value={query()} onInput={(event) => search(event.currentTarget.value)} />
        </label>
        <ul class="list people-directory__list" data-testid="everyone">
          <For each={people()} fallback={<li class="muted">{loading() ? "Loading…" : "Nobody by that name is in the class."}</li>}>
            {(person) => (
              <li class="participants__person" classList={{ "participants__person--away": !person.present }}>
                <span class="participants__name">
                  <bdi>{person.displayName}</bdi>
                  <Show when={person.userId === state.you?.userId}> (you)</Show>
                </span>
                <Show when={person.role !== "student"}>
                  <span class="badge">{person.role}</span>
                </Show>
                <Show when={person.onStage}>
                  <span class="badge">on stage</span>
                </Show>
                <Show when={person.handRaisedAt !== null}>
                  <span aria-label="hand raised">✋</span>
                </Show>
                <Show when={!person.present}>
                  <span class="muted small">reconnecting…</span>
                </Show>
              </li>
            )}
          </For>
        </ul>
        <Show when={nextCursor() !== null}>
          <button type="button" class="button button--small" disabled={loading()} onClick={() => void load(false)}>
            {loading() ? "Loading…" : "Load more"}
          </button>
        </Show>
      </div>
    </Modal>
  );
}
