import * as v from "valibot";

/** The closed set of error codes used on every wire (HTTP, class channel, media signaling, fleet link). */
export const ERROR_CODES = [
  "INVALID_MESSAGE",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "RATE_LIMITED",
  "UNAVAILABLE",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = v.object({
  code: v.picklist(ERROR_CODES),
  message: v.string(),
});
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

/** The one HTTP error shape: `{ "error": { "code", "message" } }`. */
export const HttpErrorSchema = v.object({ error: ErrorBodySchema });
export type HttpError = v.InferOutput<typeof HttpErrorSchema>;

/** HTTP status for each code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_MESSAGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};
