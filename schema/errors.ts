import * as v from "valibot";

/** The closed set of error codes used on every wire (HTTP, class channel, media signaling, fleet link). */
export const ERROR_CODES = ["INVALID_MESSAGE", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "RATE_LIMITED", "UNAVAILABLE", "INTERNAL"] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = v.object({
  code: v.picklist(ERROR_CODES),
  message: v.string(),
  /**
   * For a refused form: a message per top-level field of the request body, so a form can show each at its input.
   * `message` still says it all, for clients that show one line.
   */
  fields: v.optional(v.record(v.string(), v.string())),
});
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

/** The one HTTP error shape: `{ "error": { "code", "message", "fields"? } }`. */
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

/** The part of a validation issue that formatting needs (valibot's issues, and any library shaped like them). */
export type IssueLike = { message: string; path?: readonly { key: unknown }[] };

/**
 * The first message for each field, keyed by the issue's path below the body ("title", "series.count"). Issues
 * about the body as a whole have no path and are left to `message`.
 */
export function fieldMessages(issues: readonly IssueLike[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const path = issue.path?.map((p) => String(p.key)).join(".");
    if (path && !(path in fields)) fields[path] = issue.message;
  }
  return fields;
}

/**
 * One line for a person: the schemas' messages already name their field ("Give the class a title"), so no
 * path prefix; at most five, since past that the form is wrong in a way a list will not help with.
 */
export function describeIssues(issues: readonly IssueLike[]): string {
  return [...new Set(issues.slice(0, 5).map((issue) => issue.message))].join(" ");
}

/**
 * One line for a program at the other end of a socket (a class-channel or media-signaling frame), or for the
 * console when a reply does not match its schema: each message after the path it is about,
 * `data.transportId: Invalid type…; …`, since a frame has no form field to show it at.
 */
export function describeFrameIssues(issues: readonly IssueLike[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((p) => String(p.key)).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
