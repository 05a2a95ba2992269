import { createEffect, createSignal, createUniqueId, For, onCleanup, onMount, Show, type JSX } from "solid-js";
import type shakaNamespace from "shaka-player";
import type { RecordingView } from "../../../schema/api/recordings";
import { formatDuration } from "./format";
import { PLAYBACK_SPEEDS, type PlaybackSpeed, savedPlaybackSpeed, savePlaybackSpeed, speedLabel, stepPlaybackSpeed } from "./playback-speed";
import { CloseIcon, ExitFullscreenIcon, FullscreenIcon, KeyboardIcon, MutedIcon, PauseIcon, PlayIcon, VolumeIcon } from "./player-icons";
import { type PlayerAction, playerTakesKey, SHORTCUT_HELP, shortcutFor } from "./player-shortcuts";
import { PlayerMenu } from "./PlayerMenu";
import { activeHeight, type Rendition, renditionLabel, renditionsOf, variantForHeight } from "./renditions";
import { describePlaybackError, drmServers, type PlayerHandle, pictureOf } from "./shaka";

/** How long a key's effect ("Volume 40%", "Speed 1.5x") stays on the picture. */
const NOTICE_MS = 1_200;

/**
 * The recording player: shaka-player plays the DASH manifest (HLS when there is none, or when DASH fails), with
 * DRM when configured. Our own controls: play, a seek bar with thumbnail previews from the WebVTT sprite track,
 * the quality (the ladder's renditions, or Auto) and the speed (remembered on this browser), mute, full screen
 * and keyboard shortcuts (listed by "?").
 */
export function Player(props: {
  recording: RecordingView;
  /** Where to start, in seconds (null: the beginning); loading waits for it, so playback opens there. */
  startAt?: Promise<number | null>;
  /** Called once, when the recording is loaded and can be sought. */
  onReady?: (handle: PlayerHandle) => void;
  /** Chapter starts in seconds, marked on the seek bar. */
  chapterTicks?: readonly number[];
}): JSX.Element {
  let container!: HTMLDivElement;
  let video!: HTMLVideoElement;
  let seekArea!: HTMLDivElement;
  let closeShortcuts: HTMLButtonElement | undefined;
  let player: shakaNamespace.Player | null = null;
  const shortcutsTitleId = createUniqueId();
  const [error, setError] = createSignal<string | null>(null);
  const [playing, setPlaying] = createSignal(false);
  const [muted, setMuted] = createSignal(false);
  const [time, setTime] = createSignal(0);
  const [duration, setDuration] = createSignal((props.recording.durationMs ?? 0) / 1000);
  /** Shaka's track of the WebVTT thumbnail sprite, once it has read it. */
  const [thumbnailTrack, setThumbnailTrack] = createSignal<number | null>(null);
  const [thumbnail, setThumbnail] = createSignal<shakaNamespace.extern.Thumbnail | null>(null);
  /** Where the preview is shown: the time under the pointer (or the thumb while dragging) and its x position. */
  const [preview, setPreview] = createSignal<{ time: number; left: number } | null>(null);
  const [speed, setSpeed] = createSignal<PlaybackSpeed>(savedPlaybackSpeed());
  const [renditions, setRenditions] = createSignal<Rendition[]>([]);
  /** The height shaka plays now; with Auto it follows the connection. */
  const [playingHeight, setPlayingHeight] = createSignal<number | null>(null);
  /** The height the viewer chose, or null for Auto (adaptive). */
  const [pinnedHeight, setPinnedHeight] = createSignal<number | null>(null);
  const [fullscreen, setFullscreen] = createSignal(false);
  const [shortcutsOpen, setShortcutsOpen] = createSignal(false);
  const [notice, setNotice] = createSignal<string | null>(null);
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Until the manifest is loaded, a press of play is remembered (playing before that would be cut off by the load). */
  let loaded = false;
  let playWhenLoaded = false;

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.defaultPrevented) return;
    const action = shortcutFor(event);
    if (!action || !playerTakesKey(event.target, container)) return;
    // A focused button keeps Space for pressing it, as everywhere else; K plays and pauses from anywhere.
    if (event.key === " " && event.target instanceof HTMLButtonElement) return;
    event.preventDefault();
    run(action);
  };
  const onFullscreenChange = () => setFullscreen(document.fullscreenElement === container);

  onMount(() => {
    // Before shaka attaches, so its rate controller starts at the remembered speed instead of resetting it.
    video.defaultPlaybackRate = speed();
    video.playbackRate = speed();
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("fullscreenchange", onFullscreenChange);
    void start();
  });
  onCleanup(() => {
    document.removeEventListener("keydown", onKeyDown);
    document.removeEventListener("fullscreenchange", onFullscreenChange);
    clearTimeout(noticeTimer);
    void player?.destroy();
    player = null;
  });

  /** The ladder once it is ready; before that, the playlist of the pieces composed while recording. */
  const sources = () =>
    [props.recording.dashManifestUrl, props.recording.hlsManifestUrl, props.recording.playableUrl].filter((url): url is string => Boolean(url));
  /** What shaka plays now, and its thumbnail track (read again with each manifest). */
  let loadedSource: string | null = null;
  let thumbnails: Promise<number | null> = Promise.resolve(null);

  // Watching the playable form while the ladder is packaged: once the ladder is there (the page polls the
  // recording until it is ready), it takes over where the viewer is, playing if they were, with its qualities
  // and thumbnails.
  createEffect(() => {
    const ladder = props.recording.dashManifestUrl ?? props.recording.hlsManifestUrl;
    if (ladder && loaded && player && loadedSource !== null && loadedSource === props.recording.playableUrl) void upgrade(player, ladder);
  });

  async function upgrade(instance: shakaNamespace.Player, ladder: string): Promise<void> {
    const at = video.currentTime;
    const wasPlaying = !video.paused;
    loadedSource = ladder;
    try {
      await loadAt(instance, ladder, at);
    } catch (loadError) {
      // The playable form is gone with the load: try it again, so the viewer keeps watching.
      console.error("ladder failed to load", ladder, loadError);
      const fallback = props.recording.playableUrl;
      if (!fallback) {
        setError(describePlaybackError(loadError));
        return;
      }
      loadedSource = fallback;
      await loadAt(instance, fallback, at).catch((error: unknown) => setError(describePlaybackError(error)));
    }
    refreshRenditions();
    thumbnails = addThumbnails(instance);
    video.playbackRate = speed();
    if (wasPlaying) void video.play().catch(() => setError("Press play again to start the video."));
  }

  /**
   * Loads `source` and moves to `at` seconds once the video knows its length. Not through shaka's start time: its
   * playhead keeps putting that time back for a moment after the load, so a seek made then ("Start from the
   * beginning" pressed as it appeared) was undone.
   */
  async function loadAt(instance: shakaNamespace.Player, source: string, at: number | null): Promise<void> {
    await instance.load(source);
    if (at === null || at <= 0) return;
    if (video.readyState < HTMLMediaElement.HAVE_METADATA) {
      await new Promise<void>((resolve) => {
        const done = () => {
          video.removeEventListener("loadedmetadata", done);
          video.removeEventListener("error", done);
          resolve();
        };
        video.addEventListener("loadedmetadata", done);
        video.addEventListener("error", done);
      });
    }
    video.currentTime = at;
  }

  async function start(): Promise<void> {
    const { default: shaka } = await import("shaka-player");
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      setError("This browser cannot play recordings. Try a current version of Chrome, Edge, Firefox or Safari.");
      return;
    }
    const instance = new shaka.Player();
    player = instance;
    await instance.attach(video);
    const servers = drmServers();
    if (Object.keys(servers).length > 0) instance.configure({ drm: { servers } });
    instance.addEventListener("error", (event) => {
      console.error("playback error", (event as unknown as { detail: unknown }).detail);
      setError(describePlaybackError((event as unknown as { detail: unknown }).detail));
    });
    // ABR switches ("adaptation"), our own choice ("variantchanged") and a new manifest ("trackschanged").
    for (const name of ["adaptation", "variantchanged", "trackschanged"]) instance.addEventListener(name, refreshRenditions);
    const startAt = (await props.startAt?.catch(() => null)) ?? null;
    for (const source of sources()) {
      try {
        await loadAt(instance, source, startAt);
        setError(null);
        loaded = true;
        loadedSource = source;
        refreshRenditions();
        thumbnails = addThumbnails(instance);
        video.playbackRate = speed();
        props.onReady?.({
          video,
          seekTo,
          play: () => void video.play().catch(() => setError("Press play again to start the video.")),
          thumbnailAt: async (seconds) => {
            const track = await thumbnails;
            if (track === null) return null;
            const found = await instance.getThumbnails(track, seconds).catch(() => null);
            return found ? pictureOf(found) : null;
          },
        });
        if (playWhenLoaded) void video.play().catch(() => setError("Press play again to start the video."));
        return;
      } catch (loadError) {
        console.error("manifest failed to load", source, loadError);
        setError(describePlaybackError(loadError));
      }
    }
  }

  /** Shaka reads the thumbnails WebVTT (each cue a region of the sprite) and answers which one a time shows. */
  async function addThumbnails(instance: shakaNamespace.Player): Promise<number | null> {
    const url = props.recording.thumbnailsVttUrl;
    if (!url) return null;
    try {
      const { id } = await instance.addThumbnailsTrack(url, "text/vtt");
      setThumbnailTrack(id);
      return id;
    } catch (thumbnailsError) {
      // Previews are a nicety: seeking works without them.
      console.warn("thumbnails unavailable", thumbnailsError);
      return null;
    }
  }

  // The thumbnail of the previewed moment; an answer for a moment the pointer has left is dropped.
  createEffect(() => {
    const at = preview();
    const track = thumbnailTrack();
    if (!at || track === null || !player) return;
    player.getThumbnails(track, at.time).then(
      (found) => {
        if (preview() === at) setThumbnail(found);
      },
      () => setThumbnail(null),
    );
  });

  function refreshRenditions(): void {
    if (!player) return;
    const tracks = player.getVariantTracks();
    setRenditions(renditionsOf(tracks));
    setPlayingHeight(activeHeight(tracks));
  }

  /** Pins one rendition (adaptive switching off), or with null hands the choice back to shaka's ABR. */
  function chooseQuality(height: number | null): void {
    if (!player) return;
    if (height === null) {
      player.configure({ abr: { enabled: true } });
      setPinnedHeight(null);
      return;
    }
    const track = variantForHeight(player.getVariantTracks(), height);
    if (!track) return;
    player.configure({ abr: { enabled: false } });
    // Dropping what is buffered shows the new quality within a segment instead of after the whole buffer.
    player.selectVariantTrack(track, true);
    setPinnedHeight(height);
    refreshRenditions();
  }

  const autoLabel = () => {
    const height = playingHeight();
    return pinnedHeight() === null && height !== null ? `Auto (${renditionLabel(height)})` : "Auto";
  };
  const qualityLabel = () => {
    const pinned = pinnedHeight();
    return pinned === null ? autoLabel() : renditionLabel(pinned);
  };

  function chooseSpeed(next: PlaybackSpeed): void {
    video.defaultPlaybackRate = next;
    video.playbackRate = next;
    setSpeed(next);
    savePlaybackSpeed(next);
  }

  function showNotice(text: string): void {
    setNotice(text);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => setNotice(null), NOTICE_MS);
  }

  const showPreviewAt = (clientX: number) => {
    const rect = seekArea.getBoundingClientRect();
    if (rect.width === 0 || duration() <= 0) return;
    const fraction = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    setPreview({ time: fraction * duration(), left: fraction * rect.width });
  };
  const showPreviewAtTime = (seconds: number) => {
    const width = seekArea.getBoundingClientRect().width;
    if (duration() > 0) setPreview({ time: seconds, left: (seconds / duration()) * width });
  };

  const togglePlay = () => {
    if (!loaded) {
      playWhenLoaded = !playWhenLoaded;
      setPlaying(playWhenLoaded);
      return;
    }
    if (video.paused) void video.play().catch(() => setError("Press play again to start the video."));
    else video.pause();
  };

  const seekTo = (seconds: number) => {
    if (!loaded) return;
    const target = Math.min(duration(), Math.max(0, seconds));
    video.currentTime = target;
    setTime(target);
  };

  const toggleFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void container.requestFullscreen().catch(() => showNotice("Full screen is not available here"));
  };

  const openShortcuts = () => {
    setShortcutsOpen(true);
    closeShortcuts?.focus();
  };
  const hideShortcuts = () => {
    setShortcutsOpen(false);
    container.focus();
  };

  function run(action: PlayerAction): void {
    switch (action.kind) {
      case "toggle-play":
        return togglePlay();
      case "seek-by":
        return seekTo(video.currentTime + action.seconds);
      case "seek-to-fraction":
        return seekTo(action.fraction * duration());
      case "volume-by": {
        const volume = Math.round(Math.min(1, Math.max(0, video.volume + action.step)) * 10) / 10;
        video.volume = volume;
        if (action.step > 0) video.muted = false;
        return showNotice(`Volume ${Math.round((video.muted ? 0 : volume) * 100)}%`);
      }
      case "toggle-mute":
        video.muted = !video.muted;
        return showNotice(video.muted ? "Muted" : "Sound on");
      case "toggle-fullscreen":
        return toggleFullscreen();
      case "speed-step": {
        const next = stepPlaybackSpeed(speed(), action.step);
        chooseSpeed(next);
        return showNotice(`Speed ${speedLabel(next)}`);
      }
      case "show-shortcuts":
        return openShortcuts();
      default:
        return assertNever(action);
    }
  }

  const previewImage = () => {
    const found = preview() ? thumbnail() : null;
    return found?.uris[0] ? { ...found, image: found.uris[0].split("#")[0]! } : null;
  };

  return (
    <div
      class="player"
      data-testid="player"
      ref={container}
      tabIndex={-1}
      role="group"
      aria-label="Video player"
      aria-keyshortcuts="Space K J L M F ArrowLeft ArrowRight ArrowUp ArrowDown Home End ?"
    >
      <video
        ref={video}
        data-testid="recording-video"
        playsinline
        poster={props.recording.posterUrl ?? undefined}
        onClick={() => {
          // Keys go to the player after a click on the picture, even if something else on the page had the focus.
          container.focus({ preventScroll: true });
          togglePlay();
        }}
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onTimeUpdate={() => setTime(video.currentTime)}
        onDurationChange={() => {
          if (Number.isFinite(video.duration)) setDuration(video.duration);
        }}
        onVolumeChange={() => setMuted(video.muted)}
        onRateChange={() => {
          // Shaka sets the rate to 0 while it waits for data, and when the wait ends puts back the rate it last
          // saw, which can undo a speed chosen a moment before (after a seek, ">" pressed went back to 1.5x): the
          // speed the viewer chose is the one the video plays at.
          const rate = video.playbackRate;
          if (rate !== 0 && rate !== speed()) video.playbackRate = speed();
        }}
      />
      <Show when={notice()}>
        <p class="player__notice" role="status" data-testid="player-notice">
          {notice()}
        </p>
      </Show>
      <div class="player__controls">
        <button type="button" onClick={togglePlay} aria-label={playing() ? "Pause" : "Play"} data-testid="player-play">
          {playing() ? <PauseIcon /> : <PlayIcon />}
        </button>
        <div class="player__seek" ref={seekArea} onPointerMove={(event) => showPreviewAt(event.clientX)} onPointerLeave={() => setPreview(null)}>
          <input
            type="range"
            min={0}
            max={duration() || 0}
            step={0.1}
            value={time()}
            aria-label="Seek"
            aria-valuetext={`${formatDuration(time() * 1000)} of ${formatDuration(duration() * 1000)}`}
            onInput={(event) => {
              const seconds = Number(event.currentTarget.value);
              video.currentTime = seconds;
              setTime(seconds);
              showPreviewAtTime(seconds);
            }}
            onBlur={() => setPreview(null)}
          />
          <For each={duration() > 0 ? (props.chapterTicks ?? []) : []}>
            {(at) => <span class="player__tick" style={{ left: `${(Math.min(at, duration()) / duration()) * 100}%` }} aria-hidden="true" />}
          </For>
          <Show when={preview()}>
            {(at) => (
              <div class="player__preview" style={{ left: `${at().left}px` }} data-testid="thumbnail-preview" aria-hidden="true">
                <Show when={previewImage()}>
                  {(shown) => (
                    <div
                      class="player__preview-image"
                      style={{
                        width: `${shown().width || 160}px`,
                        height: `${shown().height || 90}px`,
                        "background-image": `url("${shown().image}")`,
                        "background-position": shown().sprite ? `-${shown().positionX}px -${shown().positionY}px` : "center",
                        "background-size": shown().sprite ? "auto" : "cover",
                      }}
                    />
                  )}
                </Show>
                <span class="player__preview-time">{formatDuration(at().time * 1000)}</span>
              </div>
            )}
          </Show>
        </div>
        <span class="player__time">
          {formatDuration(time() * 1000)} / {formatDuration(duration() * 1000)}
        </span>
        <button type="button" onClick={() => (video.muted = !video.muted)} aria-label={muted() ? "Unmute" : "Mute"} data-testid="player-mute">
          {muted() ? <MutedIcon /> : <VolumeIcon />}
        </button>
        <PlayerMenu
          title="Playback speed"
          label={`Playback speed: ${speedLabel(speed())}`}
          choices={PLAYBACK_SPEEDS.map((value) => ({ value, label: value === 1 ? "1x (normal)" : speedLabel(value) }))}
          isChosen={(value) => value === speed()}
          onChoose={chooseSpeed}
          testId="player-speed"
        >
          {speedLabel(speed())}
        </PlayerMenu>
        {/* One rendition (or none known yet) leaves nothing to choose. */}
        <Show when={renditions().length > 1}>
          <PlayerMenu<number | null>
            title="Quality"
            label={`Quality: ${qualityLabel()}`}
            choices={[{ value: null, label: autoLabel() }, ...renditions().map((rendition) => ({ value: rendition.height, label: rendition.label }))]}
            isChosen={(value) => value === pinnedHeight()}
            onChoose={chooseQuality}
            testId="player-quality"
          >
            {qualityLabel()}
          </PlayerMenu>
        </Show>
        <button
          type="button"
          aria-label="Keyboard shortcuts"
          aria-expanded={shortcutsOpen()}
          onClick={() => (shortcutsOpen() ? hideShortcuts() : openShortcuts())}
        >
          <KeyboardIcon />
        </button>
        <button type="button" aria-label={fullscreen() ? "Exit full screen" : "Full screen"} onClick={toggleFullscreen}>
          {fullscreen() ? <ExitFullscreenIcon /> : <FullscreenIcon />}
        </button>
      </div>
      <Show when={shortcutsOpen()}>
        <div
          class="player__shortcuts"
          role="dialog"
          aria-labelledby={shortcutsTitleId}
          data-testid="player-shortcuts"
          onKeyDown={(event) => {
            if (event.key === "Escape" || event.key === "?") {
              event.preventDefault();
              hideShortcuts();
            }
          }}
        >
          <div class="player__shortcuts-head">
            <h2 id={shortcutsTitleId}>Keyboard shortcuts</h2>
            <button type="button" ref={closeShortcuts} aria-label="Close keyboard shortcuts" onClick={hideShortcuts}>
              <CloseIcon />
            </button>
          </div>
          <table>
            <tbody>
              <For each={SHORTCUT_HELP}>
                {(shortcut) => (
                  <tr>
                    <th scope="row">
                      <For each={shortcut.keys}>{(key) => <kbd>{key}</kbd>}</For>
                    </th>
                    <td>{shortcut.does}</td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
      </Show>
      <Show when={error()}>
        <p class="alert alert--error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}

function assertNever(value: never): never {
  throw new Error(`unhandled player action ${JSON.stringify(value)}`);
}
