import * as v from "valibot";

/**
 * Media tokens: short-lived ES256 JWTs that the class Durable Object obtains from the Worker's key and hands to
 * a participant for one sfu-node. The node verifies them against the Worker's `/.well-known/jwks.json`.
 *
 * Standard claims: `iss` = {@link MEDIA_TOKEN_ISSUER}, `aud` = the node id, `sub` = the user id, `exp`.
 * Private claims: `classId`, `role`, `produce` (the kinds of media this participant may send) and
 * `displayName`.
 */
export const MEDIA_TOKEN_ISSUER = "insp-live-worker";

/** A media token lives this long at most; the node refuses tokens that claim a longer life. */
export const MEDIA_TOKEN_MAX_LIFETIME_SECONDS = 60 * 60;

/**
 * What a participant may send: microphone, camera, screen share (its own producer), and the presenter's composed
 * board (page or screen with its annotations, drawn onto a canvas). The board track exists for the recording:
 * browsers draw the vector board themselves and do not receive it.
 */
export const MEDIA_SOURCES = ["audio", "video", "screen", "board"] as const;
export type MediaSource = (typeof MEDIA_SOURCES)[number];

/** Roles as they appear in a media token (a teacher is teacher of this class). */
export const MEDIA_ROLES = ["student", "teacher", "admin"] as const;
export type MediaRole = (typeof MEDIA_ROLES)[number];

/** The claims of a verified media token, after signature, issuer, audience and expiry were checked. */
export const MediaTokenClaimsSchema = v.object({
  iss: v.literal(MEDIA_TOKEN_ISSUER),
  aud: v.union([v.string(), v.array(v.string())]),
  sub: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  exp: v.pipe(v.number(), v.integer()),
  iat: v.optional(v.pipe(v.number(), v.integer())),
  classId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  role: v.picklist(MEDIA_ROLES),
  produce: v.pipe(v.array(v.picklist(MEDIA_SOURCES)), v.maxLength(MEDIA_SOURCES.length)),
  displayName: v.optional(v.pipe(v.string(), v.maxLength(200))),
});
export type MediaTokenClaims = v.InferOutput<typeof MediaTokenClaimsSchema>;

/** The private claims the signer puts in (`iss`, `aud`, `sub`, `exp` are set by the signer's options). */
export type MediaTokenGrant = Pick<MediaTokenClaims, "classId" | "role" | "produce" | "displayName">;
