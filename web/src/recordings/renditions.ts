import type shakaNamespace from "shaka-player";

type VariantTrack = shakaNamespace.extern.Track;

/** One choice of the quality menu: a rendition of the ladder, named by its picture height. */
export interface Rendition {
  height: number;
  /** "720p" */
  label: string;
}

export function renditionLabel(height: number): string {
  return `${height}p`;
}

/**
 * The ladder as the quality menu lists it: one entry per picture height, highest first. Shaka's variants pair
 * each video rendition with each audio track, so one height may appear several times; audio-only variants
 * (no height) are no choice of picture quality.
 */
export function renditionsOf(tracks: readonly VariantTrack[]): Rendition[] {
  const heights = new Set<number>();
  for (const track of tracks) if (track.height) heights.add(track.height);
  return [...heights].sort((a, b) => b - a).map((height) => ({ height, label: renditionLabel(height) }));
}

/** The height shaka plays now (the active variant's), or null before anything is loaded. */
export function activeHeight(tracks: readonly VariantTrack[]): number | null {
  return tracks.find((track) => track.active)?.height ?? null;
}

/**
 * The variant to pin for a height: the one with the audio playing now (so pinning a picture quality never
 * switches the sound), else the best-sounding one of that height.
 */
export function variantForHeight(tracks: readonly VariantTrack[], height: number): VariantTrack | null {
  const candidates = tracks.filter((track) => track.height === height);
  const activeAudio = tracks.find((track) => track.active)?.audioId ?? null;
  return candidates.find((track) => activeAudio !== null && track.audioId === activeAudio) ?? candidates.sort((a, b) => b.bandwidth - a.bandwidth)[0] ?? null;
}
