import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../index";
import { ENROLMENT_SECRET, enrolledNode, enrolRequest, fleetEnv, newNodeKey, nodePost, type TestNodeKey } from "./fleet-helpers";
import { createUser, sessionCookie } from "./helpers";

const load = { cpu: 0.25, transports: 12, consumers: 40, maxConsumers: 1000 };
const registration = (nodeId: string) => ({ nodeId, region: "eu-west", publicUrl: `https://${nodeId}.sfu.example`, load });

type Listed = { id: string; region: string; publicUrl: string; healthy: boolean; lastHeartbeatAt: number; load: { consumers: number } };

async function listAs(role: "admin" | "teacher") {
  const user = await createUser(role);
  return app.request("/api/fleet/nodes", { headers: { cookie: await sessionCookie(user) } }, fleetEnv);
}

async function listed(nodeId: string): Promise<Listed | undefined> {
  const { nodes } = await (await listAs("admin")).json<{ nodes: Listed[] }>();
  return nodes.find((node) => node.id === nodeId);
}

const register = (key: TestNodeKey, body: unknown = registration(key.nodeId), authorization?: string) =>
  nodePost(key, "/api/fleet/register", body, authorization);
const heartbeat = (key: TestNodeKey, nodeId = key.nodeId) => nodePost(key, "/api/fleet/heartbeat", { nodeId, load });

function keys(nodeId: string, authorization = `Bearer ${ENROLMENT_SECRET}`) {
  return app.request(`/api/fleet/keys?nodeId=${nodeId}`, { headers: { authorization } }, fleetEnv);
}

function revoke(kid: string) {
  return app.request(`/api/fleet/keys/${kid}`, { method: "DELETE", headers: { authorization: `Bearer ${ENROLMENT_SECRET}` } }, fleetEnv);
}

describe("fleet registry", () => {
  it("registers a node, updates it on heartbeat, and re-registration refreshes it", async () => {
    const node = await enrolledNode("node-a");
    const registered = await register(node);
    expect(registered.status).toBe(200);
    const ack = await registered.json<{ node: { id: string; load: unknown; healthy: boolean }; heartbeatIntervalMs: number }>();
    expect(ack.node).toMatchObject({ id: "node-a", region: "eu-west", publicUrl: "https://node-a.sfu.example", load, healthy: true });
    expect(ack.heartbeatIntervalMs).toBeGreaterThan(0);

    const beat = await nodePost(node, "/api/fleet/heartbeat", { nodeId: "node-a", load: { ...load, consumers: 300, cpu: 0.5 } });
    expect(beat.status).toBe(200);

    const again = await register(node, { ...registration("node-a"), region: "eu-central" });
    expect(again.status).toBe(200);

    const { nodes } = await (await listAs("admin")).json<{ nodes: Listed[] }>();
    const rows = nodes.filter((row) => row.id === "node-a");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ region: "eu-central", load: { consumers: 40 } });
  });

  it("answers a heartbeat from an enrolled node it does not know with NOT_FOUND so it registers again", async () => {
    const node = await enrolledNode("never-registered");
    const res = await heartbeat(node);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("refuses bad registrations and writes nothing", async () => {
    const node = await enrolledNode("node-bad");
    const cases = [
      "{not json",
      { ...registration("node-bad"), extra: true },
      { ...registration("node-bad"), publicUrl: "javascript:alert(1)" },
      { ...registration("node-bad"), load: { ...load, cpu: 7 } },
      { ...registration("bad id with spaces") },
    ];
    for (const body of cases) {
      const res = await register(node, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    }
    const { nodes } = await (await listAs("admin")).json<{ nodes: Listed[] }>();
    expect(nodes.some((row) => row.id === "node-bad" || row.id.includes(" "))).toBe(false);
  });

  it("shows the fleet to admins only", async () => {
    await register(await enrolledNode("node-listed"));
    expect((await listAs("teacher")).status).toBe(403);
    const anonymous = await app.request("/api/fleet/nodes", {}, fleetEnv);
    expect(anonymous.status).toBe(401);
    const res = await listAs("admin");
    expect(res.status).toBe(200);
    const row = await listed("node-listed");
    expect(row?.healthy).toBe(true);
    expect(Math.abs(Date.now() - row!.lastHeartbeatAt)).toBeLessThan(60_000);
  });
});

describe("node identity", () => {
  it("does not let one node's key register or heartbeat as another node, nor move its classes elsewhere", async () => {
    const victim = await enrolledNode("node-victim");
    expect((await register(victim)).status).toBe(200);
    const attacker = await enrolledNode("node-attacker");

    // The attacker's own key, a body naming the victim.
    const hijack = await register(attacker, { ...registration("node-victim"), publicUrl: "https://evil.example" });
    expect(hijack.status).toBe(403);
    expect(await hijack.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
    // The attacker's key, a token claiming to be the victim.
    const claimed = await register(
      attacker,
      { ...registration("node-victim"), publicUrl: "https://evil.example" },
      await attacker.authorization("POST", "/api/fleet/register", { nodeId: "node-victim" }),
    );
    expect(claimed.status).toBe(403);
    expect((await heartbeat(attacker, "node-victim")).status).toBe(403);

    expect(await listed("node-victim")).toMatchObject({ publicUrl: "https://node-victim.sfu.example" });
    expect(await listed("node-attacker")).toBeUndefined();
  });

  it("refuses a missing token, the old shared credential, an unenrolled key, another audience, an expired, overlong, replayed or misdirected token", async () => {
    const node = await enrolledNode("node-strict");
    const path = "/api/fleet/register";
    const body = registration("node-strict");
    const stranger = await newNodeKey("node-strict");
    const tenMinutesAgo = Date.now() - 600_000;
    const refused = {
      missing: await app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, fleetEnv),
      sharedCredential: await register(node, body, `Bearer ${ENROLMENT_SECRET}`),
      unenrolled: await register(stranger, body),
      otherAudience: await register(node, body, await node.authorization("POST", path, { audience: "https://other-deployment.example" })),
      expired: await register(node, body, await node.authorization("POST", path, { now: tenMinutesAgo })),
      overlong: await register(node, body, await node.authorization("POST", path, { lifetimeSeconds: 3600 })),
      otherPath: await register(node, body, await node.authorization("POST", "/api/fleet/heartbeat")),
      otherMethod: await register(node, body, await node.authorization("GET", path)),
    };
    for (const [name, response] of Object.entries(refused)) {
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
      expect(await response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
    expect(await listed("node-strict")).toBeUndefined();

    const token = await node.authorization("POST", path);
    expect((await register(node, body, token)).status).toBe(200);
    const replayed = await register(node, { ...body, publicUrl: "https://replayed.example" }, token);
    expect(replayed.status).toBe(401);
    expect(await listed("node-strict")).toMatchObject({ publicUrl: "https://node-strict.sfu.example" });
  });

  it("binds a key to one node for good: enrolling it for another id is refused, for the same id again is a no-op", async () => {
    const key = await enrolledNode("node-owner");
    const other = await enrolRequest("node-thief", key.publicKey);
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: { code: "CONFLICT" } });
    const again = await enrolRequest("node-owner", key.publicKey);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ key: { kid: key.kid, nodeId: "node-owner", revokedAt: null } });
  });

  it("enrols keys only with the enrolment secret, and only public ones", async () => {
    const key = await newNodeKey("node-enrol");
    expect((await enrolRequest("node-enrol", key.publicKey, "Bearer not-the-secret-at-all")).status).toBe(401);
    expect((await enrolRequest("node-enrol", key.publicKey, "")).status).toBe(401);
    const disabled = await app.request(
      "/api/fleet/keys",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ENROLMENT_SECRET}` },
        body: JSON.stringify({ nodeId: "node-enrol", publicKey: key.publicKey }),
      },
      { ...env, FLEET_ENROLMENT_SECRET: undefined },
    );
    expect(disabled.status).toBe(503);
    const withPrivatePart = await enrolRequest("node-enrol", { ...key.publicKey, d: "A".repeat(43) });
    expect(withPrivatePart.status).toBe(400);
    expect((await keys("node-enrol", "Bearer wrong")).status).toBe(401);
    expect((await (await keys("node-enrol")).json<{ keys: unknown[] }>()).keys).toEqual([]);
    expect((await register(key)).status).toBe(401);
  });

  it("rotates: a second key works alongside the first, and once the first is revoked only the second does", async () => {
    const old = await enrolledNode("node-rotating");
    expect((await register(old)).status).toBe(200);
    const fresh = await enrolledNode("node-rotating");
    expect((await heartbeat(fresh)).status).toBe(200);
    expect((await heartbeat(old)).status).toBe(200);

    const revoked = await revoke(old.kid);
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ key: { kid: old.kid, nodeId: "node-rotating", revokedAt: expect.any(Number) } });
    expect((await heartbeat(old)).status).toBe(401);
    expect((await register(old, { ...registration("node-rotating"), publicUrl: "https://stolen-key.example" })).status).toBe(401);
    expect((await heartbeat(fresh)).status).toBe(200);
    expect(await listed("node-rotating")).toMatchObject({ publicUrl: "https://node-rotating.sfu.example", healthy: true });

    // A revoked key stays revoked.
    expect((await enrolRequest("node-rotating", old.publicKey)).status).toBe(409);
    const listing = await (await keys("node-rotating")).json<{ keys: { kid: string; revokedAt: number | null }[] }>();
    expect(listing.keys.map(({ kid, revokedAt }) => ({ kid, revoked: revokedAt !== null }))).toEqual([
      { kid: old.kid, revoked: true },
      { kid: fresh.kid, revoked: false },
    ]);
    expect((await revoke("no-such-key")).status).toBe(404);
  });
});
