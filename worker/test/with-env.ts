import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import type { User } from "../../schema/db";
import type { Env } from "../env";
import worker from "../index";
import { ORIGIN, sessionCookie } from "./helpers";

/**
 * Sends `request` through the Worker's own fetch handler, in this workerd, with some settings changed (e.g.
 * LOCAL_DEV="true", which worker/vitest.config.ts leaves "false" like production). Same D1, same code path as
 * SELF.fetch; only the environment differs.
 */
export async function fetchWithEnv(request: Request, overrides: Partial<Env>): Promise<Response> {
  const context = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides }, context);
  await waitOnExecutionContext(context);
  return response;
}

/** A same-origin GET of `path` as `user` (like helpers' `api`) under changed settings. */
export async function getWithEnv(path: string, overrides: Partial<Env>, as?: User): Promise<Response> {
  const headers: Record<string, string> = { origin: ORIGIN };
  if (as) headers.cookie = await sessionCookie(as);
  return fetchWithEnv(new Request(`${ORIGIN}${path}`, { headers }), overrides);
}
