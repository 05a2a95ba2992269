import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../index";
import { createUser, sessionCookie } from "./helpers";

const CREDENTIAL = "fleet-test-credential-0123456789";
/** The Worker's environment with FLEET_CREDENTIAL set, as a deployment with a fleet has it. */
const fleetEnv = { ...env, FLEET_CREDENTIAL: CREDENTIAL };

function fleet(path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${CREDENTIAL}` }) {
  return app.request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }, fleetEnv);
}

const load = { cpu: 0.25, transports: 12, consumers: 40, maxConsumers: 1000 };
const registration = (nodeId: string) => ({ nodeId, region: "eu-west", publicUrl: `https://${nodeId}.sfu.example`, load });

async function listAs(role: "admin" | "teacher") {
  const user = await createUser(role);
  return app.request("/api/fleet/nodes", { headers: { cookie: await sessionCookie(user) } }, fleetEnv);
}

describe("fleet registry", () => {
  it("refuses every node while FLEET_CREDENTIAL is unset", async () => {
    const res = await app.request(
      "/api/fleet/register",
      { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer anything-at-all-here" }, body: JSON.stringify(registration("node-unset")) },
      { ...env, FLEET_CREDENTIAL: undefined },
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "UNAVAILABLE" } });
  });

  it("refuses a missing or wrong credential", async () => {
    const missing = await fleet("/api/fleet/register", registration("node-x"), {});
    expect(missing.status).toBe(401);
    const wrong = await fleet("/api/fleet/register", registration("node-x"), { authorization: "Bearer not-the-credential" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    const list = await (await listAs("admin")).json<{ nodes: { id: string }[] }>();
    expect(list.nodes.map((node) => node.id)).not.toContain("node-x");
  });

  it("registers a node, updates it on heartbeat, and re-registration refreshes it", async () => {
    const registered = await fleet("/api/fleet/register", registration("node-a"));
    expect(registered.status).toBe(200);
    const ack = await registered.json<{ node: { id: string; load: unknown; healthy: boolean }; heartbeatIntervalMs: number }>();
    expect(ack.node).toMatchObject({ id: "node-a", region: "eu-west", publicUrl: "https://node-a.sfu.example", load, healthy: true });
    expect(ack.heartbeatIntervalMs).toBeGreaterThan(0);

    const beat = await fleet("/api/fleet/heartbeat", { nodeId: "node-a", load: { ...load, consumers: 300, cpu: 0.5 } });
    expect(beat.status).toBe(200);

    const again = await fleet("/api/fleet/register", { ...registration("node-a"), region: "eu-central" });
    expect(again.status).toBe(200);

    const list = await (await listAs("admin")).json<{ nodes: { id: string; region: string; load: { consumers: number } }[] }>();
    const nodes = list.nodes.filter((node) => node.id === "node-a");
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ region: "eu-central", load: { consumers: 40 } });
  });

  it("answers a heartbeat from an unknown node with NOT_FOUND so it registers again", async () => {
    const res = await fleet("/api/fleet/heartbeat", { nodeId: "never-registered", load });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("refuses bad registrations and writes nothing", async () => {
    const cases = [
      "{not json",
      { ...registration("node-bad"), extra: true },
      { ...registration("node-bad"), publicUrl: "javascript:alert(1)" },
      { ...registration("node-bad"), load: { ...load, cpu: 7 } },
      { ...registration("bad id with spaces") },
    ];
    for (const body of cases) {
      const res = await fleet("/api/fleet/register", body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    }
    const list = await (await listAs("admin")).json<{ nodes: { id: string }[] }>();
    expect(list.nodes.some((node) => node.id === "node-bad" || node.id.includes(" "))).toBe(false);
  });

  it("shows the fleet to admins only", async () => {
    await fleet("/api/fleet/register", registration("node-listed"));
    expect((await listAs("teacher")).status).toBe(403);
    const anonymous = await app.request("/api/fleet/nodes", {}, fleetEnv);
    expect(anonymous.status).toBe(401);
    const res = await listAs("admin");
    expect(res.status).toBe(200);
    const { nodes } = await res.json<{ nodes: { id: string; healthy: boolean; lastHeartbeatAt: number }[] }>();
    const listed = nodes.find((node) => node.id === "node-listed");
    expect(listed?.healthy).toBe(true);
    expect(Math.abs(Date.now() - listed!.lastHeartbeatAt)).toBeLessThan(60_000);
  });
});
