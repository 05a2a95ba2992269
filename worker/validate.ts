import type { Context } from "hono";
import * as v from "valibot";
import { ApiError, describeIssues } from "./errors";

const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * Reads and validates a JSON body. Malformed JSON, a body over 64 KiB, wrong types and unknown fields
 * (schemas use `v.strictObject`) all become `INVALID_MESSAGE` before anything is written.
 */
export async function jsonBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) throw new ApiError("INVALID_MESSAGE", "Expected a JSON body (Content-Type: application/json)");
  const text = await c.req.text();
  if (text.length > MAX_JSON_BODY_BYTES) throw new ApiError("INVALID_MESSAGE", "Body is too large");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ApiError("INVALID_MESSAGE", "Body is not valid JSON");
  }
  return parse(schema, data);
}

/** Validates the query string (all values are strings; use v.pipe(v.string(), v.transform(...)) to convert). */
export function queryParams<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  return parse(schema, c.req.query());
}

export function parse<S extends v.GenericSchema>(schema: S, data: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, data);
  if (!result.success) throw new ApiError("INVALID_MESSAGE", describeIssues(result.issues));
  return result.output;
}
