import * as v from "valibot";
import { ErrorBodySchema, type ErrorCode } from "../errors";

/**
 * The request/response/notification envelope shared by the WebSocket protocols of insp-live.
 *
 * - request (client → server): `{ id, method, data }`; ids are numbers the client picks, increasing per socket.
 * - response (server → client): `{ id, ok: true, data }` or `{ id, ok: false, error: { code, message } }`;
 *   `id` is null when the request was so malformed that no id could be read.
 * - notification (server → client, one-way): `{ notification, data }`.
 */

/** Request ids: non-negative safe integers. */
export const RequestIdSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

/** The outer request frame for a set of method names; `data` is then checked against the method's own schema. */
export function requestFrameSchema<const M extends readonly [string, ...string[]]>(methods: M) {
  return v.strictObject({ id: RequestIdSchema, method: v.picklist(methods), data: v.optional(v.unknown()) });
}

export const ResponseFrameSchema = v.variant("ok", [
  v.strictObject({ id: RequestIdSchema, ok: v.literal(true), data: v.unknown() }),
  v.strictObject({ id: v.nullable(RequestIdSchema), ok: v.literal(false), error: ErrorBodySchema }),
]);
export type ResponseFrame = v.InferOutput<typeof ResponseFrameSchema>;

/** Builds a success response frame. */
export function okFrame(id: number, data: unknown): string {
  return JSON.stringify({ id, ok: true, data });
}

/** Builds an error response frame (never carries a stack trace: only a code and a human-readable message). */
export function errorFrame(id: number | null, code: ErrorCode, message: string): string {
  return JSON.stringify({ id, ok: false, error: { code, message } });
}

/** Reads the request id of a frame that failed validation, so the error reply can still be matched. */
export function readRequestId(raw: unknown): number | null {
  if (typeof raw !== "object" || raw === null || !("id" in raw)) return null;
  const result = v.safeParse(RequestIdSchema, (raw as { id: unknown }).id);
  return result.success ? result.output : null;
}
