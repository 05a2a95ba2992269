import * as v from "valibot";
import { describeFrameIssues, ERROR_CODES, type ErrorCode } from "../../schema/errors";

/** An API failure with the code and message from the server's one error shape (or a network failure). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    /** Per-field messages of a refused form, keyed like the request body ("title", "series.count"). */
    readonly fields: Record<string, string> = {},
    /** The response body as the server sent it (`{ error: … }`), for a caller that knows more of its shape (schema/api). */
    readonly body: unknown = undefined,
  ) {
    super(message);
  }
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/**
 * Registers what happens when any request answers 401 (the app sends the user to sign-in).
 * Kept as a hook so this module stays free of router and UI imports.
 */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Sent as JSON. */
  body?: unknown;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | undefined>;
  /** A 401 from this request is an answer to show, not a lost session (the sign-in form itself). */
  expectUnauthorized?: boolean;
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

async function readError(response: Response): Promise<ApiError> {
  try {
    const payload: unknown = await response.json();
    if (payload && typeof payload === "object" && "error" in payload) {
      const error = (payload as { error: unknown }).error;
      if (error && typeof error === "object") {
        const { code, message, fields } = error as { code?: unknown; message?: unknown; fields?: unknown };
        if (isErrorCode(code) && typeof message === "string") return new ApiError(code, message, response.status, stringRecord(fields), payload);
      }
    }
  } catch {
    // Not JSON (a proxy or platform error page): fall through to a generic error for the status.
  }
  const code: ErrorCode =
    response.status === 401 ? "UNAUTHORIZED" : response.status === 429 ? "RATE_LIMITED" : response.status >= 500 ? "UNAVAILABLE" : "INTERNAL";
  return new ApiError(code, `The server answered ${response.status} ${response.statusText}`.trim(), response.status);
}

/**
 * The one way the app talks to the API: JSON in and out, same-origin cookies, and failures thrown as ApiError.
 * The caller names the reply's schema (from schema/api/*; `NoContentSchema` for a 204) and gets what it
 * parsed: a reply of another shape is an ApiError with a message to show (the issues go to the console), so
 * a page shows an error instead of drawing half of what it got.
 */
export async function api<S extends v.GenericSchema>(path: string, response: S, options: RequestOptions = {}): Promise<v.InferOutput<S>> {
  const method = options.method ?? "GET";
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let reply: Response;
  try {
    reply = await fetch(url, {
      method,
      credentials: "same-origin",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError("UNAVAILABLE", "Cannot reach insp-live. Check your connection and try again.", 0);
  }
  if (!reply.ok) {
    const error = await readError(reply);
    if (reply.status === 401 && !options.expectUnauthorized) onUnauthorized?.();
    throw error;
  }
  const misunderstood = (detail: string) => {
    console.error(`${method} ${url.pathname}: the reply does not match its schema: ${detail}`);
    return new ApiError("INTERNAL", "The server's answer came in a form this page does not understand. Reload the page and try again.", reply.status);
  };
  let body: unknown;
  try {
    body = reply.status === 204 ? undefined : await reply.json();
  } catch {
    throw misunderstood("not JSON");
  }
  const parsed = v.safeParse(response, body);
  if (!parsed.success) throw misunderstood(describeFrameIssues(parsed.issues));
  return parsed.output;
}

/** A message to show for anything thrown by an API call or a page action. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "RATE_LIMITED") return `${error.message} Please wait a moment before trying again.`;
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
