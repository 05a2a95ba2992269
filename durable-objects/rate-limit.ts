import { CLASSROOM_LIMITS, type MethodRateLimit, type RateLimitName } from "../schema/protocol/classroom";
import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  /** When the bucket will be full again: from then on it is the same as no bucket, and may be dropped. */
  fullAt: number;
}

/** Why an action was refused: the wait until it would pass, and a sentence for the person who tried. */
export interface RateLimitRefusal {
  retryAfterMs: number;
  message: string;
}

/** Below this many buckets nothing is dropped; above it, full buckets are swept out now and then. */
const SWEEP_FLOOR = 1024;

/**
 * The class channel's token buckets (see {@link CLASSROOM_LIMITS.rateLimits}), per user and per class. Keyed by
 * user id, never by socket, so a user's tabs and devices share one allowance. Kept in memory, not in SQLite (a
 * write per check would cost what the limits save): the object hibernates only after seconds without a message,
 * so forgetting the buckets then gives back at most one burst to someone who stayed quiet that long.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweepAt = SWEEP_FLOOR;

  /**
   * Takes one token from every bucket `rule` names, or — when any of them is empty — from none, so a refused
   * action costs nothing and writes nothing. Returns null when the action may go ahead.
   */
  admit(rule: MethodRateLimit, caller: Pick<ClassIdentity, "userId" | "role">, now: number): RateLimitRefusal | null {
    const draws = [{ key: `${rule.user}:${caller.userId}`, name: rule.user, moderator: isModerator(caller.role) }];
    // A class bucket's key has no user part; user ids never appear alone as keys, so the two cannot collide.
    if (rule.class) draws.push({ key: rule.class, name: rule.class, moderator: false });

    let refusal: { waitMs: number; name: RateLimitName } | null = null;
    const buckets: { bucket: Bucket; burst: number; perSecond: number }[] = [];
    for (const { key, name, moderator } of draws) {
      const { burst, perSecond } = numbers(name, moderator);
      const bucket = this.refill(key, burst, perSecond, now);
      buckets.push({ bucket, burst, perSecond });
      if (bucket.tokens >= 1) continue;
      const waitMs = Math.ceil(((1 - bucket.tokens) / perSecond) * 1000);
      if (!refusal || waitMs > refusal.waitMs) refusal = { waitMs, name };
    }
    if (refusal) {
      const seconds = Math.max(1, Math.ceil(refusal.waitMs / 1000));
      return { retryAfterMs: refusal.waitMs, message: `Too many ${CLASSROOM_LIMITS.rateLimits[refusal.name].what}; try again in ${seconds} s` };
    }
    for (const { bucket, burst, perSecond } of buckets) {
      bucket.tokens -= 1;
      bucket.fullAt = now + ((burst - bucket.tokens) / perSecond) * 1000;
    }
    this.sweep(now);
    return null;
  }

  private refill(key: string, burst: number, perSecond: number, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: burst, at: now, fullAt: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    return bucket;
  }

  /** Keeps memory bounded in a long class with many comings and goings: drops buckets that have refilled. */
  private sweep(now: number): void {
    if (this.buckets.size < this.sweepAt) return;
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
    // Sweep again only once the map has doubled, so a class full of active users does not sweep on every call.
    this.sweepAt = Math.max(SWEEP_FLOOR, this.buckets.size * 2);
  }
}

function numbers(name: RateLimitName, moderator: boolean): { burst: number; perSecond: number } {
  const limit = CLASSROOM_LIMITS.rateLimits[name];
  return moderator && "moderators" in limit ? limit.moderators : limit;
}
