/**
 * Security headers on every response the Worker produces: the API, the SSO pages, and the app's HTML, which
 * reaches the Worker first (wrangler.toml `run_worker_first` covers everything but Vite's hashed `/assets/*`)
 * and is fetched from the assets binding here, so the policy can depend on settings. The hashed files are served
 * without the Worker; `web/public/_headers` gives them `nosniff`, the one header that matters for a script or a
 * style sheet (a policy on a script file does nothing).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import type { Env } from "./env";
import { errorResponse } from "./errors";

/** `'none'`, `'self'`, or a scheme/host source such as `https://insp.example` or `https://*.insp.example:443`. */
const FRAME_ANCESTOR_SOURCE = /^(?:'self'|https?:\/\/(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::(?:\d{1,5}|\*))?|https?:)$/i;

/**
 * Parses FRAME_ANCESTORS, a space-separated CSP source list of the sites that may embed the app in a frame.
 * Unset means `'none'`. Anything that is not a plain source list (a `;` or newline would let the setting write
 * other directives) is refused with a message naming the setting.
 */
export function parseFrameAncestors(value: string | undefined): string {
  const sources = (value ?? "").trim().split(/\s+/).filter(Boolean);
  if (sources.length === 0 || (sources.length === 1 && sources[0] === "'none'")) return "'none'";
  const bad = sources.find((source) => !FRAME_ANCESTOR_SOURCE.test(source));
  if (bad !== undefined) {
    throw new Error(`FRAME_ANCESTORS: "${bad.slice(0, 80)}" is not a frame-ancestors source ('none' alone, 'self', https://host, https://*.host)`);
  }
  return sources.join(" ");
}

/**
 * The app's policy. Why each source is there:
 * - script-src 'self': Vite's build loads one module script from /assets and nothing inline; 'wasm-unsafe-eval'
 *   is not granted, nothing in the app compiles WebAssembly.
 * - style-src 'unsafe-inline' (styles only): Solid writes `style` attributes from templates, FullCalendar and
 *   Kobalte insert <style> elements, emoji-picker-element styles its shadow root with an inline <style>; none of
 *   them can be given a nonce. A style cannot run script, so scripts stay strict.
 * - connect-src https: wss:: media signaling goes to sfu-nodes on other hosts that register at any time (a page
 *   open before a node joined must still reach it), and recordings stream from the storage origin that each node
 *   is configured with (S3 or CloudFront); the Worker knows neither when it serves the page. Locally both are
 *   plain http/ws on loopback, so LOCAL_DEV adds http: ws:.
 * - media-src/img-src blob: https:: shaka plays through MediaSource (a blob: URL) and Safari plays HLS from its
 *   https URL; posters and thumbnails come from the same storage origin. Camera tiles use `srcObject`, which
 *   no policy governs.
 * - worker-src 'self' blob:: workers the libraries start from our own files or from blobs they build.
 */
export function appPolicy(frameAncestors: string, local: boolean): string {
  const insecure = local ? " http: ws:" : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob: https:${local ? " http:" : ""}`,
    "font-src 'self' data:",
    `media-src 'self' blob: https:${local ? " http:" : ""}`,
    `connect-src 'self' https: wss:${insecure}`,
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join("; ");
}

/** Everything that is not a page (JSON, ICS, JWKS): nothing in it may run or load anything, nor be framed. */
export const NON_DOCUMENT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The classroom needs camera, microphone and screen capture; only our own pages get them, nothing else does. */
export const APP_PERMISSIONS_POLICY =
  "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=(), serial=(), hid=(), bluetooth=()";
export const NON_DOCUMENT_PERMISSIONS_POLICY =
  "camera=(), microphone=(), display-capture=(), geolocation=(), payment=(), usb=(), serial=(), hid=(), bluetooth=()";

/**
 * Same-origin requests keep the full URL (useful in our own logs); other origins (sfu-nodes, storage, the insp
 * site) get nothing, since paths carry class ids and, on /sso, a token.
 */
export const REFERRER_POLICY = "same-origin";

let cached: { key: string; appPolicy: string } | { key: string; error: string } | undefined;

function policyFor(env: Env): { key: string; appPolicy: string } | { key: string; error: string } {
  const key = `${env.FRAME_ANCESTORS ?? ""}\n${env.LOCAL_DEV ?? ""}`;
  if (cached?.key !== key) {
    try {
      cached = { key, appPolicy: appPolicy(parseFrameAncestors(env.FRAME_ANCESTORS), env.LOCAL_DEV === "true") };
    } catch (err) {
      cached = { key, error: (err as Error).message };
    }
  }
  return cached;
}

/**
 * Adds the headers to every response that does not set its own (a route may be stricter, as /sso is with
 * Referrer-Policy). A bad FRAME_ANCESTORS fails every request with the setting's name in the log, so a deploy
 * with a broken policy is noticed at its first health check instead of serving pages with no policy.
 */
export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  const policy = policyFor(c.env);
  if ("error" in policy) {
    console.error(JSON.stringify({ event: "bad_setting", setting: "FRAME_ANCESTORS", error: policy.error }));
    return errorResponse("INTERNAL", "The server is misconfigured");
  }
  await next();
  // A WebSocket upgrade's 101 carries the socket and cannot be rebuilt; there is no document to protect on it.
  if (c.res.status === 101) return;
  const isDocument = (c.res.headers.get("content-type") ?? "").toLowerCase().startsWith("text/html");
  const headers = new Headers(c.res.headers);
  const defaults: [string, string][] = [
    ["Content-Security-Policy", isDocument ? policy.appPolicy : NON_DOCUMENT_POLICY],
    ["Permissions-Policy", isDocument ? APP_PERMISSIONS_POLICY : NON_DOCUMENT_PERMISSIONS_POLICY],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", REFERRER_POLICY],
  ];
  for (const [name, value] of defaults) if (!headers.has(name)) headers.set(name, value);
  // Responses from the assets binding or a Durable Object have immutable headers, so the response is re-made.
  c.res = new Response(c.res.body, { status: c.res.status, statusText: c.res.statusText, headers });
};
