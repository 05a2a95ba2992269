import type { Context } from "hono";
import * as v from "valibot";
import { ApiError, describeIssues, fieldMessages } from "./errors";

/** The largest JSON body an API route accepts, counted in bytes as they arrive (not in decoded characters). */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * Refuses with 415 unless the request says exactly `mediaType`. A `charset` parameter is allowed only when it
 * names UTF-8, since that is the only encoding the body is decoded as; a prefix match would also take
 * `application/json-seq` or `application/jsonp`, which are not what the route parses.
 */
export function requireContentType(request: Request, mediaType: string): void {
  const header = request.headers.get("content-type");
  const [essence = "", ...parameters] = (header ?? "").split(";");
  const charsetOk = parameters.every((parameter) => {
    const [name = "", value = ""] = parameter.split("=").map((part) => part.trim().toLowerCase());
    return name === "charset" && /^"?utf-?8"?$/.test(value);
  });
  if (essence.trim().toLowerCase() !== mediaType || !charsetOk) {
    throw new ApiError("INVALID_MESSAGE", `Expected Content-Type: ${mediaType}${header ? ` (got ${header.slice(0, 100)})` : ""}`, 415);
  }
}

/**
 * Reads the body as UTF-8 text, counting bytes as they arrive and stopping (413) at the first chunk past
 * `maxBytes`: a client that streams without Content-Length, or lies in it, cannot make the Worker buffer more
 * than the cap. A declared length over the cap is refused before reading anything.
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new ApiError("INVALID_MESSAGE", `Body is larger than ${maxBytes} bytes`, 413);
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // The rest is never read; cancelling tells the runtime to drop it instead of holding the connection's data.
      reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError("INVALID_MESSAGE", "Body is not valid UTF-8");
  }
}

/**
 * Reads and validates a JSON body: a Content-Type other than application/json is 415, a body over 64 KiB is
 * 413 (both before any parsing); malformed JSON, wrong types and unknown fields (schemas use `v.strictObject`)
 * are 400 `INVALID_MESSAGE`. All of it happens before anything is written.
 */
export async function jsonBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  requireContentType(c.req.raw, "application/json");
  const text = await readBodyText(c.req.raw, MAX_JSON_BODY_BYTES);
  return parse(schema, parseJson(text));
}

/** JSON.parse with the one error shape instead of a SyntaxError (which would be a 500). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("INVALID_MESSAGE", "Body is not valid JSON");
  }
}

/** Validates the query string (all values are strings; use v.pipe(v.string(), v.transform(...)) to convert). */
export function queryParams<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  return parse(schema, c.req.query());
}

export function parse<S extends v.GenericSchema>(schema: S, data: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, data);
  if (!result.success) throw new ApiError("INVALID_MESSAGE", describeIssues(result.issues), undefined, fieldMessages(result.issues));
  return result.output;
}
