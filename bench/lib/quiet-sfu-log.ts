/**
 * Imported first by bench/sfu-forwarding.ts: the sfu-node's logger reads SFU_LOG_LEVEL when its module loads,
 * and a benchmark joining 1,000 peers should print figures, not a line per join.
 */
process.env.SFU_LOG_LEVEL ??= "warn";
