import { sql } from "drizzle-orm";
import { Hono } from "hono";
import pkg from "../../package.json";
import type { AppEnv } from "../app-env";

export const healthRoutes = new Hono<AppEnv>();

/** Liveness and D1 reachability; 503 when D1 cannot be queried. */
healthRoutes.get("/api/health", async (c) => {
  let d1 = false;
  try {
    await c.var.db.run(sql`select 1`);
    d1 = true;
  } catch (err) {
    console.error(JSON.stringify({ event: "health_d1_failed", error: String(err) }));
  }
  return c.json({ ok: d1, version: pkg.version, d1 }, d1 ? 200 : 503);
});
