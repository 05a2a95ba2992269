/**
 * `POST /api/classes/:id/join`: the answer that lets the browser into the live class, and the refusals it can
 * act on (wait in the lobby until the room opens; the class has ended). Shared by the Worker and the web app,
 * which parses both with these schemas.
 *
 * Times are UTC milliseconds.
 */
import * as v from "valibot";
import { CLASS_ROLES } from "../tokens/class-token";
import { ErrorBodySchema } from "../errors";

/** Students may enter this long before an occurrence starts (until it ends); teachers and admins any time. */
export const JOIN_OPENS_BEFORE_START_MS = 15 * 60_000;

/** The `end_reason` of a session a moderator ended ("End class"). */
export const ENDED_BY_TEACHER = "ended-by-teacher";

/**
 * Whether the class's latest session keeps students out of the slot that opened at `opensAt`: a teacher ended it
 * since (a session that ended empty does not, nor one ended before the slot opened). The join route and the class
 * object both decide by this.
 */
export function endedInSlot(latest: { endedAt: number | null; endReason: string | null }, opensAt: number): boolean {
  return latest.endedAt !== null && latest.endReason === ENDED_BY_TEACHER && latest.endedAt >= opensAt;
}

/** The next occurrence and when students may come in. */
export const UpcomingOccurrenceSchema = v.object({
  occurrenceId: v.string(),
  startsAt: v.number(),
  endsAt: v.number(),
  /** When students may enter: {@link JOIN_OPENS_BEFORE_START_MS} before the start. */
  opensAt: v.number(),
});
export type UpcomingOccurrence = v.InferOutput<typeof UpcomingOccurrenceSchema>;

/**
 * A session that a teacher ended within the current occurrence's slot (from when it opened), with the recording
 * made in it: `ready` (watch it at `/recordings/:id`) or still being prepared. A failed recording is left out.
 */
export const EndedSessionSchema = v.object({
  sessionId: v.string(),
  endedAt: v.number(),
  recording: v.nullable(v.object({ id: v.string(), ready: v.boolean() })),
});
export type EndedSession = v.InferOutput<typeof EndedSessionSchema>;

/** What a refusal of the join carries besides its code and message, so the page can act on it. */
export const JoinRefusalSchema = v.variant("reason", [
  /** Too early: the room opens at `opensAt` (code `CONFLICT`). */
  v.object({ reason: v.literal("not-open"), ...UpcomingOccurrenceSchema.entries }),
  /** A teacher ended this occurrence's session (code `CONFLICT`). */
  v.object({ reason: v.literal("ended"), ...EndedSessionSchema.entries }),
  /** Nothing scheduled (code `CONFLICT`). */
  v.object({ reason: v.literal("no-meeting") }),
]);
export type JoinRefusal = v.InferOutput<typeof JoinRefusalSchema>;

/** The error body of a refused join: the one error shape plus `join`. */
export const JoinRefusedSchema = v.object({ error: v.object({ ...ErrorBodySchema.entries, join: JoinRefusalSchema }) });
export type JoinRefused = v.InferOutput<typeof JoinRefusedSchema>;

/** The answer: a class token and where to connect with it. */
export const JoinResponseSchema = v.object({
  /** The class token (2 minutes); pass it as `?token=` on the socket URL. */
  token: v.string(),
  expiresAt: v.number(),
  /** `ws(s)://host/parties/classroom/<classId>?token=…` */
  socketUrl: v.string(),
  /** partysocket's pieces of the same URL. */
  party: v.literal("classroom"),
  room: v.string(),
  role: v.picklist(CLASS_ROLES),
  occurrenceId: v.nullable(v.string()),
  /**
   * For a teacher or admin who comes before students may (they may start early): the next occurrence. Null
   * once it is open, or when none is scheduled.
   */
  upcoming: v.nullable(UpcomingOccurrenceSchema),
  /**
   * For a teacher or admin: the session they (or another moderator) ended in this slot, when no new one started
   * since; entering now starts a new session. Students are refused instead (`join.reason` `ended`).
   */
  ended: v.nullable(EndedSessionSchema),
});
export type JoinResponse = v.InferOutput<typeof JoinResponseSchema>;
