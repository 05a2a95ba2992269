import { createEffect, createMemo, on, onCleanup, onMount, Show, type JSX } from "solid-js";
import type { MediaSource } from "../../../schema/tokens/media-token";
import { NetworkQuality } from "./NetworkQuality";

/** Spatial layer for a tile: the smallest simulcast layer whose height covers the tile (layers are 180/360/720 p). */
export function layerForHeight(pixels: number): number {
  return pixels <= 200 ? 0 : pixels <= 400 ? 1 : 2;
}

export interface VideoTileProps {
  userId: string;
  name: string;
  source: Exclude<MediaSource, "audio">;
  track: MediaStreamTrack | null;
  /** The sender paused the video (camera off for now). */
  videoPaused: boolean;
  /** Microphone: sending, muted, or none. */
  audio: "live" | "muted" | "none";
  speaking: boolean;
  quality: number | null;
  /** Our own preview: mirrored, never played with sound. */
  local: boolean;
  /** Called with the simulcast layer that fits the tile whenever its size changes (remote simulcast only). */
  onLayer?: (spatialLayer: number) => void;
  /** Moderator buttons for this person. */
  controls?: JSX.Element;
}

/**
 * One person's camera (or a screen share): the video, their name, microphone state, speaking highlight and
 * network quality. The `data-*` attributes describe what the tile shows, for tests and tooling.
 */
export function VideoTile(props: VideoTileProps): JSX.Element {
  let video!: HTMLVideoElement;
  let frame!: HTMLDivElement;

  // A memo, so the video element is fed again only when the track itself changes (not on every score update).
  const track = createMemo(() => props.track);
  createEffect(() => {
    const current = track();
    video.srcObject = current ? new MediaStream([current]) : null;
    if (current) video.play().catch(() => undefined);
  });

  // The layer follows the tile's size; a new track (a new consumer) is told the current size at once.
  let layer: number | null = null;
  onMount(() => {
    const observer = new ResizeObserver(([entry]) => {
      layer = layerForHeight(entry ? entry.contentRect.height * window.devicePixelRatio : 0);
      props.onLayer?.(layer);
    });
    observer.observe(frame);
    onCleanup(() => observer.disconnect());
  });
  createEffect(
    on(
      track,
      () => {
        if (layer !== null) props.onLayer?.(layer);
      },
      { defer: true },
    ),
  );

  const showsVideo = () => props.track !== null && !props.videoPaused;
  return (
    <figure
      class="video-tile"
      classList={{ "video-tile--speaking": props.speaking, "video-tile--screen": props.source === "screen" }}
      data-testid="media-tile"
      data-user-id={props.userId}
      data-source={props.source}
      data-video={props.track === null ? "none" : props.videoPaused ? "paused" : "live"}
      data-audio={props.audio}
      data-speaking={props.speaking ? "true" : "false"}
      data-local={props.local ? "true" : "false"}
    >
      <div class="video-tile__frame" ref={frame}>
        <video
          ref={video}
          class="video-tile__video"
          classList={{ "video-tile__video--mirrored": props.local && props.source === "video", "video-tile__video--hidden": !showsVideo() }}
          autoplay
          muted
          playsinline
        />
        <Show when={!showsVideo()}>
          <span class="video-tile__avatar" aria-hidden="true">
            {initials(props.name)}
          </span>
        </Show>
      </div>
      <figcaption class="video-tile__caption">
        <Show when={props.source === "video" && props.audio !== "none"}>
          <span class="video-tile__mic" data-testid="mic-state" role="img" aria-label={props.audio === "muted" ? "Microphone muted" : "Microphone on"}>
            {props.audio === "muted" ? "🔇" : "🎙️"}
          </span>
        </Show>
        <span class="video-tile__name">
          <bdi>{props.name}</bdi>
          {props.source === "screen" ? "'s screen" : ""}
          {props.local ? " (you)" : ""}
        </span>
        <Show when={props.source === "video"}>
          <NetworkQuality score={props.quality} />
        </Show>
        {props.controls}
      </figcaption>
    </figure>
  );
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => [...word][0]!.toUpperCase())
    .join("");
}
