import { A, useParams, useSearchParams } from "@solidjs/router";
import { createEffect, createMemo, createResource, createSignal, For, Match, onCleanup, Show, Switch, type JSX } from "solid-js";
import type { JoinResponse } from "../../../schema/api/join";
import { ClassResponseSchema } from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { useToasts } from "../components/Toasts";
import { Board } from "../live/board/Board";
import { createDeckFiles } from "../live/board/deck-files";
import { DeckControls } from "../live/board/DeckControls";
import { ChatPanel } from "../live/ChatPanel";
import { ClassChannel } from "../live/class-channel";
import { ControlBar } from "../live/layout/ControlBar";
import { HandsPanel } from "../live/layout/HandsPanel";
import { type PanelTab, SidePanel } from "../live/layout/SidePanel";
import { MediaSession } from "../live/media";
import { MediaStage } from "../live/MediaStage";
import { ParticipantList } from "../live/ParticipantList";
import { PollsPanel } from "../live/PollsPanel";
import { StageControls } from "../live/StageControls";
import { type ClassEntry, checkClassEntry, delayUntil } from "../live/lobby/class-entry";
import { ClassEnded } from "../live/lobby/ClassEnded";
import { Lobby } from "../live/lobby/Lobby";
import { RecordingNotice } from "../recordings/RecordingNotice";
import "../live/classroom.css";

/**
 * The live page: asks the join API first, then shows the lobby (too early: a countdown, and it enters by itself
 * when the room opens), the "class has ended" page, or the class itself, without a reload in between. When the
 * class ends while one is in it, the page asks again and shows the ended page.
 *
 * A teacher who pressed "Start class now" on the dashboard comes with `?start=now` and skips the lobby.
 */
export default function Classroom(): JSX.Element {
  const params = useParams();
  const [search] = useSearchParams();
  const [detail] = createResource(
    () => params.id,
    async (id) => (await api(`/api/classes/${id}`, ClassResponseSchema)).class,
  );
  const [entry, setEntry] = createSignal<ClassEntry | null>(null);
  const [entered, setEntered] = createSignal<JoinResponse | null>(null);
  let startNow = search.start === "now";
  let retry: ReturnType<typeof setTimeout> | undefined;
  let left = false;
  onCleanup(() => {
    left = true;
    clearTimeout(retry);
  });

  const check = async () => {
    clearTimeout(retry);
    const next = await checkClassEntry(params.id!);
    // The person went elsewhere while the answer was on its way: no class to enter, no timer to set.
    if (left) return;
    const skipLobby = startNow && next.kind === "early" && next.join !== null;
    startNow = false;
    if (next.kind === "enter" || skipLobby) {
      setEntry(null);
      setEntered(next.join);
      return;
    }
    setEntered(null);
    setEntry(next);
    // Asked again at the opening (jittered); and, if the server still says "not yet" then (a clock ahead of the
    // server's), every few seconds.
    const now = Date.now();
    if (next.kind === "early")
      retry = setTimeout(() => void check(), next.upcoming.opensAt > now ? delayUntil(next.upcoming.opensAt, now) : 3_000 + Math.random() * 3_000);
    if (next.kind === "refused" && next.retry) retry = setTimeout(() => void check(), 5_000 + Math.random() * 5_000);
  };
  void check();
  const title = () => detail()?.title ?? "Live class";
  const of =
    <K extends ClassEntry["kind"]>(kind: K) =>
    () => {
      const current = entry();
      return current?.kind === kind ? (current as Extract<ClassEntry, { kind: K }>) : null;
    };
  const early = of("early");
  const ended = of("ended");
  const refused = of("refused");

  return (
    <Switch>
      <Match when={entered()} keyed>
        {(join) => <LiveClassroom title={detail()?.title} firstJoin={join} onEnded={() => void check()} />}
      </Match>
      <Match when={early()}>
        {(wait) => <Lobby classId={params.id!} title={title()} upcoming={wait().upcoming} join={wait().join} onEnter={setEntered} />}
      </Match>
      <Match when={ended()}>{(over) => <ClassEnded classId={params.id!} title={title()} ended={over().ended} join={over().join} onEnter={setEntered} />}</Match>
      <Match when={refused()}>
        {(refusal) => (
          <section class="lobby">
            <h1>{title()}</h1>
            <p class="alert alert--error" role="alert" data-testid="entry-refused">
              {refusal().message}
            </p>
            <A href={`/classes/${params.id}`}>Back to the class page</A>
          </section>
        )}
      </Match>
      <Match when={true}>
        <p class="muted lobby">Opening the class…</p>
      </Match>
    </Switch>
  );
}

/**
 * The live classroom as one screen: a slim head (title, connection state, the panel's toggle), the main picture
 * (the board when a teacher shows it — a deck page, a blank page or the shared screen, drawn on together — else
 * a screen share, else the teacher's camera) over a strip of the other cameras and one control bar, and beside
 * it a side panel with tabs: chat, people (with the teacher's stage list), polls, hands, and the teacher's board
 * controls. On a phone the picture comes first and the panel below it. A banner shows when the connection
 * drops; the channel reconnects and resyncs by itself.
 */
function LiveClassroom(props: { title: string | undefined; firstJoin: JoinResponse; onEnded: () => void }): JSX.Element {
  const params = useParams();
  const toasts = useToasts();
  const channel = new ClassChannel(params.id!, props.firstJoin);
  const media = new MediaSession(channel);
  onCleanup(() => {
    media.close();
    channel.close();
  });
  const state = channel.state;
  createEffect(() => {
    if (state.ended) props.onEnded();
  });
  const moderator = () => state.you?.role === "teacher" || state.you?.role === "admin";
  const onError = (error: unknown) => toasts.notify(errorMessage(error), "error");
  const [ending, setEnding] = createSignal(false);
  const [panelOpen, setPanelOpen] = createSignal(true);
  const [tab, setTab] = createSignal("chat");
  const decks = createDeckFiles(params.id!, () => moderator() || state.board.presenter !== null);
  const boardShown = () => state.board.presenter !== null;
  const mayDraw = () => moderator() || state.board.pens.includes(state.you?.userId ?? "");
  const hands = () => state.participants.filter((p) => p.handRaisedAt !== null).length;

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

  // Built once per role (not on every count change), so that the tabs' contents stay mounted; the counts are getters.
  const tabs = createMemo((): PanelTab[] => [
    {
      value: "chat",
      label: "Chat",
      content: () => (
        <>
          <Show when={moderator()}>
            <div class="row classroom__chat-tools">
              <button
                type="button"
                class="button button--small"
                onClick={() => void channel.request("chat.lock", { locked: !state.session?.chatLocked }).catch(onError)}
              >
                {state.session?.chatLocked ? "Unlock chat" : "Lock chat"}
              </button>
            </div>
          </Show>
          <ChatPanel channel={channel} moderator={moderator()} />
        </>
      ),
    },
    {
      value: "people",
      label: "People",
      get count() {
        return state.headCount;
      },
      content: () => (
        <>
          <ParticipantList channel={channel} moderator={moderator()} onError={onError} />
          <Show when={moderator()}>
            <StageControls channel={channel} onError={onError} />
          </Show>
        </>
      ),
    },
    { value: "polls", label: "Polls", content: () => <PollsPanel channel={channel} moderator={moderator()} onError={onError} /> },
    {
      value: "hands",
      label: "Hands",
      get count() {
        return hands();
      },
      content: () => <HandsPanel channel={channel} moderator={moderator()} onError={onError} />,
    },
    ...(moderator()
      ? [
          {
            value: "board",
            label: "Board",
            content: () => (
              <DeckControls
                channel={channel}
                decks={decks}
                screenShared={Boolean(media.state.local.screen) || media.state.feeds.some((feed) => feed.source === "screen")}
                onError={onError}
              />
            ),
          },
        ]
      : []),
  ]);

  return (
    <section class="classroom" classList={{ "classroom--panel-closed": !panelOpen() }}>
      <header class="classroom__head">
        <h1 class="classroom__title">{props.title ?? "Live class"}</h1>
        <Show when={state.status === "reconnecting" || state.status === "connecting"}>
          <p class="alert alert--error classroom__banner" role="status" data-testid="channel-banner">
            {state.status === "connecting" ? "Connecting to the class…" : "Connection lost — reconnecting…"}
          </p>
        </Show>
        <Show when={state.you && state.status !== "closed"}>
          <RecordingNotice channel={channel} />
        </Show>
        <Show when={state.you && state.status !== "closed"}>
          <button
            type="button"
            class="button button--quiet classroom__panel-toggle"
            aria-expanded={panelOpen()}
            aria-controls="classroom-panel"
            onClick={() => setPanelOpen(!panelOpen())}
          >
            {panelOpen() ? "Hide panel" : "Show panel"}
          </button>
        </Show>
      </header>

      <Show when={state.status === "closed"}>
        <div class="alert alert--info classroom__closed" role="alert" data-testid="channel-closed">
          <p>{state.closedMessage ?? "You are no longer connected to this class."}</p>
          <A href={`/classes/${params.id}`}>Back to the class page</A>
        </div>
      </Show>

      <Show when={state.you && state.status !== "closed"}>
        <div class="classroom__stage">
          <MediaStage
            channel={channel}
            session={media}
            moderator={moderator()}
            onError={onError}
            boardShown={boardShown()}
            board={<Board channel={channel} session={media} moderator={moderator()} decks={decks} onError={onError} />}
            overlay={
              <div class="classroom__bursts" aria-live="polite">
                <For each={state.reactions}>
                  {(burst) => (
                    <span class="classroom__burst">
                      {burst.emoji} ×{burst.count}
                    </span>
                  )}
                </For>
              </div>
            }
          />
          <ControlBar
            channel={channel}
            session={media}
            moderator={moderator()}
            boardTakesH={boardShown() && mayDraw()}
            classId={params.id!}
            ending={ending()}
            onEnd={() => void endClass()}
            onError={onError}
          />
        </div>
        <SidePanel id="classroom-panel" tabs={tabs()} selected={tab()} onSelect={setTab} open={panelOpen()} />
      </Show>
    </section>
  );
}
