import * as v from "valibot";
import { MEDIA_SOURCES } from "../tokens/media-token";
import { requestFrameSchema } from "./envelope";
import { SfuNodeIdSchema } from "./fleet";
import { RtpParametersSchema } from "./media";

/**
 * The class link: one WebSocket per class an sfu-node serves, from the node to that class's Durable Object.
 *
 * The node opens it when a room is created (`GET` upgrade at {@link classLinkPath}) with
 * `Authorization: Bearer <node token>` signed by its own key for that path (schema/tokens/node-token.ts); the
 * Worker verifies it before the upgrade reaches the object, which then treats the socket as the node the key
 * was enrolled for and never as a participant. The node keeps the link (reconnecting with backoff) until the room closes.
 *
 * Frames use the shared envelope (./envelope.ts) in both directions:
 * - node → object: notifications `{ notification, data }` ({@link ClassLinkNotificationSchema}); the first one
 *   after every (re)connect is `sync`, the node's whole state for the class, which replaces what the object
 *   knew about that node.
 * - object → node: commands as requests `{ id, method, data }` ({@link CLASS_LINK_COMMANDS}); the node answers
 *   each with `{ id, ok: true, data: {} }` or `{ id, ok: false, error: { code, message } }`.
 */

/** Where the node opens the link (on the Worker's origin). */
export function classLinkPath(classId: string): string {
  return `/api/fleet/classes/${encodeURIComponent(classId)}/link`;
}

/**
 * Names the node opening the link, for logs; the node token decides who it is, and a header naming another
 * node is refused.
 */
export const CLASS_LINK_NODE_HEADER = "x-sfu-node-id";

/**
 * Set by the Worker (and only by it: it strips the header from every other upgrade) on a link it authorized;
 * the object takes the socket for that node's link.
 */
export const CLASS_LINK_VERIFIED_NODE_HEADER = "x-insp-verified-sfu-node";

/** WebSocket close codes on the link. */
export const CLASS_LINK_CLOSE_CODES = {
  /** The class session ended: the node disconnects every peer of the class and may keep the link closed. */
  ended: 4005,
  /** A second link from the same node replaced this one. */
  replaced: 4009,
} as const;

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const SourceSchema = v.picklist(MEDIA_SOURCES);
const KindSchema = v.picklist(["audio", "video"]);

/** A producer as the node reports it. */
export const LinkProducerSchema = v.strictObject({
  producerId: Id,
  userId: Id,
  kind: KindSchema,
  source: SourceSchema,
  paused: v.boolean(),
});
export type LinkProducer = v.InferOutput<typeof LinkProducerSchema>;

/** Quality per user, 0 (unusable) to 10 (perfect): the worst score of their producers, or else of their consumers. */
const QualitySchema = v.pipe(
  v.record(Id, v.pipe(v.number(), v.minValue(0), v.maxValue(10))),
  v.check((quality) => Object.keys(quality).length <= 5000, "at most 5000 users per quality report"),
);

/** Node → object, one way. */
export const ClassLinkNotificationSchema = v.variant("notification", [
  /** Everything the node has for this class now: its producers and the users with a media socket. */
  v.strictObject({
    notification: v.literal("sync"),
    data: v.strictObject({
      nodeId: SfuNodeIdSchema,
      producers: v.pipe(v.array(LinkProducerSchema), v.maxLength(10_000)),
      users: v.pipe(v.array(Id), v.maxLength(10_000)),
    }),
  }),
  v.strictObject({ notification: v.literal("producerAdded"), data: LinkProducerSchema }),
  v.strictObject({ notification: v.literal("producerRemoved"), data: v.strictObject({ producerId: Id }) }),
  v.strictObject({ notification: v.literal("producerPaused"), data: v.strictObject({ producerId: Id, paused: v.boolean() }) }),
  v.strictObject({ notification: v.literal("quality"), data: v.strictObject({ quality: QualitySchema }) }),
  /**
   * One of the node's participants asked to consume a producer of the class that lives on another node: the
   * object pipes it here (`pipeOpen`/`pipeConnect` once per node pair, then `pipeConsume` on its node and
   * `pipeProduce` here) or says `pipeUnavailable`.
   */
  v.strictObject({ notification: v.literal("pipeWanted"), data: v.strictObject({ producerId: Id }) }),
  /** Nobody here has consumed this piped producer for a while: the node closed it; its node may stop sending it. */
  v.strictObject({ notification: v.literal("pipeIdle"), data: v.strictObject({ producerId: Id }) }),
  /** The user's media socket on this node closed (their producers were removed before this). */
  v.strictObject({ notification: v.literal("peerLeft"), data: v.strictObject({ userId: Id }) }),
  /**
   * The node is shutting down (SIGTERM): it takes no new media sockets and exits when its last peer left or
   * after `exitsInMs`. The class object moves the node's participants elsewhere now (durable-objects/failover.ts).
   */
  v.strictObject({
    notification: v.literal("draining"),
    data: v.strictObject({ exitsInMs: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3_600_000)) }),
  }),
  /**
   * Sent right after every `sync`: the class's recordings this node process holds — `capturing`, or stopped
   * and being composed and published. A recording the object runs on this node and the node does not list
   * was lost with the node's process (kill -9, crash, reboot) and can never be composed. A frame of its own,
   * so an object from before it logs one unknown frame instead of refusing the `sync`.
   */
  v.strictObject({
    notification: v.literal("recordings"),
    data: v.strictObject({ recordings: v.pipe(v.array(v.strictObject({ recordingId: Id, capturing: v.boolean() })), v.maxLength(100)) }),
  }),
]);
export type ClassLinkNotification = v.InferOutput<typeof ClassLinkNotificationSchema>;

/** A node's end of a pipe between two nodes: where the other node sends to, and the SRTP key it must use. */
export const PipeEndSchema = v.strictObject({
  ip: v.pipe(v.string(), v.minLength(1), v.maxLength(253)),
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  srtpParameters: v.strictObject({
    cryptoSuite: v.picklist(["AEAD_AES_256_GCM", "AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"]),
    keyBase64: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  }),
});
export type PipeEnd = v.InferOutput<typeof PipeEndSchema>;

/** What the producer's node sends through a pipe (its pipe consumer), for the other node's `pipeProduce`. */
export const PipedStreamSchema = v.strictObject({ kind: KindSchema, rtpParameters: RtpParametersSchema, paused: v.boolean() });
export type PipedStream = v.InferOutput<typeof PipedStreamSchema>;

/**
 * `pipeOpen`'s answer: the node's end towards the peer node, and the peer end it is connected to (null while
 * not connected). The object compares both nodes' answers, so it needs no memory of the pairs it made: a pair
 * whose ends point at each other is reused, a half-made one is completed, one pointing elsewhere is replaced.
 */
export const PipeOpenAnswerSchema = v.strictObject({
  ...PipeEndSchema.entries,
  connectedTo: v.nullable(v.strictObject({ ip: PipeEndSchema.entries.ip, port: PipeEndSchema.entries.port })),
});
export type PipeOpenAnswer = v.InferOutput<typeof PipeOpenAnswerSchema>;

/**
 * Object → node commands: request data by method. Every answer's data is `{}` but for the methods in
 * {@link CLASS_LINK_RESPONSES}. The `pipe*` commands are the cascade (durable-objects/cascade.ts): a node
 * opens, connects and feeds a pipe to another node only when the class object says so, naming a node of the
 * fleet; nothing a participant sends reaches them.
 */
export const CLASS_LINK_COMMANDS = {
  /** What the user may send from now on; the node closes their producers of sources no longer granted. */
  setGrant: v.strictObject({ userId: Id, produce: v.pipe(v.array(SourceSchema), v.maxLength(MEDIA_SOURCES.length)) }),
  /** Pause a producer server-side (a moderator muted it); its owner may resume it. */
  pauseProducer: v.strictObject({ producerId: Id }),
  closeProducer: v.strictObject({ producerId: Id }),
  /** Close the user's media socket and everything of theirs on the node, now. */
  disconnectPeer: v.strictObject({ userId: Id }),
  /** Start recording these users' producers (REC-APP wires it to the recorder). */
  "recording.start": v.strictObject({ recordingId: Id, userIds: v.pipe(v.array(Id), v.maxLength(10_000)) }),
  "recording.stop": v.strictObject({ recordingId: Id }),
  /**
   * Record these users too from now on (a student brought on stage while recording). Their producers on other
   * nodes reach the recording's node through pipes the object directs, and are recorded like local ones.
   */
  "recording.include": v.strictObject({ recordingId: Id, userIds: v.pipe(v.array(Id), v.maxLength(10_000)) }),
  /** Create (or return) this class's pipe end towards `peerNodeId`; answers {@link PipeOpenAnswerSchema}. */
  pipeOpen: v.strictObject({ peerNodeId: SfuNodeIdSchema }),
  /** Connect this node's end to the peer node's end (the object relays what the peer answered to `pipeOpen`). */
  pipeConnect: v.strictObject({ peerNodeId: SfuNodeIdSchema, remote: PipeEndSchema }),
  /** Send a producer of this node through the pipe to `peerNodeId`; answers {@link PipedStreamSchema}. */
  pipeConsume: v.strictObject({ peerNodeId: SfuNodeIdSchema, producerId: Id }),
  /** Take a producer of `peerNodeId` in through the pipe, with the same id, for this node's participants. */
  pipeProduce: v.strictObject({
    peerNodeId: SfuNodeIdSchema,
    producerId: Id,
    userId: Id,
    source: SourceSchema,
    stream: PipedStreamSchema,
  }),
  /** The producer was paused or resumed on its node: so is its piped copy here. */
  pipePause: v.strictObject({ producerId: Id, paused: v.boolean() }),
  /** Close the piped copy of a producer (it closed on its node). */
  pipeDrop: v.strictObject({ producerId: Id }),
  /** Stop sending a producer to `peerNodeId` (nobody there watches it any more). */
  pipeUnconsume: v.strictObject({ peerNodeId: SfuNodeIdSchema, producerId: Id }),
  /** The object could not pipe a wanted producer here: whoever waits for it is told why. */
  pipeUnavailable: v.strictObject({ producerId: Id, message: v.pipe(v.string(), v.maxLength(500)) }),
  /** Close this class's pipe towards `peerNodeId` and everything sent or received through it. */
  pipeClose: v.strictObject({ peerNodeId: SfuNodeIdSchema }),
} as const satisfies Record<string, v.GenericSchema>;

/** Answers that carry data, by method; every other command answers `{}`. */
export const CLASS_LINK_RESPONSES = {
  pipeOpen: PipeOpenAnswerSchema,
  pipeConsume: PipedStreamSchema,
} as const satisfies Partial<Record<keyof typeof CLASS_LINK_COMMANDS, v.GenericSchema>>;
export type ClassLinkAnswer<M extends ClassLinkCommand> = M extends keyof typeof CLASS_LINK_RESPONSES
  ? v.InferOutput<(typeof CLASS_LINK_RESPONSES)[M]>
  : Record<string, never>;

export type ClassLinkCommand = keyof typeof CLASS_LINK_COMMANDS;
export const CLASS_LINK_COMMAND_NAMES = Object.keys(CLASS_LINK_COMMANDS) as [ClassLinkCommand, ...ClassLinkCommand[]];
export type ClassLinkCommandData<M extends ClassLinkCommand> = v.InferOutput<(typeof CLASS_LINK_COMMANDS)[M]>;

export const ClassLinkCommandFrameSchema = requestFrameSchema(CLASS_LINK_COMMAND_NAMES);
export type ClassLinkCommandFrame = v.InferOutput<typeof ClassLinkCommandFrameSchema>;

/** Inbound frames larger than this are refused on both ends (a full `sync` of a big class fits). */
export const CLASS_LINK_MAX_FRAME_BYTES = 1024 * 1024;
