import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { type ErrorCode, HTTP_STATUS } from "../schema/errors";

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
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorResponse(code: ErrorCode, message: string, headers?: HeadersInit, status = HTTP_STATUS[code]): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

/** Maps every thrown error to `{ error: { code, message } }`; never leaks a stack trace. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return errorResponse(err.code, err.message, undefined, err.status);
  if (err instanceof v.ValiError) return errorResponse("INVALID_MESSAGE", describeIssues(err.issues));
  if (err instanceof HTTPException) {
    const code: ErrorCode =
      err.status === 401 ? "UNAUTHORIZED" : err.status === 403 ? "FORBIDDEN" : err.status === 404 ? "NOT_FOUND" : err.status === 429 ? "RATE_LIMITED" : err.status < 500 ? "INVALID_MESSAGE" : "INTERNAL";
    return errorResponse(code, err.message || "Request failed");
  }
  console.error(JSON.stringify({ event: "unhandled_error", path: c.req.path, method: c.req.method, error: String(err?.stack ?? err) }));
  return errorResponse("INTERNAL", "Something went wrong on our side");
}

/** A short human-readable summary of valibot issues: `title: Invalid length…; starts_at: …`. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((p) => String(p.key)).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
