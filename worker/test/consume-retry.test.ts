import { describe, expect, it } from "vitest";
import { CONSUME_RETRY_BASE_MS, CONSUME_RETRY_MAX_MS, consumeRetryDelayMs } from "../../web/src/live/media/consume-retry";

// The browser's wait before trying a refused `consume` again (web/src/live/media/consume-retry.ts); the retry itself
// runs against the real stack in e2e/consume-retry.test.ts.

describe("the wait before a refused consume is tried again", () => {
  it("doubles from about half a second up to a cap, never zero", () => {
    const lowest = (attempt: number) => consumeRetryDelayMs(attempt, () => 0);
    const highest = (attempt: number) => consumeRetryDelayMs(attempt, () => 0.999_999);
    expect([0, 1, 2, 3, 4, 5, 10, 40].map(lowest)).toEqual([250, 500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000]);
    expect([0, 1, 2, 3, 4, 5, 10, 40].map(highest)).toEqual([499, 999, 1_999, 3_999, 7_999, 7_999, 7_999, 7_999]);
    expect(lowest(0)).toBe(CONSUME_RETRY_BASE_MS / 2);
    expect(highest(60)).toBeLessThan(CONSUME_RETRY_MAX_MS);
  });

  it("spreads the first retries of many students refused at the same moment over the window", () => {
    let seed = 7;
    // A small deterministic generator stands in for Math.random: 300 students, each its own draw.
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const waits = Array.from({ length: 300 }, () => consumeRetryDelayMs(0, random));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...waits)).toBeLessThan(500);
    // No 10 ms slot of the window gets more than a small share of them.
    const perSlot = new Map<number, number>();
    for (const wait of waits) perSlot.set(Math.floor(wait / 10), (perSlot.get(Math.floor(wait / 10)) ?? 0) + 1);
    expect(perSlot.size).toBeGreaterThan(20);
    expect(Math.max(...perSlot.values())).toBeLessThan(30);
  });
});
