import { applyD1Migrations, env } from "cloudflare:test";

// Each test file gets its own storage; apply the real migrations (schema/migrations) to it.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
