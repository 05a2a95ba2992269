import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { describeIssues, type ErrorCode, fieldMessages, HTTP_STATUS } from "../schema/errors";

export { describeIssues, fieldMessages };

/**
 * An error meant for the client: its code and message are sent as the one error shape. `status` defaults to the
 * code's; a body refused for its size (413) or its type (415) keeps `INVALID_MESSAGE` but says which in the status,
 * so a client or proxy can tell "shrink it" from "fix it" without a new code.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number = HTTP_STATUS[code],
    /** Per-field messages for a refused form (see `ErrorBodySchema`). */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorResponse(code: ErrorCode, message: string, headers?: HeadersInit, status = HTTP_STATUS[code], fields?: Record<string, string>): Response {
  const hasFields = fields !== undefined && Object.keys(fields).length > 0;
  return Response.json({ error: hasFields ? { code, message, fields } : { code, message } }, { status, headers });
}

/** Maps every thrown error to `{ error: { code, message } }`; never leaks a stack trace. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return errorResponse(err.code, err.message, undefined, err.status, err.fields);
  if (err instanceof v.ValiError) return errorResponse("INVALID_MESSAGE", describeIssues(err.issues), undefined, undefined, fieldMessages(err.issues));
  if (err instanceof HTTPException) {
    const code: ErrorCode =
      err.status === 401
        ? "UNAUTHORIZED"
        : err.status === 403
          ? "FORBIDDEN"
          : err.status === 404
            ? "NOT_FOUND"
            : err.status === 429
              ? "RATE_LIMITED"
              : err.status < 500
                ? "INVALID_MESSAGE"
                : "INTERNAL";
    return errorResponse(code, err.message || "Request failed");
  }
  console.error(JSON.stringify({ event: "unhandled_error", path: c.req.path, method: c.req.method, error: String(err?.stack ?? err) }));
  return errorResponse("INTERNAL", "Something went wrong on our side");
}
