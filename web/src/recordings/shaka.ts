import type shakaNamespace from "shaka-player";

/*
 * What the recording player (Player.tsx) needs from shaka-player besides playing: DRM servers, what a shaka
 * error means for a viewer, and thumbnails as pictures; and what it hands the page around it.
 */

/**
 * License servers for DRM-protected recordings (MediaConvert with SPEKE), from the build's environment:
 * `VITE_DRM_WIDEVINE_LICENSE_URL`, `VITE_DRM_PLAYREADY_LICENSE_URL`. Without them shaka plays clear content.
 */
export function drmServers(): Record<string, string> {
  const servers: Record<string, string> = {};
  const widevine = import.meta.env.VITE_DRM_WIDEVINE_LICENSE_URL as string | undefined;
  const playready = import.meta.env.VITE_DRM_PLAYREADY_LICENSE_URL as string | undefined;
  if (widevine) servers["com.widevine.alpha"] = widevine;
  if (playready) servers["com.microsoft.playready"] = playready;
  return servers;
}

/** What a shaka error means for a viewer (shaka's own codes are for operators, and go to the console). */
export function describePlaybackError(error: unknown): string {
  const code = (error as { code?: number } | null)?.code;
  if (code !== undefined && code >= 6000 && code < 7000) return "This recording is protected and cannot be played in this browser.";
  if (code !== undefined && code >= 1000 && code < 2000) return "The video could not be downloaded. Check your connection and try again.";
  return "This recording cannot be played right now.";
}

/** What the page around the player may do with it once the recording is loaded (chapters, chat, resume). */
export interface PlayerHandle {
  video: HTMLVideoElement;
  /** Moves to `seconds` (clamped to the recording). */
  seekTo(seconds: number): void;
  /** Plays from where it is. */
  play(): void;
  /** The recording's thumbnail that covers `seconds` (shaka reads the sprite's WebVTT), or null without one. */
  thumbnailAt(seconds: number): Promise<ThumbnailPicture | null>;
}

/** One thumbnail: a region of the sprite image (or a whole image), and the stretch of the recording it shows. */
export interface ThumbnailPicture {
  image: string;
  /** The region's place in the sprite, when `sprite`. */
  x: number;
  y: number;
  width: number;
  height: number;
  sprite: boolean;
  startMs: number;
  endMs: number;
}

export function pictureOf(found: shakaNamespace.extern.Thumbnail): ThumbnailPicture | null {
  const uri = found.uris[0];
  if (!uri) return null;
  return {
    image: uri.split("#")[0]!,
    x: found.positionX,
    y: found.positionY,
    width: found.width,
    height: found.height,
    sprite: found.sprite,
    startMs: found.startTime * 1000,
    endMs: (found.startTime + found.duration) * 1000,
  };
}
