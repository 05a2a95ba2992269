/**
 * What a viewer of a recording gets beside the video (issue 13, "After class"): a download link for the
 * composed MP4, the chapters, the class chat of that session, and where they stopped watching.
 *
 * - `POST /api/recordings/:id/download` → {@link DownloadLinkResponse}; `GET` of that link sends the file.
 * - `GET /api/recordings/:id/chapters` → {@link ChaptersResponse}
 * - `GET /api/recordings/:id/chat` → {@link ReplayChatResponse}
 * - `GET|PUT /api/recordings/:id/position` → {@link PositionResponse} (PUT body: {@link PositionPutSchema})
 *
 * Offsets (`atMs`, `positionMs`) count milliseconds from the start of the recording; other times are UTC ms.
 */
import * as v from "valibot";

/** The same list as `CLASS_MARK_KINDS` in schema/db.ts (kept apart so the web app need not load drizzle). */
export const CHAPTER_KIND_VALUES = ["page", "blank", "screen-share", "screen-share-ended", "board-hidden", "stage", "stage-ended"] as const;
export type ChapterKind = (typeof CHAPTER_KIND_VALUES)[number];

/** Download tokens: ES256 JWTs signed with the Worker's key (`iss` = the Worker, `sub` = the user). */
export const DOWNLOAD_TOKEN_AUDIENCE = "insp-live-recording-download";
/** Long enough to start the download after the click, short enough that a shared link soon stops working. */
export const DOWNLOAD_TOKEN_LIFETIME_SECONDS = 5 * 60;

/** The claims of a verified download token (signature, issuer, audience and expiry already checked). */
export const DownloadTokenClaimsSchema = v.object({
  sub: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  /** The recording the link is for: a token for one recording opens no other. */
  recordingId: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
});
export type DownloadTokenClaims = v.InferOutput<typeof DownloadTokenClaimsSchema>;

/** The download token in the link's query string (`?token=`). */
export const DownloadQuerySchema = v.strictObject({
  token: v.pipe(v.string("The download link has no token"), v.minLength(1, "The download link has no token"), v.maxLength(4096, "The token is too long")),
});

/** A link that downloads the recording as one MP4 until `expiresAt`. `url` is a path on this site. */
export const DownloadLinkResponseSchema = v.object({ url: v.string(), expiresAt: v.number() });
export type DownloadLinkResponse = v.InferOutput<typeof DownloadLinkResponseSchema>;

/** One chapter: a moment of the class a viewer may want to jump to. */
export const ChapterSchema = v.object({
  /** Where it starts, in ms from the start of the recording (0 for what was showing when recording began). */
  atMs: v.number(),
  /** "Deck title — page 3", "Whiteboard page 2", "Screen share by Ana", … */
  label: v.string(),
  kind: v.picklist(CHAPTER_KIND_VALUES),
});
export type Chapter = v.InferOutput<typeof ChapterSchema>;
export const ChaptersResponseSchema = v.object({ chapters: v.array(ChapterSchema) });
export type ChaptersResponse = v.InferOutput<typeof ChaptersResponseSchema>;

/** One chat message of the recorded session, read-only. */
export const ReplayChatMessageSchema = v.object({
  id: v.string(),
  /** When it was sent, in ms from the start of the recording (negative: before the recording started). */
  atMs: v.number(),
  author: v.object({ id: v.string(), displayName: v.string() }),
  body: v.string(),
  /** The name of the file shared with it, if any. */
  fileName: v.nullable(v.string()),
});
export type ReplayChatMessage = v.InferOutput<typeof ReplayChatMessageSchema>;
export const ReplayChatResponseSchema = v.object({ messages: v.array(ReplayChatMessageSchema) });
export type ReplayChatResponse = v.InferOutput<typeof ReplayChatResponseSchema>;

/** A recording lasts at most a week (as the node's reports say); no position lies beyond that. */
const MAX_POSITION_MS = 7 * 24 * 3600_000;

/** `PUT /api/recordings/:id/position`: where the viewer is now. */
export const PositionPutSchema = v.strictObject({
  positionMs: v.pipe(
    v.number("positionMs must be a number"),
    v.integer("positionMs must be a whole number of milliseconds"),
    v.minValue(0, "positionMs cannot be negative"),
    v.maxValue(MAX_POSITION_MS, "positionMs is longer than any recording"),
  ),
});
export type PositionPut = v.InferOutput<typeof PositionPutSchema>;

/** Where the viewer stopped last time, or null if they never played it. */
export const PositionResponseSchema = v.object({ positionMs: v.nullable(v.number()), updatedAt: v.nullable(v.number()) });
export type PositionResponse = v.InferOutput<typeof PositionResponseSchema>;
