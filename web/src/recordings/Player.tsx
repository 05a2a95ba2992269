import { createSignal, onCleanup, onMount, Show, type JSX } from "solid-js";
import type shakaNamespace from "shaka-player";
import type { RecordingView } from "../../../schema/api/recordings";
import { formatDuration } from "./format";
import { parseThumbnailsVtt, type ThumbnailCue, thumbnailAt } from "./thumbnails";

/**
 * License servers for DRM-protected recordings (MediaConvert with SPEKE), from the build's environment:
 * `VITE_DRM_WIDEVINE_LICENSE_URL`, `VITE_DRM_PLAYREADY_LICENSE_URL`. Without them shaka plays clear content.
 */
function drmServers(): Record<string, string> {
  const servers: Record<string, string> = {};
  const widevine = import.meta.env.VITE_DRM_WIDEVINE_LICENSE_URL as string | undefined;
  const playready = import.meta.env.VITE_DRM_PLAYREADY_LICENSE_URL as string | undefined;
  if (widevine) servers["com.widevine.alpha"] = widevine;
  if (playready) servers["com.microsoft.playready"] = playready;
  return servers;
}

/** What a shaka error means for a viewer (shaka's own codes are for operators, and go to the console). */
function describePlaybackError(error: unknown): string {
  const code = (error as { code?: number } | null)?.code;
  if (code !== undefined && code >= 6000 && code < 7000) return "This recording is protected and cannot be played in this browser.";
  if (code !== undefined && code >= 1000 && code < 2000) return "The video could not be downloaded. Check your connection and try again.";
  return "This recording cannot be played right now.";
}

/**
 * The recording player: shaka-player plays the DASH manifest (HLS when there is none, or when DASH fails), with
 * DRM when configured. Our own controls show a thumbnail preview from the WebVTT sprite track while seeking.
 */
export function Player(props: { recording: RecordingView }): JSX.Element {
  let video!: HTMLVideoElement;
  let seekArea!: HTMLDivElement;
  let player: shakaNamespace.Player | null = null;
  const [error, setError] = createSignal<string | null>(null);
  const [playing, setPlaying] = createSignal(false);
  const [muted, setMuted] = createSignal(false);
  const [time, setTime] = createSignal(0);
  const [duration, setDuration] = createSignal((props.recording.durationMs ?? 0) / 1000);
  const [cues, setCues] = createSignal<ThumbnailCue[]>([]);
  /** Where the preview is shown: the time under the pointer (or the thumb while dragging) and its x position. */
  const [preview, setPreview] = createSignal<{ time: number; left: number } | null>(null);
  /** Until the manifest is loaded, a press of play is remembered (playing before that would be cut off by the load). */
  let loaded = false;
  let playWhenLoaded = false;

  onMount(() => {
    void start();
    void loadThumbnails();
  });
  onCleanup(() => {
    void player?.destroy();
    player = null;
  });

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
    const sources = [props.recording.dashManifestUrl, props.recording.hlsManifestUrl].filter((url): url is string => Boolean(url));
    for (const source of sources) {
      try {
        await instance.load(source);
        setError(null);
        loaded = true;
        if (playWhenLoaded) void video.play().catch(() => setError("Press play again to start the video."));
        return;
      } catch (loadError) {
        console.error("manifest failed to load", source, loadError);
        setError(describePlaybackError(loadError));
      }
    }
  }

  async function loadThumbnails(): Promise<void> {
    const url = props.recording.thumbnailsVttUrl;
    if (!url) return;
    try {
      const response = await fetch(url);
      if (response.ok) setCues(parseThumbnailsVtt(await response.text(), url));
    } catch {
      // Previews are a nicety: seeking works without them.
    }
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

  const previewCue = () => {
    const at = preview();
    return at ? thumbnailAt(cues(), at.time) : null;
  };

  return (
    <div class="player" data-testid="player">
      <video
        ref={video}
        data-testid="recording-video"
        playsinline
        poster={props.recording.posterUrl ?? undefined}
        onClick={togglePlay}
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onTimeUpdate={() => setTime(video.currentTime)}
        onDurationChange={() => {
          if (Number.isFinite(video.duration)) setDuration(video.duration);
        }}
        onVolumeChange={() => setMuted(video.muted)}
      />
      <div class="player__controls">
        <button type="button" onClick={togglePlay} aria-label={playing() ? "Pause" : "Play"} data-testid="player-play">
          {playing() ? "❚❚" : "▶"}
        </button>
        <div
          class="player__seek"
          ref={seekArea}
          onPointerMove={(event) => showPreviewAt(event.clientX)}
          onPointerLeave={() => setPreview(null)}
        >
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
          <Show when={preview()}>
            {(at) => (
              <div class="player__preview" style={{ left: `${at().left}px` }} data-testid="thumbnail-preview" aria-hidden="true">
                <Show when={previewCue()}>
                  {(cue) => (
                    <div
                      class="player__preview-image"
                      style={{
                        width: `${cue().region?.width ?? 160}px`,
                        height: `${cue().region?.height ?? 90}px`,
                        "background-image": `url("${cue().image}")`,
                        "background-position": cue().region ? `-${cue().region!.x}px -${cue().region!.y}px` : "center",
                        "background-size": cue().region ? "auto" : "cover",
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
        <button type="button" onClick={() => (video.muted = !video.muted)} aria-label={muted() ? "Unmute" : "Mute"}>
          {muted() ? "🔇" : "🔊"}
        </button>
        <button
          type="button"
          aria-label="Full screen"
          onClick={() => {
            if (document.fullscreenElement) void document.exitFullscreen();
            else void video.parentElement?.requestFullscreen();
          }}
        >
          {/* An icon, not a font glyph: "⛶" is missing from many system fonts and showed as an empty box. */}
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">
            <path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" />
          </svg>
        </button>
      </div>
      <Show when={error()}>
        <p class="alert alert--error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}
