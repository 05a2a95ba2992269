import { and, eq, gt, lt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { signInAttempts } from "../../schema/db";
import type { Db } from "../db";

/**
 * Sign-in failure counting in D1 (`sign_in_attempts`). Failures are counted in one-minute buckets and summed
 * over a sliding 15-minute window, so a burst at a window edge cannot double the allowance the way a fixed
 * window would, and the Retry-After we send is the moment enough old failures have aged out.
 */

const BUCKET_MS = 60_000;
export const RATE_WINDOW_MS = 15 * 60_000;

/** How many failures each kind of key may collect within the window before sign-in is refused. */
export const SIGN_IN_LIMITS = {
  /** Password guesses against one account. */
  loginEmail: 5,
  /** Password guesses from one client address, across accounts. */
  loginIp: 20,
  /** Bad SSO links from one client address. */
  ssoIp: 20,
} as const;

export type LimitedKey = { key: string; limit: number };

/** The client's address as Cloudflare reports it; "local" when there is none (wrangler dev, tests). */
export function clientIp(header: string | undefined): string {
  const ip = header?.trim();
  return ip && ip.length <= 64 ? ip : "local";
}

export const loginEmailKey = (email: string): LimitedKey => ({ key: `login-email:${email.toLowerCase()}`, limit: SIGN_IN_LIMITS.loginEmail });
export const loginIpKey = (ip: string): LimitedKey => ({ key: `login-ip:${ip}`, limit: SIGN_IN_LIMITS.loginIp });
export const ssoIpKey = (ip: string): LimitedKey => ({ key: `sso-ip:${ip}`, limit: SIGN_IN_LIMITS.ssoIp });

/**
 * Seconds until the most constrained of `keys` accepts another attempt, or 0 when all of them still have
 * room.
 */
export async function retryAfterSeconds(db: Db, keys: LimitedKey[], now = Date.now()): Promise<number> {
  let waitMs = 0;
  for (const { key, limit } of keys) {
    const buckets = await db
      .select({ windowStart: signInAttempts.windowStart, count: signInAttempts.count })
      .from(signInAttempts)
      .where(and(eq(signInAttempts.key, key), gt(signInAttempts.windowStart, now - RATE_WINDOW_MS)))
      .orderBy(signInAttempts.windowStart);
    let total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
    // Drop the oldest buckets until the total is under the limit; the last one dropped decides the wait.
    for (const bucket of buckets) {
      if (total < limit) break;
      total -= bucket.count;
      waitMs = Math.max(waitMs, bucket.windowStart + RATE_WINDOW_MS - now);
    }
  }
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
}

/** Counts one failure against each of `keys`, and forgets their buckets that left the window. */
export async function recordFailure(db: Db, keys: LimitedKey[], now = Date.now()): Promise<void> {
  const windowStart = now - (now % BUCKET_MS);
  const statements: BatchItem<"sqlite">[] = keys.flatMap(({ key }) => [
    db
      .insert(signInAttempts)
      .values({ key, windowStart, count: 1 })
      .onConflictDoUpdate({ target: [signInAttempts.key, signInAttempts.windowStart], set: { count: sql`${signInAttempts.count} + 1` } }),
    db.delete(signInAttempts).where(and(eq(signInAttempts.key, key), lt(signInAttempts.windowStart, now - RATE_WINDOW_MS))),
  ]);
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/** Forgets the failures counted against `keys` (a correct password clears its account's count). */
export async function clearFailures(db: Db, keys: LimitedKey[]): Promise<void> {
  for (const { key } of keys) await db.delete(signInAttempts).where(eq(signInAttempts.key, key));
}
