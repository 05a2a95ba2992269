import * as v from "valibot";
import { MEDIA_SOURCES } from "../tokens/media-token";
import { type ResponseFrame, ResponseFrameSchema, requestFrameSchema } from "./envelope";

/**
 * Media signaling: browser ↔ sfu-node over a WebSocket (`wss://node/media?token=<media token>`).
 *
 * Frames are JSON in the shared envelope (./envelope.ts): the browser sends requests `{ id, method, data }`;
 * the node answers each with `{ id, ok: true, data }` or `{ id, ok: false, error: { code, message } }` and
 * also sends one-way notifications `{ notification, data }`. A frame that does not parse is answered with `INVALID_MESSAGE`
 * (with the request id when one could be read) and the socket stays open.
 *
 * Nested RTP structures (capabilities, parameters) are checked for their shape here and fully validated by
 * mediasoup itself; they are loose objects because browsers add fields that mediasoup understands and ignores.
 */

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const MediaKindSchema = v.picklist(["audio", "video"]);
const MediaSourceSchema = v.picklist(MEDIA_SOURCES);
const CodecParameters = v.record(v.string(), v.union([v.string(), v.number()]));
const SmallInt = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 32 - 1));

const RtcpFeedbackSchema = v.looseObject({ type: v.string(), parameter: v.optional(v.string()) });

const RtpCodecCapabilitySchema = v.looseObject({
  kind: MediaKindSchema,
  mimeType: v.string(),
  preferredPayloadType: v.optional(SmallInt),
  clockRate: SmallInt,
  channels: v.optional(SmallInt),
  parameters: v.optional(CodecParameters),
  rtcpFeedback: v.optional(v.array(RtcpFeedbackSchema)),
});

const RtpHeaderExtensionCapabilitySchema = v.looseObject({
  kind: MediaKindSchema,
  uri: v.string(),
  preferredId: SmallInt,
  preferredEncrypt: v.optional(v.boolean()),
  direction: v.optional(v.picklist(["sendrecv", "sendonly", "recvonly", "inactive"])),
});

/** What a receiving device can decode (mediasoup-client `device.rtpCapabilities`). */
export const RtpCapabilitiesSchema = v.looseObject({
  codecs: v.optional(v.pipe(v.array(RtpCodecCapabilitySchema), v.maxLength(128))),
  headerExtensions: v.optional(v.pipe(v.array(RtpHeaderExtensionCapabilitySchema), v.maxLength(64))),
});

const RtpCodecParametersSchema = v.looseObject({
  mimeType: v.string(),
  payloadType: SmallInt,
  clockRate: SmallInt,
  channels: v.optional(SmallInt),
  parameters: v.optional(CodecParameters),
  rtcpFeedback: v.optional(v.array(RtcpFeedbackSchema)),
});

const RtpEncodingSchema = v.looseObject({
  ssrc: v.optional(SmallInt),
  rid: v.optional(v.string()),
  codecPayloadType: v.optional(SmallInt),
  rtx: v.optional(v.object({ ssrc: SmallInt })),
  dtx: v.optional(v.boolean()),
  scalabilityMode: v.optional(v.string()),
  maxBitrate: v.optional(v.number()),
});

/** How a sending device encodes one track (mediasoup-client hands it to the `produce` event). */
export const RtpParametersSchema = v.looseObject({
  mid: v.optional(v.string()),
  codecs: v.pipe(v.array(RtpCodecParametersSchema), v.minLength(1), v.maxLength(32)),
  headerExtensions: v.optional(v.pipe(v.array(v.looseObject({ uri: v.string(), id: SmallInt, encrypt: v.optional(v.boolean()) })), v.maxLength(32))),
  encodings: v.optional(v.pipe(v.array(RtpEncodingSchema), v.maxLength(8))),
  rtcp: v.optional(v.looseObject({ cname: v.optional(v.string()), reducedSize: v.optional(v.boolean()) })),
});

export const DtlsParametersSchema = v.strictObject({
  role: v.optional(v.picklist(["auto", "client", "server"])),
  fingerprints: v.pipe(v.array(v.strictObject({ algorithm: v.string(), value: v.string() })), v.minLength(1), v.maxLength(8)),
});

const Empty = v.strictObject({});

/** Request data and response data for every method, by method name. Responses are what the node sends. */
export const MEDIA_METHODS = {
  /** The router's codecs; load them into a mediasoup-client `Device`. */
  getRouterRtpCapabilities: { request: Empty, response: v.object({ rtpCapabilities: v.looseObject({}) }) },
  /** A WebRTC transport for sending (only with a produce grant) or receiving. */
  createWebRtcTransport: {
    request: v.strictObject({ direction: v.picklist(["send", "recv"]), forceTcp: v.optional(v.boolean()) }),
    response: v.object({
      transportId: v.string(),
      iceParameters: v.looseObject({}),
      iceCandidates: v.array(v.looseObject({})),
      dtlsParameters: v.looseObject({}),
    }),
  },
  connectTransport: { request: v.strictObject({ transportId: Id, dtlsParameters: DtlsParametersSchema }), response: Empty },
  /** Starts sending one track; `source` must be in the token's `produce` grant. */
  produce: {
    request: v.strictObject({
      transportId: Id,
      kind: MediaKindSchema,
      source: MediaSourceSchema,
      rtpParameters: RtpParametersSchema,
      paused: v.optional(v.boolean()),
    }),
    response: v.object({ producerId: v.string() }),
  },
  /** Receives one producer; the consumer starts paused — call `resumeConsumer` once the track is set up. */
  consume: {
    request: v.strictObject({ transportId: Id, producerId: Id, rtpCapabilities: RtpCapabilitiesSchema }),
    response: v.object({
      consumerId: v.string(),
      producerId: v.string(),
      kind: MediaKindSchema,
      source: MediaSourceSchema,
      rtpParameters: v.looseObject({}),
      type: v.string(),
      producerPaused: v.boolean(),
    }),
  },
  resumeConsumer: { request: v.strictObject({ consumerId: Id }), response: Empty },
  pauseProducer: { request: v.strictObject({ producerId: Id }), response: Empty },
  resumeProducer: { request: v.strictObject({ producerId: Id }), response: Empty },
  closeProducer: { request: v.strictObject({ producerId: Id }), response: Empty },
  /** Picks the simulcast/SVC layers this consumer should receive (follows the tile's size). */
  setPreferredLayers: {
    request: v.strictObject({
      consumerId: Id,
      spatialLayer: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(15)),
      temporalLayer: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(15))),
    }),
    response: Empty,
  },
  restartIce: { request: v.strictObject({ transportId: Id }), response: v.object({ iceParameters: v.looseObject({}) }) },
  /**
   * Renews the media token on this open socket (from the class channel's `media.renew` for this node): the node
   * checks it like at connect, and that it is for the same class, user and role, then keeps the connection
   * past the old token's expiry. Transports, producers and consumers stay as they are. The new token's grant
   * applies (unless the class changed it after the token was signed); a source it no longer grants has its
   * producer closed, with a `grant` notification before this answer. A refused token (`UNAUTHORIZED`,
   * `FORBIDDEN`) changes nothing: the connection still ends when the old token expires.
   */
  "token.renew": {
    request: v.strictObject({ token: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)) }),
    response: v.object({ expiresAt: v.number(), produce: v.array(MediaSourceSchema) }),
  },
  /** mediasoup's stats for one of this peer's transports, producers or consumers. */
  getStats: {
    request: v.strictObject({ target: v.picklist(["transport", "producer", "consumer"]), id: Id }),
    response: v.object({ stats: v.array(v.looseObject({})) }),
  },
} as const;

export type MediaMethod = keyof typeof MEDIA_METHODS;
export const MEDIA_METHOD_NAMES = Object.keys(MEDIA_METHODS) as [MediaMethod, ...MediaMethod[]];
export type MediaRequestData<M extends MediaMethod> = v.InferOutput<(typeof MEDIA_METHODS)[M]["request"]>;
export type MediaResponseData<M extends MediaMethod> = v.InferOutput<(typeof MEDIA_METHODS)[M]["response"]>;

/** The outer request frame (see ./envelope.ts); `data` is then checked against the method's own schema. */
export const MediaRequestFrameSchema = requestFrameSchema(MEDIA_METHOD_NAMES);

/** Responses use the shared envelope. */
export const MediaResponseFrameSchema = ResponseFrameSchema;
export type MediaResponseFrame = ResponseFrame;

/** Why the node closed a consumer/producer or asks the peer to reconnect. */
export const MEDIA_CLOSE_REASONS = ["producer-closed", "transport-closed", "closed-by-server", "worker-died"] as const;

/** One-way messages from the node. */
export const MediaNotificationSchema = v.variant("notification", [
  /**
   * Sent once when the socket opens: who the node thinks you are, and what you may send as admitted — the
   * token's grant unless the class changed it after the token was signed.
   */
  v.strictObject({
    notification: v.literal("welcome"),
    data: v.strictObject({ nodeId: v.string(), classId: v.string(), userId: v.string(), produce: v.array(MediaSourceSchema) }),
  }),
  /** A producer in this class appeared (the class channel's media map stays the authority). */
  v.strictObject({
    notification: v.literal("producerAdded"),
    data: v.strictObject({ producerId: v.string(), userId: v.string(), kind: MediaKindSchema, source: MediaSourceSchema, paused: v.boolean() }),
  }),
  v.strictObject({ notification: v.literal("producerRemoved"), data: v.strictObject({ producerId: v.string(), userId: v.string() }) }),
  v.strictObject({ notification: v.literal("producerPaused"), data: v.strictObject({ producerId: v.string(), paused: v.boolean() }) }),
  v.strictObject({
    notification: v.literal("producerScore"),
    data: v.strictObject({
      producerId: v.string(),
      score: v.array(v.strictObject({ encodingIdx: v.number(), ssrc: v.number(), rid: v.optional(v.string()), score: v.number() })),
    }),
  }),
  v.strictObject({ notification: v.literal("consumerClosed"), data: v.strictObject({ consumerId: v.string(), reason: v.picklist(MEDIA_CLOSE_REASONS) }) }),
  v.strictObject({ notification: v.literal("consumerPaused"), data: v.strictObject({ consumerId: v.string(), paused: v.boolean() }) }),
  v.strictObject({
    notification: v.literal("consumerScore"),
    data: v.strictObject({ consumerId: v.string(), score: v.number(), producerScore: v.number() }),
  }),
  v.strictObject({
    notification: v.literal("consumerLayersChanged"),
    data: v.strictObject({ consumerId: v.string(), spatialLayer: v.nullable(v.number()), temporalLayer: v.nullable(v.number()) }),
  }),
  /**
   * The teacher changed what you may send (stage invite/revoke), or a renewed token (`token.renew`) carries
   * another grant. On a revoke your producers of the sources you lost are already closed.
   */
  v.strictObject({ notification: v.literal("grant"), data: v.strictObject({ produce: v.array(MediaSourceSchema) }) }),
  /** The loudest speaker in this class on this node changed (null: nobody speaks). */
  v.strictObject({ notification: v.literal("activeSpeaker"), data: v.strictObject({ userId: v.nullable(v.string()) }) }),
  /**
   * Everything of this peer on the node is gone (its media worker died, or the node is shutting down):
   * rejoin (this node or a new one from the class channel). The socket closes right after.
   */
  v.strictObject({ notification: v.literal("reconnect"), data: v.strictObject({ reason: v.picklist(MEDIA_CLOSE_REASONS) }) }),
]);
export type MediaNotification = v.InferOutput<typeof MediaNotificationSchema>;

/** WebSocket close codes the node uses. */
export const MEDIA_CLOSE_CODES = {
  /** Reconnect: the peer's media was lost on the node's side (see the `reconnect` notification). */
  reconnect: 4010,
  /** The same user opened a second socket for the same class on this node; the older one is closed. */
  replaced: 4009,
  /** The media token expired while connected (it was not renewed with `token.renew` in time). */
  tokenExpired: 4001,
  /** The class removed you (kicked, blocked, or the class ended): do not reconnect with this token. */
  removed: 4003,
  /** The node is shutting down and takes no new joins: join media again (the class sends you to another node). */
  draining: 4012,
} as const;
