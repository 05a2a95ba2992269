// No DOM and no mediasoup-client here: the benchmarks' simulated participants (bench/lib/sim-participant.ts) and
// the unit test (worker/test/consume-retry.test.ts) use the same policy as the browser.

/** The first retry of a refused consume waits about this long; each further one twice as long. */
export const CONSUME_RETRY_BASE_MS = 500;
/** No retry of a consume waits longer than this. */
export const CONSUME_RETRY_MAX_MS = 8_000;
/** Refusals from the node that another try cannot cure: the producer is gone, or we may not or cannot have it. */
export const FINAL_CONSUME_ERRORS: readonly string[] = ["NOT_FOUND", "INVALID_MESSAGE", "FORBIDDEN", "UNAUTHORIZED"];

/**
 * The wait before retry number `attempt` (0 for the first) of a refused consume: half of min(max, base · 2^attempt)
 * plus a random part up to the other half (0.25–0.5 s, then 0.5–1 s, … up to 4–8 s). The random part spreads the
 * retries of the many students whose consumes a busy node refused at the same moment.
 */
export function consumeRetryDelayMs(attempt: number, random: () => number): number {
  const cap = Math.min(CONSUME_RETRY_MAX_MS, CONSUME_RETRY_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.floor(cap / 2 + random() * (cap / 2));
}
