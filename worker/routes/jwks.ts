import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { signingKey } from "../auth/keys";

export const jwksRoutes = new Hono<AppEnv>();

/** The public keys the SFU fleet (and anyone) uses to verify tokens this Worker signs. */
jwksRoutes.get("/.well-known/jwks.json", async (c) => {
  const key = await signingKey(c.env);
  return c.json({ keys: [key.publicJwk] }, 200, { "cache-control": "public, max-age=300" });
});
