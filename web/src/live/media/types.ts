import type { Device, types } from "mediasoup-client";
import type { MediaSource } from "../../../../schema/tokens/media-token";
import type { MediaSocket } from "../media-signaling";
import type { MediaStatus } from "./connection-ladder";

export type { MediaStatus };

/** One producer of someone else that this browser receives. */
export interface RemoteFeed {
  consumerId: string;
  producerId: string;
  userId: string;
  kind: "audio" | "video";
  source: MediaSource;
  track: MediaStreamTrack;
  /** Simulcast: the receiver may choose a spatial layer. */
  layered: boolean;
  /** The sender (or a moderator) paused it: a muted microphone, a stopped camera. */
  producerPaused: boolean;
  /** mediasoup scores 0–10: our downlink for this feed, and the sender's uplink. */
  score: number;
  producerScore: number;
}

/** One track this browser sends. */
export interface LocalSource {
  track: MediaStreamTrack;
  producerId: string | null;
  paused: boolean;
  /** A moderator paused it on the node (the user may resume it). */
  pausedByModerator: boolean;
}

export interface MediaDeviceChoice {
  deviceId: string;
  label: string;
}

export interface MediaSessionState {
  status: MediaStatus;
  /** What went wrong last, for the user (camera refused, no media server…), or null. */
  message: string | null;
  nodeId: string | null;
  /** What this user may send now (the node's grant). */
  produce: MediaSource[];
  feeds: RemoteFeed[];
  local: Partial<Record<MediaSource, LocalSource>>;
  /** Best-encoding score of each of our producers. */
  producerScores: Record<string, number>;
  activeSpeaker: string | null;
  /** A moderator put us on stage and we send no camera/microphone yet: offer to start them. */
  stageOffer: boolean;
  microphones: MediaDeviceChoice[];
  cameras: MediaDeviceChoice[];
  microphoneId: string | null;
  cameraId: string | null;
}

/** Everything of one connection to one sfu-node; a rejoin throws it away and builds a new one. */
export interface Connection {
  socket: MediaSocket | null;
  device: Device | null;
  recv: types.Transport | null;
  send: Promise<types.Transport> | null;
  readonly producers: Map<MediaSource, types.Producer>;
  /** Consumers by producer id (and the requests still in flight, so a producer is consumed once). */
  readonly consumers: Map<string, types.Consumer>;
  /** What each consumer shows, by producer id (a second stream of one person waits here while the other is shown). */
  readonly feeds: Map<string, RemoteFeed>;
  readonly consuming: Set<string>;
  /** Producers the node announced (they may reach the class channel's map later). */
  readonly announced: Map<string, string>;
  /** Producers the node said are gone or that could not be consumed: never try them again on this connection. */
  readonly gone: Set<string>;
  readonly preferredLayers: Map<string, number>;
}

export function emptyConnection(): Connection {
  return {
    socket: null,
    device: null,
    recv: null,
    send: null,
    producers: new Map(),
    consumers: new Map(),
    feeds: new Map(),
    consuming: new Set(),
    announced: new Map(),
    gone: new Set(),
    preferredLayers: new Map(),
  };
}
