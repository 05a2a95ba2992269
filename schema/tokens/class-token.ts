import * as v from "valibot";
import { MAX_FAN_OUT } from "../protocol/fan-out";

/**
 * Class tokens: short-lived ES256 JWTs the Worker signs (POST /api/classes/:id/join) so a browser may open the
 * class channel. The Worker verifies them at the edge before the WebSocket upgrade and hands the verified
 * identity to the Classroom Durable Object; nothing the client sends later can change who it is.
 *
 * Standard claims: `iss` = {@link CLASS_TOKEN_ISSUER}, `aud` = {@link CLASS_TOKEN_AUDIENCE}, `sub` = user id, `exp`.
 */
export const CLASS_TOKEN_ISSUER = "insp-live-worker";
export const CLASS_TOKEN_AUDIENCE = "insp-live-class-channel";
export const CLASS_TOKEN_LIFETIME_SECONDS = 120;

/** A participant's role in one class: the class's teacher, an admin (moderates too), or a student. */
export const CLASS_ROLES = ["student", "teacher", "admin"] as const;
export type ClassRole = (typeof CLASS_ROLES)[number];

/** Teachers of the class and admins moderate: they may delete chat, run polls, remove and block people. */
export function isModerator(role: ClassRole): boolean {
  return role === "teacher" || role === "admin";
}

const Text = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max));

/** The claims of a verified class token. */
export const ClassTokenClaimsSchema = v.object({
  iss: v.literal(CLASS_TOKEN_ISSUER),
  aud: v.union([v.literal(CLASS_TOKEN_AUDIENCE), v.array(v.string())]),
  sub: Text(128),
  exp: v.pipe(v.number(), v.integer()),
  classId: Text(128),
  displayName: Text(200),
  role: v.picklist(CLASS_ROLES),
  /** The occurrence that is open now (null when a teacher opens the room outside the schedule). */
  occurrenceId: v.nullable(Text(128)),
  /**
   * How many fan-out objects the class's sockets are spread over (absent: none, the socket goes to the class object);
   * see schema/protocol/fan-out.ts. The join route decides it from the class's size.
   */
  fanOut: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_FAN_OUT))),
});
export type ClassTokenClaims = v.InferOutput<typeof ClassTokenClaimsSchema>;

/** The identity the Worker passes to the Durable Object after verifying a class token. */
export const ClassIdentitySchema = v.strictObject({
  userId: Text(128),
  classId: Text(128),
  displayName: Text(200),
  role: v.picklist(CLASS_ROLES),
  occurrenceId: v.nullable(Text(128)),
});
export type ClassIdentity = v.InferOutput<typeof ClassIdentitySchema>;

/** Header on the upgrade request that carries the verified identity from the Worker to the object. */
export const CLASS_IDENTITY_HEADER = "x-insp-class-identity";

/**
 * The identity as that header's value: percent-encoded JSON, because a header value is bytes a browser would
 * refuse outside ASCII, and display names are not ASCII ("Émile", "陈静").
 */
export function encodeIdentityHeader(identity: ClassIdentity): string {
  return encodeURIComponent(JSON.stringify(identity));
}

/** The identity in that header's value, or null when it is not one. */
export function decodeIdentityHeader(value: string): ClassIdentity | null {
  try {
    const parsed = v.safeParse(ClassIdentitySchema, JSON.parse(decodeURIComponent(value)));
    return parsed.success ? parsed.output : null;
  } catch {
    return null;
  }
}
