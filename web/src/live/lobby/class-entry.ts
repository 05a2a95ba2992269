import * as v from "valibot";
import {
  type EndedSession,
  type JoinRefusal,
  JoinRefusedSchema,
  type JoinResponse,
  JoinResponseSchema,
  type UpcomingOccurrence,
} from "../../../../schema/api/join";
import { api, ApiError, errorMessage } from "../../api";

/**
 * What opening the live page leads to, decided by the join API:
 * - `enter`: the class is open to this user and nothing holds them back;
 * - `early`: the room is not open to students yet (a teacher or admin has `join` and may start it now);
 * - `ended`: a teacher ended this slot's session (a teacher or admin has `join` and may start a new one);
 * - `refused`: anything else the server said no to, in its words.
 */
export type ClassEntry =
  | { kind: "enter"; join: JoinResponse }
  | { kind: "early"; upcoming: UpcomingOccurrence; join: JoinResponse | null }
  | { kind: "ended"; ended: EndedSession; join: JoinResponse | null }
  | { kind: "refused"; message: string; retry: boolean };

/** Asks the join API whether this user may enter the live class now, and what to show if not. */
export async function checkClassEntry(classId: string): Promise<ClassEntry> {
  let join: JoinResponse;
  try {
    join = await api(`/api/classes/${classId}/join`, JoinResponseSchema, { method: "POST" });
  } catch (error) {
    const refusal = joinRefusal(error);
    if (refusal?.reason === "not-open") return { kind: "early", upcoming: refusal, join: null };
    if (refusal?.reason === "ended") return { kind: "ended", ended: refusal, join: null };
    // A network failure, a server error or a garbled answer may pass; a refusal (blocked, not enrolled) does not.
    const retry = !(error instanceof ApiError && error.status >= 400 && error.status < 500);
    return { kind: "refused", message: errorMessage(error), retry };
  }
  if (join.ended) return { kind: "ended", ended: join.ended, join };
  if (join.upcoming) return { kind: "early", upcoming: join.upcoming, join };
  return { kind: "enter", join };
}

/** The reason a join was refused, when the server said it as data (schema/api/join.ts). */
export function joinRefusal(error: unknown): JoinRefusal | null {
  if (!(error instanceof ApiError)) return null;
  const parsed = v.safeParse(JoinRefusedSchema, error.body);
  return parsed.success ? parsed.output.error.join : null;
}

/**
 * How long to wait before asking again at `at`: a random 0–3 s after it, so that a class of hundreds waiting in
 * the lobby does not arrive in the same millisecond. Capped, since a timer longer than ~24 days fires at once.
 */
export function delayUntil(at: number, now: number): number {
  return Math.min(Math.max(0, at - now) + Math.random() * 3_000, 6 * 3_600_000);
}
