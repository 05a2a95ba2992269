import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Env } from "../env";
import { ApiError } from "../errors";

/**
 * `LOCAL_DEV=true` marks the embedded setup that `npm start` runs (scripts/dev-vars.ts writes it into .dev.vars).
 * Only the exact string "true" counts: a production deployment that leaves the variable unset, empty or "false"
 * must never expose a local-only helper by accident.
 */
export function isLocalDev(env: Env): boolean {
  return env.LOCAL_DEV === "true";
}

/**
 * Refuses a local-only helper outside local development with 404: in production the helper does not exist, and
 * the message says why, so someone who followed a link from the local docs is not left guessing.
 */
export function requireLocalDev(c: Context<AppEnv>, helper: string): void {
  if (!isLocalDev(c.env)) throw new ApiError("NOT_FOUND", `${helper} exists only in local development (LOCAL_DEV=true, set by npm start)`);
}

/**
 * True for the accounts scripts/seed.ts makes (ids "demo-…", addresses "…@insp-live.local"; the seed also gives
 * its password to an account of such an address that SSO created first). Their password is published in README,
 * so outside local development they must not sign in even if a seeded database reached production.
 */
export function isDemoAccount(user: { id: string; email: string }): boolean {
  return user.id.startsWith("demo-") || user.email.toLowerCase().endsWith("@insp-live.local");
}
