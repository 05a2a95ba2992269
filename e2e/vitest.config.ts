import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "..");

/**
 * End-to-end tests: the whole stack started the way `npm start` starts it (e2e/global-setup.ts), driven by
 * Debian's Chromium through playwright-core. Run with `npm run test:e2e`, which puts the stack and the browser
 * into one loopback-only network namespace (scripts/lib/loopback-netns.sh).
 */
export default defineConfig({
  test: {
    root,
    include: ["e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["e2e/global-setup.ts"],
    // One stack and real browsers on a 2-core machine: files run one after another.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
