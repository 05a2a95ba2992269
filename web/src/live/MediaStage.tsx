import { createEffect, createMemo, createSignal, For, Show, type JSX } from "solid-js";
import type { ClassChannel } from "./class-channel";
import { deviceChoices, playOnChosenSpeaker } from "./device-check/device-choices";
import { FullscreenButton } from "./layout/FullscreenButton";
import type { MediaSession, RemoteFeed } from "./media";
import { VideoTile } from "./VideoTile";
import "./media.css";

/** What one person's tile shows; rebuilt on every change, while the tile itself stays (keyed by user id). */
interface PersonMedia {
  userId: string;
  name: string;
  role: "student" | "teacher" | "admin";
  local: boolean;
  video: { track: MediaStreamTrack; paused: boolean; feed: RemoteFeed | null } | null;
  audio: "live" | "muted" | "none";
}

const STATUS_TEXT: Record<string, string> = {
  idle: "Waiting for the class…",
  joining: "Connecting audio and video…",
  reconnecting: "Audio and video reconnecting…",
  unavailable: "No media server is available right now; retrying…",
};

/**
 * The classroom's pictures: one main picture (the board when a teacher shows it, else a screen share, else the
 * teacher's camera) with a fullscreen button, and a strip of the other cameras (students on stage, you, and the
 * teacher's camera while the main picture shows something else). Remote audio plays through hidden audio
 * elements; if the browser blocks autoplay, a button turns the sound on. The controls live in the control bar.
 */
export function MediaStage(props: {
  channel: ClassChannel;
  session: MediaSession;
  moderator: boolean;
  onError: (error: unknown) => void;
  /** Whether the board is shown, and the board itself (read once, only while shown). */
  boardShown: boolean;
  board: JSX.Element;
  /** Drawn over the main picture (reaction bursts). */
  overlay?: JSX.Element;
}): JSX.Element {
  const state = props.session.state;
  const channelState = props.channel.state;
  const [soundBlocked, setSoundBlocked] = createSignal(false);
  let audioBox!: HTMLDivElement;
  let mainArea!: HTMLDivElement;

  const nameOf = (userId: string) => channelState.participants.find((p) => p.userId === userId)?.displayName ?? "Someone";
  const roleOf = (userId: string) => channelState.participants.find((p) => p.userId === userId)?.role ?? "student";

  const people = createMemo<Map<string, PersonMedia>>(() => {
    const me = props.session.myUserId;
    const byUser = new Map<string, PersonMedia>();
    const tile = (userId: string): PersonMedia => {
      let entry = byUser.get(userId);
      if (!entry) {
        entry = { userId, name: nameOf(userId), role: roleOf(userId), local: userId === me, video: null, audio: "none" };
        byUser.set(userId, entry);
      }
      return entry;
    };
    for (const feed of state.feeds) {
      if (feed.source === "screen") continue;
      const entry = tile(feed.userId);
      if (feed.source === "video") entry.video = { track: feed.track, paused: feed.producerPaused, feed };
      else entry.audio = feed.producerPaused ? "muted" : "live";
    }
    if (me && (state.local.audio || state.local.video)) {
      const entry = tile(me);
      if (state.local.video) entry.video = { track: state.local.video.track, paused: state.local.video.paused, feed: null };
      if (state.local.audio) entry.audio = state.local.audio.paused ? "muted" : "live";
    }
    return byUser;
  });
  // Lists of user ids (strings) so that <For> keeps each tile, and its video element, across changes.
  const idsWhere = (test: (person: PersonMedia) => boolean) => [...people().values()].filter(test).map((person) => person.userId);
  const teachers = createMemo(() => idsWhere((person) => person.role !== "student"), undefined, { equals: sameIds });
  const others = createMemo(() => idsWhere((person) => person.role === "student"), undefined, { equals: sameIds });
  /** Screen shares by key (a producer id, or "local" for our own), kept as strings so tiles stay mounted. */
  const screenByKey = createMemo(() => {
    const byKey = new Map<string, { userId: string; track: MediaStreamTrack; local: boolean }>();
    for (const feed of state.feeds) if (feed.source === "screen") byKey.set(feed.producerId, { userId: feed.userId, track: feed.track, local: false });
    const me = props.session.myUserId;
    if (me && state.local.screen) byKey.set("local", { userId: me, track: state.local.screen.track, local: true });
    return byKey;
  });
  const screens = createMemo(() => [...screenByKey().keys()], undefined, { equals: sameIds });
  /** The teacher's camera is the main picture unless the board or a screen takes that place; then it joins the strip. */
  const mainIsCamera = () => !props.boardShown && screens().length === 0;
  const mainTeachers = () => (mainIsCamera() ? teachers() : []);
  const stripIds = createMemo(() => (mainIsCamera() ? others() : [...teachers(), ...others()]), undefined, { equals: sameIds });
  const audioFeeds = () => state.feeds.filter((feed) => feed.kind === "audio");

  const personTile = (userId: string) => {
    const person = () => people().get(userId);
    const feed = () => person()?.video?.feed ?? null;
    return (
      <VideoTile
        userId={userId}
        name={person()?.name ?? nameOf(userId)}
        source="video"
        track={person()?.video?.track ?? null}
        videoPaused={person()?.video?.paused ?? false}
        audio={person()?.audio ?? "none"}
        speaking={state.activeSpeaker === userId}
        quality={props.session.qualityOf(userId)}
        local={person()?.local ?? false}
        onLayer={(layer) => {
          const current = feed();
          if (current?.layered) props.session.setPreferredLayer(current.consumerId, layer);
        }}
        controls={
          <Show when={props.moderator && !person()?.local && person()?.audio === "live"}>
            <button
              type="button"
              class="button button--quiet button--small"
              aria-label={`Mute ${person()?.name ?? "this person"}`}
              onClick={() => void props.channel.request("media.mute", { userId, source: "audio" }).catch(props.onError)}
            >
              🔇
            </button>
          </Show>
        }
      />
    );
  };

  const screenTile = (key: string) => {
    const screen = () => screenByKey().get(key);
    return (
      <VideoTile
        userId={screen()?.userId ?? ""}
        name={nameOf(screen()?.userId ?? "")}
        source="screen"
        track={screen()?.track ?? null}
        videoPaused={false}
        audio="none"
        speaking={false}
        quality={null}
        local={screen()?.local ?? false}
      />
    );
  };

  const playAll = () => {
    for (const element of audioBox.querySelectorAll("audio"))
      element.play().then(
        () => setSoundBlocked(false),
        () => undefined,
      );
  };

  return (
    <section
      class="media-stage"
      classList={{ "media-stage--board": props.boardShown }}
      aria-label="Video"
      data-testid="media-stage"
      data-status={state.status}
      data-node-id={state.nodeId ?? ""}
    >
      {/* Notices float over the top of the pictures, so that they never push the control bar off the screen. */}
      <div class="media-stage__notices">
        <Show when={STATUS_TEXT[state.status]}>
          <p class="media-stage__status muted small" role="status">
            {STATUS_TEXT[state.status]}
          </p>
        </Show>
        <Show when={state.message && state.status !== "closed"}>
          <p class="alert alert--error small" role="alert">
            {state.message}
          </p>
        </Show>
        <Show when={state.stageOffer}>
          <div class="alert alert--info media-stage__offer" role="alert">
            <span>You are invited on stage: the class can see and hear you.</span>
            <button type="button" class="button button--primary" onClick={() => void props.session.acceptStage().catch(props.onError)}>
              Join the stage
            </button>
            <button type="button" class="button button--quiet" onClick={() => props.session.declineStage()}>
              Not now
            </button>
          </div>
        </Show>
        <Show when={soundBlocked()}>
          <button type="button" class="button button--primary media-stage__sound" onClick={playAll}>
            🔊 Turn on sound
          </button>
        </Show>
      </div>

      <div
        class="media-stage__main"
        ref={mainArea}
        data-testid="main-picture"
        data-shows={props.boardShown ? "board" : screens().length > 0 ? "screen" : "camera"}
      >
        <Show
          when={props.boardShown}
          fallback={
            <Show
              when={screens().length > 0}
              fallback={
                <For each={mainTeachers()} fallback={<p class="media-stage__empty muted">The teacher's camera shows here.</p>}>
                  {personTile}
                </For>
              }
            >
              <For each={screens()}>{screenTile}</For>
            </Show>
          }
        >
          {props.board}
        </Show>
        {props.overlay}
        <span class="media-stage__fullscreen">
          <FullscreenButton target={() => mainArea} />
        </span>
      </div>
      <Show when={stripIds().length > 0}>
        <div class="media-stage__strip" role="group" aria-label="Cameras">
          <For each={stripIds()}>{personTile}</For>
        </div>
      </Show>

      <div ref={audioBox} class="visually-hidden">
        <For each={audioFeeds()}>{(feed) => <RemoteAudio userId={feed.userId} track={feed.track} onBlocked={() => setSoundBlocked(true)} />}</For>
      </div>
    </section>
  );
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}

/** Plays one remote audio track (video elements stay muted so that autoplay of video is always allowed). */
function RemoteAudio(props: { userId: string; track: MediaStreamTrack; onBlocked: () => void }): JSX.Element {
  let audio!: HTMLAudioElement;
  createEffect(() => {
    audio.srcObject = new MediaStream([props.track]);
    audio.play().catch((error: unknown) => {
      if (error instanceof DOMException && error.name === "NotAllowedError") props.onBlocked();
    });
  });
  // The speaker chosen in the device check (also when it is changed during the class).
  createEffect(() => void playOnChosenSpeaker(audio, deviceChoices.speaker));
  return <audio ref={audio} autoplay data-user-id={props.userId} />;
}
