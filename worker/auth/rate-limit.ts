import { and, eq, gt, lt, lte, sql } from "drizzle-orm";
import { signInAttempts } from "../../schema/db";
import type { Db } from "../db";

/**
 * Sign-in failure limits in D1 (`sign_in_attempts`: key, bucket start, count). Two rules:
 *
 * - **count**: at most `limit` failures per key within a sliding 15-minute window (one-minute buckets, so a burst
 *   at a window edge cannot double the allowance). Used for client addresses, where a limit is cheap throttling.
 * - **backoff**: the first 5 failures are free; after that each attempt must wait 2^(n-5) seconds (n = failures
 *   remembered, capped at 15 minutes) after the latest failure. Failures are remembered for 24 hours and kept to
 *   the millisecond, since the wait is measured from the last one. Used for accounts and known devices: it keeps
 *   guessing slow (about a hundred guesses a day once the cap is reached) without a fixed lockout that anyone
 *   could trigger against a user.
 *
 * An attempt *claims* its slot before the password is checked (one atomic upsert, then a read of the key's
 * rows), so a thousand concurrent guesses cannot all pass the check before any of them is counted: each is
 * judged on the claims written before it (SQLite's rowid gives the order, which clocks of concurrent requests
 * cannot). A refused claim is taken back; a successful sign-in releases its claim or clears the key; a failed
 * one leaves it, and it becomes the failure.
 */

export const COUNT_WINDOW_MS = 15 * 60_000;
const COUNT_BUCKET_MS = 60_000;
export const BACKOFF_FREE_FAILURES = 5;
const BACKOFF_FIRST_WAIT_MS = 1000;
export const BACKOFF_MAX_WAIT_MS = 15 * 60_000;
export const BACKOFF_MEMORY_MS = 24 * 60 * 60_000;

/** Failures from one client address before it is throttled. */
export const SIGN_IN_LIMITS = {
  /** Wrong passwords from one address, across accounts (credential stuffing); known devices are exempt. */
  loginIp: 20,
  /** Sign-in links whose signature does not verify, from one address. */
  ssoIp: 20,
} as const;

/** A counter and the rule it follows. */
export type LimitedKey = { key: string; rule: "count"; limit: number } | { key: string; rule: "backoff" };

/** A slot an attempt holds until it is known to have failed (kept) or succeeded (released). */
export type Claim = { key: string; windowStart: number };

/** The outcome of {@link claimAttempt}: a claim to keep or release, or how long to wait. */
export type ClaimResult = { ok: true; claim: Claim } | { ok: false; retryAfterSeconds: number };

/** The client's address as Cloudflare reports it; "local" when there is none (wrangler dev, tests). */
export function clientIp(header: string | undefined): string {
  const ip = header?.trim();
  return ip && ip.length <= 64 ? ip : "local";
}

/** Password failures against one account (e-mail, known or not), from browsers it does not know. */
export const loginAccountKey = (email: string): LimitedKey => ({ key: `login-account:${email.toLowerCase()}`, rule: "backoff" });
/** Password failures from one browser that an account knows (its own streak, apart from strangers'). */
export const loginDeviceKey = (deviceId: string): LimitedKey => ({ key: `login-device:${deviceId}`, rule: "backoff" });
export const loginIpKey = (ip: string): LimitedKey => ({ key: `login-ip:${ip}`, rule: "count", limit: SIGN_IN_LIMITS.loginIp });
export const ssoIpKey = (ip: string): LimitedKey => ({ key: `sso-ip:${ip}`, rule: "count", limit: SIGN_IN_LIMITS.ssoIp });

/** The wait a backoff key imposes once `failures` failures are remembered. */
export function backoffWaitMs(failures: number): number {
  if (failures < BACKOFF_FREE_FAILURES) return 0;
  return Math.min(BACKOFF_FIRST_WAIT_MS * 2 ** (failures - BACKOFF_FREE_FAILURES), BACKOFF_MAX_WAIT_MS);
}

/**
 * Claims one attempt against `limited`: allowed when the failures before it leave room (count rule) or their
 * backoff has passed (backoff rule). A refused claim is taken back at once, so waiting out a refusal is never
 * made longer by the refused attempts themselves.
 */
export async function claimAttempt(db: Db, limited: LimitedKey, now = Date.now()): Promise<ClaimResult> {
  const bucketMs = limited.rule === "count" ? COUNT_BUCKET_MS : 1;
  const memoryMs = limited.rule === "count" ? COUNT_WINDOW_MS : BACKOFF_MEMORY_MS;
  const windowStart = now - (now % bucketMs);
  const [upserted] = await db.batch([
    db
      .insert(signInAttempts)
      .values({ key: limited.key, windowStart, count: 1 })
      .onConflictDoUpdate({ target: [signInAttempts.key, signInAttempts.windowStart], set: { count: sql`${signInAttempts.count} + 1` } })
      .returning({ count: signInAttempts.count, rowid: sql<number>`rowid` }),
    db.delete(signInAttempts).where(and(eq(signInAttempts.key, limited.key), lt(signInAttempts.windowStart, now - memoryMs))),
  ]);
  const own = upserted[0];
  if (!own) throw new Error("the sign-in attempt upsert returned no row");
  const rows = await db
    .select({ windowStart: signInAttempts.windowStart, count: signInAttempts.count, rowid: sql<number>`rowid` })
    .from(signInAttempts)
    .where(and(eq(signInAttempts.key, limited.key), gt(signInAttempts.windowStart, now - memoryMs)))
    .orderBy(signInAttempts.windowStart);

  const waitMs = limited.rule === "count" ? countWaitMs(rows, limited.limit, memoryMs, now) : backoffWaitAfter(rows, own, windowStart, now);
  const claim = { key: limited.key, windowStart };
  if (waitMs <= 0) return { ok: true, claim };
  await releaseClaim(db, claim);
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/** Count rule: the other attempts in the window (this one's claim excluded) must be fewer than the limit. */
function countWaitMs(rows: { windowStart: number; count: number }[], limit: number, windowMs: number, now: number): number {
  let others = rows.reduce((sum, row) => sum + row.count, 0) - 1;
  let waitMs = 0;
  // Drop the oldest buckets until there is room; the last one dropped decides the wait.
  for (const row of rows) {
    if (others < limit) break;
    others -= row.count;
    waitMs = row.windowStart + windowMs - now;
  }
  return waitMs;
}

/**
 * Backoff rule: the claims written before this one (earlier rows, and earlier claims in the same millisecond's
 * row), and the wait they impose from the latest of them.
 */
function backoffWaitAfter(
  rows: { windowStart: number; count: number; rowid: number }[],
  own: { count: number; rowid: number },
  ownStart: number,
  now: number,
): number {
  const earlier = rows.filter((row) => row.rowid < own.rowid);
  const before = earlier.reduce((sum, row) => sum + row.count, 0) + own.count - 1;
  if (before < BACKOFF_FREE_FAILURES) return 0;
  const latest = Math.max(own.count > 1 ? ownStart : 0, ...earlier.map((row) => row.windowStart));
  return latest + backoffWaitMs(before) - now;
}

/** Takes back a claim: the attempt was refused, or it succeeded and was no failure. */
export async function releaseClaim(db: Db, claim: Claim): Promise<void> {
  const where = and(eq(signInAttempts.key, claim.key), eq(signInAttempts.windowStart, claim.windowStart));
  await db.batch([
    db
      .update(signInAttempts)
      .set({ count: sql`${signInAttempts.count} - 1` })
      .where(where),
    db.delete(signInAttempts).where(and(where, lte(signInAttempts.count, 0))),
  ]);
}

/** Forgets every failure counted against `limited` (a correct password clears its own streak). */
export async function clearFailures(db: Db, limited: LimitedKey): Promise<void> {
  await db.delete(signInAttempts).where(eq(signInAttempts.key, limited.key));
}
