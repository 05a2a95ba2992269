import { createEffect, createSignal, For, on, Show, type JSX } from "solid-js";
import { CLASSROOM_LIMITS } from "../../../schema/protocol/classroom";
import { errorMessage } from "../api";
import { useSession } from "../session";
import { formatTime } from "../time";
import type { ClassChannel } from "./class-channel";
import { EmojiButton } from "./EmojiButton";
import { AttachFile } from "./chat/AttachFile";
import { ChatAttachment } from "./chat/ChatAttachment";
import "./chat/chat-files.css";

/** Closer than this to the bottom counts as "reading the newest": new messages scroll into view. */
const STICK_TO_BOTTOM_PX = 48;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const graphemeCount = (text: string) => [...segmenter.segment(text)].length;

/**
 * Chat with an emoji picker and shared files (teachers and admins always; students while the teacher allows
 * it). It follows new messages only while the reader is at the bottom. */
export function ChatPanel(props: { channel: ClassChannel; moderator: boolean }): JSX.Element {
  const state = props.channel.state;
  const session = useSession();
  const [draft, setDraft] = createSignal("");
  const [error, setError] = createSignal<string | null>(null);
  const [atBottom, setAtBottom] = createSignal(true);
  const [unread, setUnread] = createSignal(0);
  let list: HTMLOListElement | undefined;
  let input: HTMLTextAreaElement | undefined;

  const scrollToBottom = () => {
    if (list) list.scrollTop = list.scrollHeight;
    setUnread(0);
  };
  createEffect(
    on(
      () => state.chat.length,
      (length, previous) => {
        if (atBottom()) queueMicrotask(scrollToBottom);
        else if (previous !== undefined && length > previous) setUnread((n) => n + length - previous);
      },
    ),
  );
  const onScroll = () => {
    if (!list) return;
    const bottom = list.scrollHeight - list.scrollTop - list.clientHeight < STICK_TO_BOTTOM_PX;
    setAtBottom(bottom);
    if (bottom) setUnread(0);
  };

  const locked = () => (state.session?.chatLocked ?? false) && !props.moderator;
  const muted = () => state.participants.find((p) => p.userId === state.you?.userId)?.chatMuted ?? false;
  const length = () => graphemeCount(draft());
  const mayShare = () => props.moderator || (state.session?.filesAllowed ?? false);
  const cannotPost = () => locked() || muted() || state.status !== "open";

  /** Posts the uploaded file with whatever is typed as its caption. */
  const sendFile = async (fileId: string) => {
    const body = draft();
    if (length() > CLASSROOM_LIMITS.maxChatGraphemes) throw new Error("Shorten the message to send it with the file");
    setDraft("");
    setAtBottom(true);
    try {
      await props.channel.sendChat(body.trim() ? body : "", fileId);
    } catch (failure) {
      if (!draft()) setDraft(body);
      throw failure;
    }
  };

  const send = async (event?: Event) => {
    event?.preventDefault();
    const body = draft();
    if (!body.trim() || length() > CLASSROOM_LIMITS.maxChatGraphemes) return;
    setError(null);
    setDraft("");
    setAtBottom(true);
    try {
      await props.channel.sendChat(body);
    } catch (failure) {
      setError(errorMessage(failure));
      if (!draft()) setDraft(body);
    }
  };
  const insertEmoji = (emoji: string) => {
    const start = input?.selectionStart ?? draft().length;
    const end = input?.selectionEnd ?? start;
    setDraft(draft().slice(0, start) + emoji + draft().slice(end));
    queueMicrotask(() => {
      input?.focus();
      input?.setSelectionRange(start + emoji.length, start + emoji.length);
    });
  };

  return (
    <section class="card chat" aria-label="Chat">
      <h2 class="card__title">Chat</h2>
      <Show when={props.moderator && state.session}>
        <label class="chat-files-toggle small">
          <input
            type="checkbox"
            checked={state.session?.filesAllowed ?? false}
            data-testid="chat-files-allowed"
            onChange={(event) => {
              const box = event.currentTarget;
              const allowed = box.checked;
              void props.channel.request("files.allow", { allowed }).catch((failure) => {
                box.checked = !allowed;
                setError(errorMessage(failure));
              });
            }}
          />
          Allow students to share files
        </label>
      </Show>
      <ol class="chat__list" ref={list} onScroll={onScroll} aria-live="polite" data-testid="chat-list">
        <For each={state.chat} fallback={<li class="muted">No messages yet.</li>}>
          {(message) => (
            <li class="chat__message" classList={{ "chat__message--mine": message.userId === state.you?.userId }}>
              <span class="chat__author">
                <bdi data-testid="chat-name">{message.displayName}</bdi>
                <Show when={message.role !== "student"}>
                  <span class="badge">{message.role}</span>
                </Show>
              </span>
              <time class="chat__time muted small" data-testid="chat-time" datetime={new Date(message.createdAt).toISOString()}>
                {formatTime(message.createdAt, session.timeZone())}
              </time>
              <Show when={message.body}>
                <p class="chat__body" dir="auto">
                  {message.body}
                </p>
              </Show>
              <Show when={message.attachment}>{(attachment) => <ChatAttachment attachment={attachment()} />}</Show>
              <Show when={props.moderator}>
                <button
                  type="button"
                  class="button button--quiet button--small"
                  aria-label={`Delete message from ${message.displayName}`}
                  onClick={() => void props.channel.request("chat.delete", { messageId: message.id }).catch((e) => setError(errorMessage(e)))}
                >
                  Delete
                </button>
              </Show>
            </li>
          )}
        </For>
      </ol>
      <Show when={unread() > 0}>
        <button type="button" class="button button--small chat__unread" onClick={scrollToBottom}>
          {unread()} new message{unread() === 1 ? "" : "s"} ↓
        </button>
      </Show>
      <Show when={locked() || muted()}>
        <p class="alert alert--info">{locked() ? "The teacher has locked the chat." : "The teacher has muted your chat."}</p>
      </Show>
      <form class="chat__form" onSubmit={(e) => void send(e)}>
        <label class="visually-hidden" for="chat-input">
          Message
        </label>
        <textarea
          id="chat-input"
          ref={input}
          class="textarea chat__input"
          rows={2}
          placeholder="Say something…"
          value={draft()}
          disabled={locked() || muted() || state.status !== "open"}
          aria-invalid={length() > CLASSROOM_LIMITS.maxChatGraphemes}
          aria-describedby="chat-length"
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) void send(e);
          }}
        />
        <EmojiButton onPick={insertEmoji} />
        <Show when={mayShare()}>
          <AttachFile classId={props.channel.classId} disabled={cannotPost()} onUploaded={(file) => sendFile(file.id)} onError={setError} />
        </Show>
        <button
          type="submit"
          class="button button--primary"
          disabled={!draft().trim() || length() > CLASSROOM_LIMITS.maxChatGraphemes || locked() || muted() || state.status !== "open"}
        >
          Send
        </button>
      </form>
      <Show when={length() > CLASSROOM_LIMITS.maxChatGraphemes - 200}>
        {/* Over the limit the counter says so in place (not a grey count beside a Send that does nothing). */}
        <p
          id="chat-length"
          class="small"
          classList={{ muted: length() <= CLASSROOM_LIMITS.maxChatGraphemes, field__error: length() > CLASSROOM_LIMITS.maxChatGraphemes }}
          role={length() > CLASSROOM_LIMITS.maxChatGraphemes ? "alert" : undefined}
          data-testid="chat-length"
        >
          {length() > CLASSROOM_LIMITS.maxChatGraphemes
            ? `${length() - CLASSROOM_LIMITS.maxChatGraphemes} characters too long (${length()} / ${CLASSROOM_LIMITS.maxChatGraphemes}): shorten the message to send it.`
            : `${length()} / ${CLASSROOM_LIMITS.maxChatGraphemes}`}
        </p>
      </Show>
      <Show when={error()}>
        <p class="alert alert--error" role="alert">
          {error()}
        </p>
      </Show>
    </section>
  );
}
