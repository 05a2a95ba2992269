import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * State-changing requests must come from our own pages: a same-origin `Origin` header is required
 * (cookies are SameSite=Lax, this closes the rest of the CSRF gap). Provider webhooks are exempt; they are
 * authenticated by their signatures instead.
 */
export const requireSameOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (SAFE_METHODS.has(c.req.method) || c.req.path.startsWith("/api/webhooks/") || c.req.path.startsWith("/api/fleet/")) return next();
  const origin = c.req.header("origin");
  if (!origin || origin !== new URL(c.req.url).origin) {
    return errorResponse("FORBIDDEN", "Cross-site request refused (Origin header missing or not this site)");
  }
  return next();
};
