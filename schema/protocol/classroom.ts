import * as v from "valibot";
import type { UPLOAD_KINDS } from "../db";
import { CLASS_ROLES, type ClassRole } from "../tokens/class-token";
import { MEDIA_SOURCES } from "../tokens/media-token";
import {
  BoardInkSchema,
  BoardOpEntrySchema,
  BoardOpSchema,
  BoardPresenterSchema,
  BoardStateSchema,
  BoardSurfaceSchema,
  BoardSurfaceStateSchema,
  BoardViewSchema,
} from "./board";
import { requestFrameSchema } from "./envelope";

/**
 * The class channel: browser ↔ Classroom Durable Object over a WebSocket (`/parties/classroom/:classId?token=`).
 *
 * The client sends requests `{ id, method, data }` (see {@link CLASSROOM_METHODS}) and the literal text `ping`
 * (answered `pong` without waking the object; it is the heartbeat). The object answers every request and sends
 * notifications: first a `snapshot`, then `events` frames. Events are coalesced: one frame per short window
 * carries every change since the last one, each with an increasing `seq`; a client ignores events whose `seq`
 * is not above the snapshot's `seq`.
 */

export const HEARTBEAT_PING = "ping";
export const HEARTBEAT_PONG = "pong";

/**
 * A token bucket: `burst` actions at once, then `perSecond` on average. A user's bucket is shared by all of
 * their sockets in the class (tabs and devices), so opening more sockets buys nothing.
 */
export interface RateLimit {
  readonly burst: number;
  readonly perSecond: number;
  /** What is counted, as the refusal names it: "Too many votes; try again in 2 s". */
  readonly what: string;
  /** Teachers' and admins' numbers where they act on many people at once (lowering everyone's hands). */
  readonly moderators?: { readonly burst: number; readonly perSecond: number };
}

/**
 * The buckets of the class channel. Each action that writes (SQLite, the D1 outbox, a D1 read, a signature) or
 * fans out to the class draws from one; a refusal writes nothing. The bursts leave room for what a person does
 * by hand (changing a vote a few times, reloading a page); the rates are far below what a script can send.
 */
const RATE_LIMITS = {
  chat: { burst: 10, perSecond: 2, what: "messages" },
  /** Reactions are cheap (summed and sent once a second), so more of them pass. */
  reactions: { burst: 20, perSecond: 5, what: "reactions" },
  votes: { burst: 5, perSecond: 1, what: "votes" },
  /** Raising and lowering your own hand; a moderator clears many hands in a row. */
  hands: { burst: 6, perSecond: 0.5, what: "hand raises and lowers", moderators: { burst: 60, perSecond: 10 } },
  /** `media.join` and `media.renew`: each reads the fleet in D1 and signs a token; one per tab at once. */
  media: { burst: 8, perSecond: 1, what: "media requests" },
  /** Deleting messages, muting, removing and blocking people, locking chat, ending the class. */
  moderation: { burst: 30, perSecond: 5, what: "moderation actions" },
  polls: { burst: 20, perSecond: 1, what: "poll changes" },
  stage: { burst: 20, perSecond: 2, what: "stage changes" },
  /** Each start runs an FFmpeg on the node and writes a recording row. */
  recording: { burst: 6, perSecond: 0.1, what: "recording changes" },
  /**
   * Per class, shared by every teacher and admin in it: the actions that reach every socket (and every node)
   * of the class, so several moderators together cannot flood it either.
   */
  classBroadcasts: { burst: 40, perSecond: 4, what: "class-wide changes" },
  /** Board ops: one per finished stroke, eraser sweep or undo; fast handwriting makes several a second. */
  board: { burst: 120, perSecond: 30, what: "drawing changes" },
  /** Strokes in progress, batched by the browser at about 20 Hz; a pen and a laser at once stay under this. */
  ink: { burst: 200, perSecond: 60, what: "pen updates" },
  /**
   * Zoom and pan of the presenter's view: the browser sends at most about 10 a second while a pinch or drag
   * goes on, and the final one when it stops.
   */
  boardView: { burst: 40, perSecond: 15, what: "zoom and pan changes" },
  /** Reading another surface's shapes (browsing the deck alone). */
  boardReads: { burst: 30, perSecond: 5, what: "page loads" },
  /** Pages of the class's people (`people.list`): scrolling and typing a search make a few a second. */
  peopleReads: { burst: 30, perSecond: 5, what: "people list pages" },
} as const satisfies Record<string, RateLimit>;

/** The name of a bucket in {@link CLASSROOM_LIMITS.rateLimits}. */
export type RateLimitName = keyof typeof RATE_LIMITS;

/**
 * The buckets one method draws from: `user` per caller (all of their sockets together), and `class` once for
 * the whole class. An action passes only when every bucket it names has a token.
 */
export interface MethodRateLimit {
  readonly user: RateLimitName;
  readonly class?: RateLimitName;
}

/** Limits the object enforces (the web app uses the same numbers to guide the user). */
export const CLASSROOM_LIMITS = {
  /** Inbound frames larger than this close the socket with {@link CLASSROOM_CLOSE_CODES.frameTooLarge}. */
  maxFrameBytes: 64 * 1024,
  /** Open sockets of one user in one class (tabs and devices); one more is closed with `tooManySockets`. */
  maxSocketsPerUser: 8,
  /** Chat message length in user-perceived characters (grapheme clusters, counted with Intl.Segmenter). */
  maxChatGraphemes: 2000,
  /** Chat messages in a snapshot. */
  snapshotChatMessages: 100,
  /** Token buckets, by name; each method of {@link CLASSROOM_METHODS} names the ones it draws from. */
  rateLimits: RATE_LIMITS,
  pollMinOptions: 2,
  pollMaxOptions: 10,
  pollMaxDurationSeconds: 3600,
} as const;

/** WebSocket close codes of the class channel. Clients must not reconnect after kicked, blocked or ended. */
export const CLASSROOM_CLOSE_CODES = {
  /** RFC 6455 "message too big". */
  frameTooLarge: 1009,
  /** RFC 6455 "try again later": the object could not check the join (D1 did not answer); the browser reconnects. */
  tryAgain: 1013,
  /** The upgrade arrived without a verified identity, or for another class. */
  unauthorized: 4001,
  /** A moderator removed this participant (they may rejoin). */
  kicked: 4003,
  /** A moderator blocked this participant from the class. */
  blocked: 4004,
  /** A moderator ended the class (or it ended empty). */
  ended: 4005,
  /** No heartbeat for too long. */
  heartbeatTimeout: 4008,
  /** The user already has {@link CLASSROOM_LIMITS.maxSocketsPerUser} sockets open in this class. */
  tooManySockets: 4009,
} as const;

/** Close codes after which the client stays disconnected. */
export const FINAL_CLOSE_CODES: readonly number[] = [
  CLASSROOM_CLOSE_CODES.unauthorized,
  CLASSROOM_CLOSE_CODES.kicked,
  CLASSROOM_CLOSE_CODES.blocked,
  CLASSROOM_CLOSE_CODES.ended,
  CLASSROOM_CLOSE_CODES.tooManySockets,
];

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const Empty = v.strictObject({});
const Label = (max: number) => v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(max));

/** A reaction is one emoji (a short grapheme sequence; the web picker sends Unicode emoji). */
const Emoji = v.pipe(v.string(), v.minLength(1), v.maxLength(32));

/** Most people one `people.list` page holds. */
const PEOPLE_PAGE_MAX = 100;

/** One person of a `people.list` page. */
export const PeopleListEntrySchema = v.object({
  userId: v.string(),
  displayName: v.string(),
  role: v.picklist(CLASS_ROLES),
  /** False during the reconnect grace after the person's last socket closed. */
  present: v.boolean(),
  handRaisedAt: v.nullable(v.number()),
  /** A student who may send audio and video now (teachers and admins always may). */
  onStage: v.boolean(),
});
export type PeopleListEntry = v.InferOutput<typeof PeopleListEntrySchema>;

/**
 * `people.list` answer: people in join order after the request's `cursor`; `nextCursor` is the cursor for the
 * next page, null when there is none. Everyone in the class for the whole paging is on exactly one page.
 */
export const PeopleListResponseSchema = v.object({
  people: v.array(PeopleListEntrySchema),
  nextCursor: v.nullable(v.number()),
  headCount: v.number(),
});
export type PeopleListResponse = v.InferOutput<typeof PeopleListResponseSchema>;

/**
 * Request data for every method. `roles` lists who may call it; `rateLimit` names the token buckets a call
 * draws from (see {@link CLASSROOM_LIMITS.rateLimits}). The object checks both before it acts.
 */
export const CLASSROOM_METHODS = {
  /**
   * Post a chat message. `clientMessageId` makes a resend after a reconnect idempotent. `attachment` names a
   * file the sender uploaded to this class (`purpose: "share"`); the body may then be empty. Students attach
   * files only while the teacher allows sharing (`files.allow`).
   */
  "chat.send": {
    roles: CLASS_ROLES,
    rateLimit: { user: "chat" },
    request: v.strictObject({
      clientMessageId: Id,
      body: v.pipe(v.string(), v.maxLength(CLASSROOM_LIMITS.maxFrameBytes)),
      attachment: v.optional(v.strictObject({ fileId: Id })),
    }),
  },
  "chat.delete": { roles: ["teacher", "admin"], rateLimit: { user: "moderation" }, request: v.strictObject({ messageId: Id }) },
  /** Lock or unlock chat for students. */
  "chat.lock": { roles: ["teacher", "admin"], rateLimit: { user: "moderation", class: "classBroadcasts" }, request: v.strictObject({ locked: v.boolean() }) },
  /** Let every student of the session share files into chat, or stop them (teachers and admins always may). */
  "files.allow": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "moderation", class: "classBroadcasts" },
    request: v.strictObject({ allowed: v.boolean() }),
  },
  /** Mute or unmute one participant's chat. */
  "participant.mute": { roles: ["teacher", "admin"], rateLimit: { user: "moderation" }, request: v.strictObject({ userId: Id, muted: v.boolean() }) },
  /** Remove a participant now; they may rejoin. */
  "participant.remove": { roles: ["teacher", "admin"], rateLimit: { user: "moderation" }, request: v.strictObject({ userId: Id }) },
  /** Block a participant from this class (writes a class-scoped block) and remove them now. */
  "participant.block": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "moderation" },
    request: v.strictObject({ userId: Id, reason: v.optional(v.pipe(v.string(), v.maxLength(500))) }),
  },
  "poll.create": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "polls", class: "classBroadcasts" },
    request: v.strictObject({
      question: Label(500),
      options: v.pipe(v.array(Label(200)), v.minLength(CLASSROOM_LIMITS.pollMinOptions), v.maxLength(CLASSROOM_LIMITS.pollMaxOptions)),
      multipleChoice: v.optional(v.boolean(), false),
      anonymous: v.optional(v.boolean(), false),
      durationSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(CLASSROOM_LIMITS.pollMaxDurationSeconds))),
    }),
  },
  /** Vote (students); voting again replaces the earlier vote while the poll is open. */
  "poll.vote": {
    roles: ["student"],
    rateLimit: { user: "votes" },
    request: v.strictObject({ pollId: Id, optionIds: v.pipe(v.array(Id), v.minLength(1), v.maxLength(CLASSROOM_LIMITS.pollMaxOptions)) }),
  },
  "poll.close": { roles: ["teacher", "admin"], rateLimit: { user: "polls", class: "classBroadcasts" }, request: v.strictObject({ pollId: Id }) },
  /** Show the results to everyone (closes the poll first if it is open). */
  "poll.publish": { roles: ["teacher", "admin"], rateLimit: { user: "polls", class: "classBroadcasts" }, request: v.strictObject({ pollId: Id }) },
  "hand.raise": { roles: ["student"], rateLimit: { user: "hands" }, request: Empty },
  /** Lower a hand: your own (anyone), or someone else's (moderators). */
  "hand.lower": { roles: CLASS_ROLES, rateLimit: { user: "hands" }, request: v.strictObject({ userId: v.optional(Id) }) },
  "reaction.send": { roles: CLASS_ROLES, rateLimit: { user: "reactions" }, request: v.strictObject({ emoji: Emoji }) },
  /** End the class for everyone. */
  "session.end": { roles: ["teacher", "admin"], rateLimit: { user: "moderation" }, request: Empty },
  /**
   * Get a place on an sfu-node: the object picks the nearest healthy node with headroom and signs a media token
   * for it. Call it on join, after the node said `reconnect` (the answer may name another node), and when
   * `media.renew` is refused. `UNAVAILABLE` when no node is healthy. `unreachable`: the node the last answer named,
   * when no media socket could be opened there; the class leaves it out for a while unless it is linked to the
   * class (then it is up) or is the only node left.
   */
  "media.join": { roles: CLASS_ROLES, rateLimit: { user: "media" }, request: v.strictObject({ unreachable: v.optional(Id) }) },
  /**
   * A fresh media token for the node you are connected to, to hand it over your open media socket
   * (`token.renew`) so your media never stops. The grant is what you may send now. `NOT_FOUND` when that node is
   * no longer healthy (no recent heartbeat): call `media.join` instead and move.
   */
  "media.renew": { roles: CLASS_ROLES, rateLimit: { user: "media" }, request: v.strictObject({ nodeId: Id }) },
  /** Let a student send audio and video (they get a `grant` notification from their node). */
  "stage.invite": { roles: ["teacher", "admin"], rateLimit: { user: "stage", class: "classBroadcasts" }, request: v.strictObject({ userId: Id }) },
  /** Take the stage back: the node closes the student's producers at once. */
  "stage.revoke": { roles: ["teacher", "admin"], rateLimit: { user: "stage", class: "classBroadcasts" }, request: v.strictObject({ userId: Id }) },
  /** Pause someone's producer on the node; its owner sees it paused and may resume it themselves. */
  "media.mute": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "moderation", class: "classBroadcasts" },
    request: v.strictObject({ userId: Id, source: v.picklist(MEDIA_SOURCES) }),
  },
  /**
   * Start recording the teachers' camera, microphone and screen (one recording row per recorded interval).
   * Answers the running recording if one is already on. `CONFLICT` while no teacher sends anything.
   */
  "recording.start": { roles: ["teacher", "admin"], rateLimit: { user: "recording", class: "classBroadcasts" }, request: Empty },
  /** Stop the running recording (it is composed, uploaded and packaged after this); `recording: null` if none ran. */
  "recording.stop": { roles: ["teacher", "admin"], rateLimit: { user: "recording", class: "classBroadcasts" }, request: Empty },
  /**
   * Change the board: add, replace or delete shapes, or clear a surface (moderators). Teachers and admins may
   * always draw, students while they hold a pen; anyone but a moderator changes only their own shapes.
   * `clientOpId` makes a resend after a reconnect apply once (the answer names the op's first `opSeq`).
   */
  "board.op": { roles: CLASS_ROLES, rateLimit: { user: "board" }, request: v.strictObject({ clientOpId: Id, surface: BoardSurfaceSchema, op: BoardOpSchema }) },
  /** A stroke in progress or the laser pointer: passed on to everyone else at once, never stored. */
  "board.ink": { roles: CLASS_ROLES, rateLimit: { user: "ink" }, request: BoardInkSchema },
  /** Show a surface to the class (students follow it); also adds a blank page when `page` is the next one. */
  "board.show": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "board", class: "classBroadcasts" },
    request: v.strictObject({ surface: BoardSurfaceSchema, view: v.optional(BoardViewSchema) }),
  },
  /**
   * Zoom or pan the presenter's view (`zoom` 1…8, `x`, `y` of the view's top-left in page fractions); everyone
   * following the presenter sees the same part of the page. `CONFLICT` while the board is hidden.
   */
  "board.view": { roles: ["teacher", "admin"], rateLimit: { user: "boardView" }, request: v.strictObject({ view: BoardViewSchema }) },
  /** Hide the board (the main area goes back to the screen or the camera). */
  "board.hide": { roles: ["teacher", "admin"], rateLimit: { user: "board", class: "classBroadcasts" }, request: Empty },
  /** Give a student the pen, or take it back. */
  "board.pen": {
    roles: ["teacher", "admin"],
    rateLimit: { user: "moderation", class: "classBroadcasts" },
    request: v.strictObject({ userId: Id, allowed: v.boolean() }),
  },
  /** The shapes of one surface (a student browsing the deck alone, or any page after a reconnect). */
  "board.fetch": { roles: CLASS_ROLES, rateLimit: { user: "boardReads" }, request: v.strictObject({ surface: BoardSurfaceSchema }) },
  /**
   * A page of everyone in the class (students' snapshots hold only the people they see; this is the rest), in
   * join order: pass the last answer's `nextCursor` as `cursor` for the next page. `query` keeps the people
   * whose name contains it (any case). The answer is {@link PeopleListResponseSchema}.
   */
  "people.list": {
    roles: CLASS_ROLES,
    rateLimit: { user: "peopleReads" },
    request: v.strictObject({
      cursor: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      query: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(100))),
      limit: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(PEOPLE_PAGE_MAX)),
    }),
  },
} as const satisfies Record<string, { roles: readonly ClassRole[]; rateLimit: MethodRateLimit; request: v.GenericSchema }>;

export type ClassroomMethod = keyof typeof CLASSROOM_METHODS;
export const CLASSROOM_METHOD_NAMES = Object.keys(CLASSROOM_METHODS) as [ClassroomMethod, ...ClassroomMethod[]];
export type ClassroomRequestData<M extends ClassroomMethod> = v.InferOutput<(typeof CLASSROOM_METHODS)[M]["request"]>;

export const ClassroomRequestFrameSchema = requestFrameSchema(CLASSROOM_METHOD_NAMES);
export type ClassroomRequestFrame = v.InferOutput<typeof ClassroomRequestFrameSchema>;

// ---- Shapes the object sends ----

export const ParticipantSchema = v.object({
  userId: v.string(),
  displayName: v.string(),
  role: v.picklist(CLASS_ROLES),
  /** False during the reconnect grace (10 s) after the user's last socket closed. */
  present: v.boolean(),
  /** When the hand went up (the queue is ordered by it), or null. */
  handRaisedAt: v.nullable(v.number()),
  chatMuted: v.boolean(),
});
export type Participant = v.InferOutput<typeof ParticipantSchema>;

/** The same list as `UPLOAD_KINDS` in schema/db.ts (kept apart so the classroom page need not load drizzle). */
const ATTACHMENT_KINDS = ["pdf", "image", "other"] as const satisfies typeof UPLOAD_KINDS;

/** A file shared in a chat message, as it was when shared (download it at `/api/files/:fileId`). */
export const ChatAttachmentSchema = v.object({
  fileId: v.string(),
  fileName: v.string(),
  kind: v.picklist(ATTACHMENT_KINDS),
  contentType: v.string(),
  sizeBytes: v.number(),
});
export type ChatAttachment = v.InferOutput<typeof ChatAttachmentSchema>;

export const ChatMessageSchema = v.object({
  id: v.string(),
  clientMessageId: v.string(),
  userId: v.string(),
  displayName: v.string(),
  role: v.picklist(CLASS_ROLES),
  /** May be empty when the message carries an attachment. */
  body: v.string(),
  createdAt: v.number(),
  attachment: v.nullable(ChatAttachmentSchema),
});
export type ChatMessage = v.InferOutput<typeof ChatMessageSchema>;

export const PollOptionSchema = v.object({
  id: v.string(),
  label: v.string(),
  /** Vote count: for moderators always, for students once published; null otherwise. */
  votes: v.nullable(v.number()),
  /** Who voted for it: moderators only, non-anonymous polls only. */
  voters: v.optional(v.array(v.object({ userId: v.string(), displayName: v.string() }))),
});

export const PollSchema = v.object({
  id: v.string(),
  question: v.string(),
  multipleChoice: v.boolean(),
  anonymous: v.boolean(),
  status: v.picklist(["open", "closed", "published"]),
  createdAt: v.number(),
  closesAt: v.nullable(v.number()),
  options: v.array(PollOptionSchema),
  /** Number of people who voted (null when counts are hidden from this viewer). */
  totalVoters: v.nullable(v.number()),
});
export type Poll = v.InferOutput<typeof PollSchema>;

export const SessionStateSchema = v.object({
  sessionId: v.string(),
  startedAt: v.number(),
  chatLocked: v.boolean(),
  /** Students may share files into chat (set by `files.allow`). */
  filesAllowed: v.boolean(),
});
export type SessionState = v.InferOutput<typeof SessionStateSchema>;

/** One producer in the class's media map (the class channel is the authority on who sends what). */
export const MediaProducerInfoSchema = v.object({
  producerId: v.string(),
  userId: v.string(),
  /** The sfu-node that carries it. */
  nodeId: v.string(),
  kind: v.picklist(["audio", "video"]),
  source: v.picklist(MEDIA_SOURCES),
  paused: v.boolean(),
});
export type MediaProducerInfo = v.InferOutput<typeof MediaProducerInfoSchema>;

/** A recording in progress (REC-APP starts and stops it). */
export const RecordingStateSchema = v.object({ recordingId: v.string(), startedAt: v.number(), startedBy: v.string() });
export type RecordingState = v.InferOutput<typeof RecordingStateSchema>;

/** Network quality per user, 0 (unusable) to 10 (perfect), from their producers' and consumers' scores. */
export const MediaQualitySchema = v.record(v.string(), v.pipe(v.number(), v.minValue(0), v.maxValue(10)));

export const MediaStateSchema = v.object({
  producers: v.array(MediaProducerInfoSchema),
  /** Students who may send audio and video now (teachers and admins always may). */
  stage: v.array(v.string()),
  recording: v.nullable(RecordingStateSchema),
});
export type MediaState = v.InferOutput<typeof MediaStateSchema>;

export const SnapshotSchema = v.object({
  /** Events with a `seq` up to this one are already in the snapshot. */
  seq: v.number(),
  you: v.object({ userId: v.string(), displayName: v.string(), role: v.picklist(CLASS_ROLES) }),
  session: SessionStateSchema,
  /**
   * Moderators: everyone. Students: the people they see — teachers and admins, students on stage or with a
   * raised hand, and themselves; the rest are counted in `headCount` and listed by `people.list`.
   */
  participants: v.array(ParticipantSchema),
  /** How many people are in the class now (away ones in their reconnect grace not counted). */
  headCount: v.number(),
  chat: v.array(ChatMessageSchema),
  polls: v.array(PollSchema),
  /** The option ids you voted for, by poll id. */
  myVotes: v.record(v.string(), v.array(v.string())),
  media: MediaStateSchema,
  board: BoardStateSchema,
});
export type Snapshot = v.InferOutput<typeof SnapshotSchema>;

/** Changes after the snapshot. */
export const ClassroomEventSchema = v.variant("type", [
  /**
   * People who joined, changed or left, as this audience sees them: a student is told only about people who
   * are, or stop being, in their view (see `participants` of the snapshot); `removed` may then name someone who
   * is still in the class but left the view (a hand went down).
   */
  v.object({ type: v.literal("participants"), seq: v.number(), upserts: v.array(ParticipantSchema), removed: v.array(v.string()) }),
  /** The head count changed (sent to everyone, at most once per presence window). */
  v.object({ type: v.literal("headcount"), seq: v.number(), count: v.number() }),
  v.object({ type: v.literal("chat.message"), seq: v.number(), message: ChatMessageSchema }),
  v.object({ type: v.literal("chat.deleted"), seq: v.number(), messageId: v.string() }),
  v.object({ type: v.literal("chat.locked"), seq: v.number(), locked: v.boolean() }),
  /** Whether students may share files now. */
  v.object({ type: v.literal("files.allowed"), seq: v.number(), allowed: v.boolean() }),
  v.object({ type: v.literal("poll"), seq: v.number(), poll: PollSchema }),
  /** Reaction counts of the last second, by emoji. */
  v.object({ type: v.literal("reactions"), seq: v.number(), counts: v.record(v.string(), v.number()) }),
  /** Producers that appeared or changed (`paused`), and ids of producers that closed. */
  v.object({ type: v.literal("media.producers"), seq: v.number(), upserts: v.array(MediaProducerInfoSchema), removed: v.array(v.string()) }),
  /** The whole stage after a change. */
  v.object({ type: v.literal("media.stage"), seq: v.number(), stage: v.array(v.string()) }),
  /** Quality of the users whose score changed. */
  v.object({ type: v.literal("media.quality"), seq: v.number(), quality: MediaQualitySchema }),
  /** Recording started (the new state) or stopped (null). */
  v.object({ type: v.literal("recording"), seq: v.number(), recording: v.nullable(RecordingStateSchema) }),
  /** An accepted board op, in `opSeq` order. */
  v.object({ type: v.literal("board.op"), seq: v.number(), entry: BoardOpEntrySchema }),
  /** What the presenter shows now (null: the board is hidden), and how many blank pages there are. */
  v.object({ type: v.literal("board.presenter"), seq: v.number(), presenter: v.nullable(BoardPresenterSchema), blankPages: v.number() }),
  /** Students who hold a pen, after a change. */
  v.object({ type: v.literal("board.pens"), seq: v.number(), pens: v.array(v.string()) }),
]);
export type ClassroomEvent = v.InferOutput<typeof ClassroomEventSchema>;
/** An event before the broadcaster stamps its `seq`. */
export type UnsequencedEvent = ClassroomEvent extends infer E ? (E extends { seq: number } ? Omit<E, "seq"> : never) : never;

/** Why the class moves someone's media: their node's link closed and stayed closed, or the node is shutting down. */
export const MEDIA_MOVE_REASONS = ["node-lost", "node-draining"] as const;
export type MediaMoveReason = (typeof MEDIA_MOVE_REASONS)[number];

export const ClassroomNotificationSchema = v.variant("notification", [
  v.object({ notification: v.literal("snapshot"), data: SnapshotSchema }),
  v.object({ notification: v.literal("events"), data: v.object({ events: v.array(ClassroomEventSchema) }) }),
  /** Sent right before the object closes the socket for good (kicked, blocked, ended). */
  /** Someone's stroke in progress (or laser pointer), straight away and to everyone but its drawer. */
  v.object({ notification: v.literal("board.ink"), data: v.object({ userId: v.string(), ink: BoardInkSchema }) }),
  /**
   * Your media's node is gone or draining: leave it and `media.join` again now (no backoff wait), sending what you
   * sent before. Sent to each participant of that node at a random moment of a short window, so a node's people
   * do not all arrive at once (durable-objects/failover.ts).
   */
  v.object({ notification: v.literal("media.move"), data: v.object({ reason: v.picklist(MEDIA_MOVE_REASONS), nodeId: v.string() }) }),
  v.object({
    notification: v.literal("closing"),
    data: v.object({ reason: v.picklist(["kicked", "blocked", "ended", "too-many-sockets"]), message: v.string() }),
  }),
]);
export type ClassroomNotification = v.InferOutput<typeof ClassroomNotificationSchema>;

/** The answer to a method that only acts (its effect arrives as events). */
const Done = v.object({});

/** `media.join` answer: where to open the media signaling socket, and what you may send there. */
export const MediaJoinResponseSchema = v.object({
  nodeId: v.string(),
  /** `ws(s)://<node>/media/<classId>?token=<media token>` */
  signalingUrl: v.string(),
  /** When the media token expires (UTC ms); renew it before then with `media.renew` (or `media.join` to move). */
  expiresAt: v.number(),
  /**
   * The token's lifetime from now: a browser whose clock is minutes off counts its renewal from this (its own
   * clock), not from `expiresAt` (the signer's).
   */
  expiresInMs: v.number(),
  produce: v.array(v.picklist(MEDIA_SOURCES)),
});
export type MediaJoinResponse = v.InferOutput<typeof MediaJoinResponseSchema>;

/** `media.renew` answer: a media token for the same node, to send there as `token.renew { token }`. */
export const MediaRenewResponseSchema = v.object({
  nodeId: v.string(),
  token: v.string(),
  /** When the new token expires (UTC ms). */
  expiresAt: v.number(),
  /** The new token's lifetime from now (see `expiresInMs` of {@link MediaJoinResponseSchema}). */
  expiresInMs: v.number(),
  produce: v.array(v.picklist(MEDIA_SOURCES)),
});
export type MediaRenewResponse = v.InferOutput<typeof MediaRenewResponseSchema>;

/**
 * Response data by method, the other half of {@link CLASSROOM_METHODS} (kept apart because it names the shapes
 * declared after that table). The browser parses every answer with these; the object's handlers are typed by
 * them.
 */
export const CLASSROOM_RESPONSES = {
  "chat.send": v.object({ message: ChatMessageSchema }),
  "chat.delete": Done,
  "chat.lock": v.object({ locked: v.boolean() }),
  "files.allow": v.object({ allowed: v.boolean() }),
  "participant.mute": Done,
  "participant.remove": Done,
  "participant.block": Done,
  "poll.create": v.object({ poll: PollSchema }),
  "poll.vote": v.object({ optionIds: v.array(v.string()) }),
  "poll.close": v.object({ poll: PollSchema }),
  "poll.publish": v.object({ poll: PollSchema }),
  "hand.raise": v.object({ handRaisedAt: v.number() }),
  "hand.lower": Done,
  "reaction.send": Done,
  "session.end": Done,
  "media.join": MediaJoinResponseSchema,
  "media.renew": MediaRenewResponseSchema,
  "stage.invite": Done,
  "stage.revoke": Done,
  "media.mute": Done,
  "recording.start": v.object({ recording: RecordingStateSchema }),
  "recording.stop": v.object({ recording: v.nullable(RecordingStateSchema) }),
  "board.op": v.object({ opSeq: v.number() }),
  "board.ink": Done,
  "board.show": v.object({ presenter: BoardPresenterSchema }),
  "board.view": v.object({ presenter: BoardPresenterSchema }),
  "board.hide": Done,
  "board.pen": v.object({ pens: v.array(v.string()) }),
  "board.fetch": BoardSurfaceStateSchema,
  "people.list": PeopleListResponseSchema,
} as const satisfies Record<ClassroomMethod, v.GenericSchema>;

/** Response data by method, inferred from {@link CLASSROOM_RESPONSES}. */
export type ClassroomResponses = { [M in ClassroomMethod]: v.InferOutput<(typeof CLASSROOM_RESPONSES)[M]> };

/** `POST /api/classes/:id/join` response (its schema lives with the other HTTP shapes). */
export type { JoinResponse } from "../api/join";
