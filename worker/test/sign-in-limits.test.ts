import { describe, expect, it } from "vitest";
import { BACKOFF_MAX_WAIT_MS, BACKOFF_MEMORY_MS, claimAttempt, type ClaimResult, loginAccountKey, ssoIpKey } from "../auth/rate-limit";
import { db } from "./helpers";

const SECOND = 1000;

function freshAccount() {
  return loginAccountKey(`limits-${crypto.randomUUID()}@example.test`);
}

/** Records `count` failures as fast as the backoff lets them through; returns the time of the latest. */
async function failures(account: ReturnType<typeof freshAccount>, count: number, start: number): Promise<number> {
  let now = start;
  for (let recorded = 0; recorded < count; ) {
    const result = await claimAttempt(db, account, now);
    if (result.ok) recorded += 1;
    else now += result.retryAfterSeconds * SECOND;
  }
  return now;
}

/** The Retry-After a refused attempt would get, or "allowed" (its claim is kept: it counts as a failure). */
function outcome(result: ClaimResult): number | "allowed" {
  return result.ok ? "allowed" : result.retryAfterSeconds;
}

describe("the per-account backoff schedule (what Retry-After says after each failure)", () => {
  it("5 free failures, then waits of 1, 2, 4 … seconds after the latest one, never more than 15 minutes", async () => {
    const account = freshAccount();
    let now = Date.UTC(2027, 0, 1);
    for (let i = 0; i < 5; i++) expect(outcome(await claimAttempt(db, account, (now += 10)))).toBe("allowed");

    const waits: number[] = [];
    for (let failures = 5; failures < 16; failures++) {
      // Asked at once after the latest failure: refused with the whole wait.
      const refused = await claimAttempt(db, account, now + 1);
      waits.push(refused.ok ? 0 : refused.retryAfterSeconds);
      // Asked when the wait is over: allowed (and it fails again).
      now += refused.ok ? 1 : refused.retryAfterSeconds * SECOND;
      expect(outcome(await claimAttempt(db, account, now))).toBe("allowed");
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, BACKOFF_MAX_WAIT_MS / SECOND]);
  });

  it("refused attempts do not make the wait longer", async () => {
    const account = freshAccount();
    const latest = await failures(account, 6, Date.UTC(2027, 0, 2));
    // 6 failures: 2 s after the latest. Hammering meanwhile changes nothing.
    for (let i = 0; i < 10; i++) expect(outcome(await claimAttempt(db, account, latest + 100 + i))).toBe(2);
    expect(outcome(await claimAttempt(db, account, latest + 2 * SECOND))).toBe("allowed");
  });

  it("failures are forgotten after 24 hours", async () => {
    const account = freshAccount();
    const start = Date.UTC(2027, 0, 3);
    const latest = await failures(account, 12, start);
    expect(outcome(await claimAttempt(db, account, latest + 60 * SECOND))).toBe(68);
    const dayLater = latest + BACKOFF_MEMORY_MS + 100;
    for (let i = 0; i < 5; i++) expect(outcome(await claimAttempt(db, account, dayLater + i))).toBe("allowed");
  });
});

describe("the per-address count (broken SSO links)", () => {
  it("20 failures in 15 minutes are allowed, the 21st waits until the oldest leaves the window", async () => {
    const address = ssoIpKey(`limits-${crypto.randomUUID()}`);
    const start = Date.UTC(2027, 0, 4);
    for (let i = 0; i < 20; i++) expect(outcome(await claimAttempt(db, address, start + i * 30 * SECOND))).toBe("allowed");
    const refusedAt = start + 10 * 60 * SECOND;
    expect(outcome(await claimAttempt(db, address, refusedAt))).toBe((start + 15 * 60 * SECOND - refusedAt) / SECOND);
    expect(outcome(await claimAttempt(db, address, start + 15 * 60 * SECOND + 1))).toBe("allowed");
  });
});
