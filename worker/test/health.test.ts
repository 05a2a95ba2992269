import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("GET /api/health", () => {
  it("reports the version and that D1 answers", async () => {
    const res = await SELF.fetch("http://localhost/api/health");
    expect(res.status).toBe(200);
    const body = await res.json<{ ok: boolean; version: string; d1: boolean }>();
    expect(body).toMatchObject({ ok: true, d1: true });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("answers an unknown API path with the one error shape", async () => {
    const res = await SELF.fetch("http://localhost/api/nothing-here");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it("refuses a state-changing request from another origin", async () => {
    const res = await SELF.fetch("http://localhost/api/health", { method: "POST", headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
  });
});

describe("GET /.well-known/jwks.json", () => {
  it("publishes the public half of the Worker's ES256 key and nothing private", async () => {
    const res = await SELF.fetch("http://localhost/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const { keys } = await res.json<{ keys: Record<string, string>[] }>();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", kid: "test-key-1", use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
  });
});
