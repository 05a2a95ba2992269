import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_SIGNING_KEY, TEST_SSO_SECRET } from "./test/keys.ts";

const root = path.resolve(import.meta.dirname, "..");

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "schema/migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            INSP_SSO_SECRET: TEST_SSO_SECRET,
            WORKER_SIGNING_KEY: JSON.stringify(TEST_SIGNING_KEY),
            LOCAL_DEV: "false",
          },
        },
      }),
    ],
    test: {
      root,
      include: ["worker/test/**/*.test.ts"],
      setupFiles: ["worker/test/apply-migrations.ts"],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
