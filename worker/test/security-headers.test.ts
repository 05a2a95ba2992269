import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../env";
import { app } from "../index";
import { api, createUser, ORIGIN } from "./helpers";

/** `a x y; b z` → { a: ["x", "y"], b: ["z"] } */
function directives(policy: string | null): Record<string, string[]> {
  expect(policy, "a Content-Security-Policy header").toBeTruthy();
  const parsed: Record<string, string[]> = {};
  for (const part of policy!.split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) parsed[name] = sources;
  }
  return parsed;
}

/** Calls the Worker with settings other than wrangler.toml's, as a deployment with them would run. */
async function withSettings(path: string, settings: Partial<Env>): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${ORIGIN}${path}`), { ...env, ...settings }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const APP_PATHS = ["/", "/classes/some-class/live", "/recordings/some-recording"];

describe("the app's pages", () => {
  it("are HTML that may only run the site's own scripts, cannot be framed by default, and may use camera, microphone and screen", async () => {
    for (const path of APP_PATHS) {
      const res = await SELF.fetch(`${ORIGIN}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      const body = await res.text();
      expect(body, "the built page links its module script, nothing inline").toMatch(/<script type="module" crossorigin src="\/assets\/[^"]+\.js"><\/script>/);
      expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

      const csp = directives(res.headers.get("content-security-policy"));
      expect(csp["script-src"], path).toEqual(["'self'"]);
      expect(csp["object-src"]).toEqual(["'none'"]);
      expect(csp["base-uri"]).toEqual(["'self'"]);
      expect(csp["frame-ancestors"], "wrangler.toml's FRAME_ANCESTORS").toEqual(["'none'"]);
      // Outside LOCAL_DEV: sfu-nodes and recordings only over TLS.
      expect(csp["connect-src"]).toEqual(["'self'", "https:", "wss:"]);
      expect(csp["media-src"]).toEqual(["'self'", "blob:", "https:"]);
      expect(csp["worker-src"]).toEqual(["'self'", "blob:"]);
      expect(csp["style-src"]).toEqual(["'self'", "'unsafe-inline'"]);

      const permissions = res.headers.get("permissions-policy")!;
      for (const feature of ["camera", "microphone", "display-capture"]) expect(permissions).toContain(`${feature}=(self)`);
      expect(permissions).toContain("geolocation=()");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
    }
  });

  it("name the sites FRAME_ANCESTORS lists, and allow plain ws:/http: to loopback media only under LOCAL_DEV", async () => {
    const embedded = await withSettings("/", { FRAME_ANCESTORS: "'self' https://insp.example https://*.insp.example" });
    expect(embedded.status).toBe(200);
    expect(directives(embedded.headers.get("content-security-policy"))["frame-ancestors"]).toEqual([
      "'self'",
      "https://insp.example",
      "https://*.insp.example",
    ]);

    const local = directives((await withSettings("/", { LOCAL_DEV: "true" })).headers.get("content-security-policy"));
    expect(local["connect-src"]).toEqual(["'self'", "https:", "wss:", "http:", "ws:"]);
    expect(local["script-src"], "local mode loosens media, never scripts").toEqual(["'self'"]);
  });

  it("a FRAME_ANCESTORS that would smuggle in another directive stops the site with a 500 instead of serving pages without a policy", async () => {
    for (const value of ["'self'; script-src *", "https://insp.example,https://evil.example", "*", "javascript:"]) {
      const res = await withSettings("/", { FRAME_ANCESTORS: value });
      expect(res.status, value).toBe(500);
      expect(await res.json()).toEqual({ error: { code: "INTERNAL", message: "The server is misconfigured" } });
      const health = await withSettings("/api/health", { FRAME_ANCESTORS: value });
      expect(health.status, "the health check fails too, so a deploy notices").toBe(500);
    }
  });
});

describe("everything that is not a page", () => {
  it("API answers, errors, the JWKS and calendar feeds say nosniff and may load or run nothing, not even framed", async () => {
    const user = await createUser("student");
    const responses: [string, Response][] = [
      ["GET /api/me", await api("/api/me", { as: user })],
      ["401", await api("/api/me")],
      ["404", await api("/api/nothing-here")],
      ["JWKS", await SELF.fetch(`${ORIGIN}/.well-known/jwks.json`)],
      ["unknown feed", await SELF.fetch(`${ORIGIN}/calendar/not-a-secret.ics`)],
      ["refused upgrade", await SELF.fetch(`${ORIGIN}/parties/classroom/some-class`)],
    ];
    for (const [label, res] of responses) {
      expect(res.headers.get("content-type") ?? "", label).not.toMatch(/^text\/html/);
      expect(directives(res.headers.get("content-security-policy"))["default-src"], label).toEqual(["'none'"]);
      expect(directives(res.headers.get("content-security-policy"))["frame-ancestors"], label).toEqual(["'none'"]);
      expect(res.headers.get("permissions-policy"), label).toContain("camera=()");
      expect(res.headers.get("x-content-type-options"), label).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), label).toBe("same-origin");
    }
    expect(responses[0]![1].status).toBe(200);
  });

  it("the SSO message page keeps its stricter no-referrer (its URL carried a token) and is a page under the app's policy", async () => {
    const res = await SELF.fetch(`${ORIGIN}/sso?token=not-a-jwt`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(directives(res.headers.get("content-security-policy"))["script-src"]).toEqual(["'self'"]);
  });
});
