import * as v from "valibot";
import { ErrorBodySchema, type ErrorCode } from "../errors";

/**
 * The request/response/notification envelope shared by the WebSocket protocols of insp-live.
 *
 * - request (client → server): `{ id, method, data }`; ids are numbers the client picks, increasing per socket.
 * - response (server → client): `{ id, ok: true, data }` or `{ id, ok: false, error: { code, message } }`;
 *   `id` is null when the request was so malformed that no id could be read. A `RATE_LIMITED` error also
 *   carries `retryAfterMs`: how long until the same request would pass.
 * - notification (server → client, one-way): `{ notification, data }`.
 */

/** Request ids: non-negative safe integers. */
export const RequestIdSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

/** The outer request frame for a set of method names; `data` is then checked against the method's own schema. */
export function requestFrameSchema<const M extends readonly [string, ...string[]]>(methods: M) {
  return v.strictObject({ id: RequestIdSchema, method: v.picklist(methods), data: v.optional(v.unknown()) });
}

/** The error of a response frame: the common error body, plus the wait a `RATE_LIMITED` refusal asks for. */
export const ResponseErrorSchema = v.object({
  ...ErrorBodySchema.entries,
  retryAfterMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type ResponseError = v.InferOutput<typeof ResponseErrorSchema>;

export const ResponseFrameSchema = v.variant("ok", [
  v.strictObject({ id: RequestIdSchema, ok: v.literal(true), data: v.unknown() }),
  v.strictObject({ id: v.nullable(RequestIdSchema), ok: v.literal(false), error: ResponseErrorSchema }),
]);
export type ResponseFrame = v.InferOutput<typeof ResponseFrameSchema>;

/** Builds a success response frame. */
export function okFrame(id: number, data: unknown): string {
  return JSON.stringify({ id, ok: true, data });
}

/**
 * Builds an error response frame (never carries a stack trace: only a code, a human-readable message and, for
 * `RATE_LIMITED`, the wait in milliseconds before trying again).
 */
export function errorFrame(id: number | null, code: ErrorCode, message: string, retryAfterMs?: number): string {
  const error: ResponseError = retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs };
  return JSON.stringify({ id, ok: false, error });
}

/** Reads the request id of a frame that failed validation, so the error reply can still be matched. */
export function readRequestId(raw: unknown): number | null {
  if (typeof raw !== "object" || raw === null || !("id" in raw)) return null;
  const result = v.safeParse(RequestIdSchema, (raw as { id: unknown }).id);
  return result.success ? result.output : null;
}
