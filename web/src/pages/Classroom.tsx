import { A, useParams } from "@solidjs/router";
import { createResource, createSignal, For, onCleanup, Show, type JSX } from "solid-js";
import type { ClassResponse } from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { useToasts } from "../components/Toasts";
import { Board } from "../live/board/Board";
import { createDeckFiles } from "../live/board/deck-files";
import { DeckControls } from "../live/board/DeckControls";
import { ChatPanel } from "../live/ChatPanel";
import { ClassChannel } from "../live/class-channel";
import { MediaSession } from "../live/media";
import { MediaStage } from "../live/MediaStage";
import { ParticipantList } from "../live/ParticipantList";
import { PollsPanel } from "../live/PollsPanel";
import { RecordingControl } from "../recordings/RecordingControl";
import "../live/classroom.css";

const QUICK_REACTIONS = ["👍", "🎉", "❤️", "😂", "👏", "🤔"];

/**
 * The live classroom: the board (a deck page, a blank page or the shared screen, drawn on together) as the main
 * picture when the teacher shows it, audio, video and screen share (MediaStage, over the class's sfu-node), people (roles,
 * hands, presence), chat with emoji, polls, reactions and the teacher's controls over the class channel. A
 * banner shows when the connection drops; the channel reconnects and resyncs by itself.
 */
export default function Classroom(): JSX.Element {
  const params = useParams();
  const toasts = useToasts();
  const [detail] = createResource(
    () => params.id,
    async (id) => (await api<ClassResponse>(`/api/classes/${id}`)).class,
  );
  const channel = new ClassChannel(params.id!);
  const media = new MediaSession(channel);
  onCleanup(() => {
    media.close();
    channel.close();
  });
  const state = channel.state;
  const moderator = () => state.you?.role === "teacher" || state.you?.role === "admin";
  const myHand = () => state.participants.find((p) => p.userId === state.you?.userId)?.handRaisedAt ?? null;
  const onError = (error: unknown) => toasts.notify(errorMessage(error), "error");
  const [ending, setEnding] = createSignal(false);
  const decks = createDeckFiles(params.id!, () => moderator() || state.board.presenter !== null);

  const endClass = async () => {
    if (!window.confirm("End the class for everyone?")) return;
    setEnding(true);
    try {
      await channel.request("session.end", {});
    } catch (error) {
      onError(error);
    } finally {
      setEnding(false);
    }
  };

  return (
    <section class="classroom stack">
      <header class="page-head classroom__head">
        <h1>{detail()?.title ?? "Live class"}</h1>
        <A href={`/classes/${params.id}`} class="button button--quiet">
          Leave
        </A>
      </header>

      <Show when={state.status === "closed"}>
        <div class="alert alert--info" role="alert" data-testid="channel-closed">
          <p>{state.closedMessage ?? "You are no longer connected to this class."}</p>
          <A href={`/classes/${params.id}`}>Back to the class page</A>
        </div>
      </Show>
      <Show when={state.status === "reconnecting" || state.status === "connecting"}>
        <p class="alert alert--error classroom__banner" role="status" data-testid="channel-banner">
          {state.status === "connecting" ? "Connecting to the class…" : "Connection lost — reconnecting…"}
        </p>
      </Show>

      <Show when={state.you && state.status !== "closed"}>
        <div class="row classroom__toolbar" role="toolbar" aria-label="Class actions">
          <RecordingControl channel={channel} moderator={moderator()} onError={onError} />
          <Show when={!moderator()}>
            <button
              type="button"
              class="button"
              classList={{ "button--primary": myHand() === null }}
              aria-pressed={myHand() !== null}
              onClick={() => void channel.request(myHand() === null ? "hand.raise" : "hand.lower", {}).catch(onError)}
            >
              {myHand() === null ? "✋ Raise hand" : "Lower hand"}
            </button>
          </Show>
          <span class="row classroom__reactions" aria-label="Reactions">
            <For each={QUICK_REACTIONS}>
              {(emoji) => (
                <button type="button" class="button button--quiet" aria-label={`React ${emoji}`} onClick={() => void channel.request("reaction.send", { emoji }).catch(onError)}>
                  {emoji}
                </button>
              )}
            </For>
          </span>
          <Show when={moderator()}>
            <button type="button" class="button" onClick={() => void channel.request("chat.lock", { locked: !state.session?.chatLocked }).catch(onError)}>
              {state.session?.chatLocked ? "Unlock chat" : "Lock chat"}
            </button>
            <button type="button" class="button button--danger" disabled={ending()} onClick={() => void endClass()}>
              End class
            </button>
          </Show>
        </div>
        <div class="classroom__bursts" aria-live="polite">
          <For each={state.reactions}>
            {(burst) => (
              <span class="classroom__burst">
                {burst.emoji} ×{burst.count}
              </span>
            )}
          </For>
        </div>
        <Show when={moderator()}>
          <DeckControls channel={channel} decks={decks} screenShared={Boolean(media.state.local.screen) || media.state.feeds.some((feed) => feed.source === "screen")} onError={onError} />
        </Show>
        <Show when={state.board.presenter}>
          <Board channel={channel} session={media} moderator={moderator()} decks={decks} onError={onError} />
        </Show>
        <MediaStage channel={channel} session={media} moderator={moderator()} onError={onError} />
        <div class="classroom__grid">
          <ParticipantList channel={channel} moderator={moderator()} onError={onError} />
          <ChatPanel channel={channel} moderator={moderator()} />
          <PollsPanel channel={channel} moderator={moderator()} onError={onError} />
        </div>
      </Show>
    </section>
  );
}
