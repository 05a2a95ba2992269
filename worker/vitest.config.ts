import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { PROVIDER_TEST_CREDENTIALS, TEST_PROVIDER_TIMEOUT_MS } from "./test/global/provider-servers.ts";
import { TEST_SIGNING_KEY, TEST_SSO_SECRET } from "./test/keys.ts";

const root = path.resolve(import.meta.dirname, "..");

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "schema/migrations"));
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            INSP_SSO_SECRET: TEST_SSO_SECRET,
            WORKER_SIGNING_KEY: JSON.stringify(TEST_SIGNING_KEY),
            LOCAL_DEV: "false",
            // Reminders: the real SendGrid/Twilio clients talk to the look-alikes of worker/test/global/provider-servers.ts.
            PUBLIC_URL: "http://localhost",
            SENDGRID_API_KEY: PROVIDER_TEST_CREDENTIALS.sendgridApiKey,
            SENDGRID_FROM: PROVIDER_TEST_CREDENTIALS.sendgridFrom,
            SENDGRID_BASE_URL: inject("sendgridUrl"),
            SENDGRID_WEBHOOK_PUBLIC_KEY: inject("sendgridWebhookPublicKey"),
            TWILIO_ACCOUNT_SID: PROVIDER_TEST_CREDENTIALS.twilioAccountSid,
            TWILIO_AUTH_TOKEN: PROVIDER_TEST_CREDENTIALS.twilioAuthToken,
            TWILIO_FROM: PROVIDER_TEST_CREDENTIALS.twilioFrom,
            TWILIO_BASE_URL: inject("twilioUrl"),
            PROVIDER_TIMEOUT_MS: String(TEST_PROVIDER_TIMEOUT_MS),
            TEST_SENDGRID_WEBHOOK_PRIVATE_JWK: inject("sendgridWebhookPrivateJwk"),
            // SSO with RS256/ES256: keys published by the JWKS server of worker/test/global/jwks-server.ts.
            INSP_JWKS_URL: inject("inspJwksUrl"),
          },
        },
      })),
    ],
    test: {
      root,
      include: ["worker/test/**/*.test.ts"],
      setupFiles: ["worker/test/apply-migrations.ts"],
      globalSetup: [
        "worker/test/global/web-build.ts",
        "worker/test/global/provider-servers.ts",
        "worker/test/global/jwks-server.ts",
        "worker/test/global/recording-store.ts",
      ],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
