import { createResource, createSignal, type JSX, onCleanup, Show } from "solid-js";
import {
  type Chapter,
  ChaptersResponseSchema,
  DownloadLinkResponseSchema,
  PositionResponseSchema,
  ReplayChatResponseSchema,
} from "../../../schema/api/recording-viewer";
import type { RecordingView } from "../../../schema/api/recordings";
import { createAction } from "../action";
import { api } from "../api";
import { ErrorAlert } from "../components/ErrorAlert";
import { ChapterList, chapterPicture } from "./ChapterList";
import { formatDuration } from "./format";
import { Player } from "./Player";
import type { PlayerHandle } from "./shaka";
import { ReplayChat } from "./ReplayChat";
import { resumePoint, trackPosition } from "./resume-position";
import "./replay.css";

/** How long "Resuming at 12:34" stays, with its "Start from the beginning" button. */
const RESUME_NOTICE_MS = 8_000;
/** At the end of a recording that continues in another, the next one starts after this many seconds. */
export const UP_NEXT_SECONDS = 5;

/**
 * A recording as a viewer watches it after class: the player, with the chapters and the class chat beside it,
 * a Download button for those allowed to download, and playback resumed where the viewer stopped last time.
 */
export function RecordingViewer(props: {
  recording: RecordingView;
  /** The recording this one continues in (the next part of the class session) and its title, if it can be played. */
  next?: { id: string; title: string } | null;
  /** Goes to the next recording (it plays at once: `autoplay`). */
  onContinue?: (id: string) => void;
  /** Play as soon as loaded: the viewer came from the recording before, which ended. */
  autoplay?: boolean;
}): JSX.Element {
  const id = props.recording.id;
  /** Seconds until the next recording starts, while "Up next" counts down; null otherwise. */
  const [upNextIn, setUpNextIn] = createSignal<number | null>(null);
  let upNextTimer: ReturnType<typeof setInterval> | undefined;
  const cancelUpNext = () => {
    clearInterval(upNextTimer);
    setUpNextIn(null);
  };
  const continueNow = () => {
    const next = props.next;
    cancelUpNext();
    if (next) props.onContinue?.(next.id);
  };
  const countDownToNext = () => {
    if (!props.next || !props.onContinue) return;
    cancelUpNext();
    setUpNextIn(UP_NEXT_SECONDS);
    upNextTimer = setInterval(() => {
      const left = (upNextIn() ?? 1) - 1;
      if (left <= 0) continueNow();
      else setUpNextIn(left);
    }, 1000);
  };
  const [player, setPlayer] = createSignal<PlayerHandle | null>(null);
  const [time, setTime] = createSignal(0);
  const [chatShown, setChatShown] = createSignal(true);
  const [resumedAt, setResumedAt] = createSignal<number | null>(null);
  const [chapters] = createResource(async () => (await api(`/api/recordings/${id}/chapters`, ChaptersResponseSchema)).chapters);
  const [messages] = createResource(async () => (await api(`/api/recordings/${id}/chat`, ReplayChatResponseSchema)).messages);
  // The chapters' thumbnails come from the player (shaka reads the sprite's WebVTT) once it has loaded.
  const [pictures] = createResource(
    () => {
      const handle = player();
      const list = chapters();
      return handle && list ? { handle, list } : false;
    },
    ({ handle, list }) => Promise.all(list.map((chapter) => chapterPicture(handle, chapter.atMs).catch(() => null))),
  );
  // Asked for at once: the player waits for it before loading, so playback opens where the viewer left off.
  const resumeAt = api(`/api/recordings/${id}/position`, PositionResponseSchema)
    .then((saved) => resumePoint(saved.positionMs, props.recording.durationMs ?? 0))
    .catch(() => null);
  let stopTracking: (() => void) | undefined;
  let resumeTimer: ReturnType<typeof setTimeout> | undefined;
  let left = false;
  onCleanup(() => {
    left = true;
    stopTracking?.();
    clearTimeout(resumeTimer);
    clearInterval(upNextTimer);
  });

  const onReady = async (handle: PlayerHandle) => {
    // The viewer may have left while the video loaded: nothing may keep saving for a page that is gone.
    if (left) return;
    setPlayer(handle);
    handle.video.addEventListener("timeupdate", () => setTime(handle.video.currentTime));
    // At the end, a recording that continues in another (its next part) goes on there unless the viewer stays.
    handle.video.addEventListener("ended", countDownToNext);
    handle.video.addEventListener("seeking", cancelUpNext);
    handle.video.addEventListener("play", cancelUpNext);
    stopTracking = trackPosition(id, handle.video);
    if (props.autoplay) handle.play();
    const at = await resumeAt;
    if (at === null || left) return;
    setTime(handle.video.currentTime);
    setResumedAt(at);
    resumeTimer = setTimeout(() => setResumedAt(null), RESUME_NOTICE_MS);
  };

  const startOver = () => {
    player()?.seekTo(0);
    setTime(0);
    setResumedAt(null);
  };

  const playChapter = (chapter: Chapter) => {
    const handle = player();
    if (!handle) return;
    handle.seekTo(chapter.atMs / 1000);
    handle.play();
  };

  const download = createAction(async () => {
    const link = await api(`/api/recordings/${id}/download`, DownloadLinkResponseSchema, { method: "POST" });
    // A same-origin link with an attachment answer: the browser saves it and the page stays.
    const anchor = document.createElement("a");
    anchor.href = link.url;
    anchor.download = "";
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
  });

  return (
    <div class="replay" classList={{ "replay--chat-hidden": !chatShown() }}>
      <div class="replay__main stack">
        <Player
          recording={props.recording}
          startAt={resumeAt.then((ms) => (ms === null ? null : ms / 1000))}
          onReady={(handle) => void onReady(handle)}
          chapterTicks={(chapters() ?? []).map((c) => c.atMs / 1000)}
        />
        <Show when={upNextIn() !== null && props.next}>
          {(next) => (
            <p class="replay__up-next" role="status" data-testid="up-next">
              Up next in {upNextIn()} s: {next().title}
              <button type="button" class="button button--primary" onClick={continueNow}>
                Play now
              </button>
              <button type="button" class="button" onClick={cancelUpNext}>
                Stay here
              </button>
            </p>
          )}
        </Show>
        <Show when={resumedAt()}>
          {(at) => (
            <p class="replay__resume" role="status" data-testid="resume-notice">
              Resuming at {formatDuration(at())}
              <button type="button" class="button" onClick={startOver}>
                Start from the beginning
              </button>
            </p>
          )}
        </Show>
        <div class="replay__actions">
          <Show when={props.recording.canDownload}>
            <button type="button" class="button" disabled={download.pending()} onClick={() => void download.run()}>
              {download.pending() ? "Preparing the download…" : "Download"}
            </button>
          </Show>
          <button type="button" class="button" aria-expanded={chatShown()} aria-controls="replay-chat" onClick={() => setChatShown(!chatShown())}>
            {chatShown() ? "Hide chat" : "Show chat"}
          </button>
        </div>
        <ErrorAlert error={download.error()} />
      </div>
      <aside class="replay__side stack" aria-label="Chapters and chat">
        <Show when={!chapters.error} fallback={<ErrorAlert error={chapters.error} />}>
          <ChapterList chapters={chapters() ?? []} pictures={pictures() ?? []} time={time()} onChoose={playChapter} />
        </Show>
        <Show when={chatShown()}>
          <Show when={!messages.error} fallback={<ErrorAlert error={messages.error} />}>
            <ReplayChat id="replay-chat" messages={messages() ?? []} time={time()} />
          </Show>
        </Show>
      </aside>
    </div>
  );
}
