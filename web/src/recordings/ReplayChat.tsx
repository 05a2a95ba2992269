import { createEffect, For, type JSX, Show } from "solid-js";
import type { ReplayChatMessage } from "../../../schema/api/recording-viewer";
import { formatDuration } from "./format";

/** The message last sent at or before `seconds` into the recording (-1 before the first). */
export function currentMessageIndex(messages: readonly ReplayChatMessage[], seconds: number): number {
  let low = 0;
  let high = messages.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (messages[middle]!.atMs <= seconds * 1000) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/**
 * The class's chat beside the replay, read-only: the message sent at the moment playing now is highlighted and
 * kept in view as the video plays (the list scrolls by itself; the page does not move).
 */
export function ReplayChat(props: { messages: readonly ReplayChatMessage[]; time: number; id: string }): JSX.Element {
  let list: HTMLOListElement | undefined;
  const current = () => currentMessageIndex(props.messages, props.time);
  createEffect(() => {
    const index = current();
    const item = index >= 0 ? (list?.children[index] as HTMLElement | undefined) : undefined;
    if (!list || !item) return;
    // The list is positioned, so offsetTop counts from its top.
    const top = item.offsetTop;
    if (top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight)
      list.scrollTo({ top: Math.max(0, top - list.clientHeight / 2 + item.offsetHeight / 2), behavior: "smooth" });
  });
  return (
    <section class="replay-panel" id={props.id} aria-labelledby="replay-chat-heading" data-testid="replay-chat">
      <h2 id="replay-chat-heading">Chat</h2>
      <Show when={props.messages.length > 0} fallback={<p class="muted">Nobody wrote in the chat during this class.</p>}>
        <ol class="replay-chat" ref={list} aria-live="off">
          <For each={props.messages}>
            {(message, index) => (
              <li class="replay-chat__message" data-testid="replay-message" aria-current={index() === current() ? "true" : undefined}>
                <span class="replay-chat__meta">
                  <span class="replay-chat__author">{message.author.displayName}</span>{" "}
                  <span class="replay-chat__time">{message.atMs < 0 ? "before the recording" : formatDuration(message.atMs)}</span>
                </span>
                <span class="replay-chat__body" dir="auto">
                  {message.body}
                </span>
                <Show when={message.fileName}>{(name) => <span class="replay-chat__file">Shared a file: {name()}</span>}</Show>
              </li>
            )}
          </For>
        </ol>
      </Show>
    </section>
  );
}
