import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "..");

/**
 * sfu-node tests run in Node against real mediasoup workers (export MEDIASOUP_WORKER_BIN when the worker
 * binary is prebuilt) and real FFmpeg. Files run one at a time: each starts its own workers, and the
 * machine has two cores.
 */
export default defineConfig({
  test: {
    root,
    include: ["sfu-node/test/**/*.test.ts"],
    environment: "node",
    env: { SFU_LOG_LEVEL: "warn" },
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
