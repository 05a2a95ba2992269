import http from "node:http";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetHeartbeatSchema, FleetRegisterSchema, type FleetRescueOffer } from "../../schema/protocol/fleet";
import { FleetLink } from "../src/fleet-link";
import { MediaNode } from "../src/Node";
import { eventually } from "./helpers";
import { testNodeKey } from "./node-key-helpers";

/**
 * A registry that checks requests the way worker/routes/fleet.ts does (a token signed by the node's enrolled key
 * for this request, naming the node the body names; schemas) and forgets the node after its first heartbeat, as
 * a reset registry would. Until `enrolled` it refuses the node's key, as a Worker the key is not yet enrolled on.
 */
function startRegistry() {
  const calls: { path: string; body: unknown }[] = [];
  const known = new Set<string>();
  /** `offers`: recordings offered in every heartbeat answer to a node that is not draining. */
  const state = { enrolled: true, refused: 0, offers: [] as FleetRescueOffer[] };
  const server = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", async () => {
      const reply = (status: number, body: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      const signedBy = await nodeKey.verify(request);
      if (!state.enrolled || signedBy === null) {
        state.refused += 1;
        return reply(401, { error: { code: "UNAUTHORIZED", message: "not an enrolled key" } });
      }
      const body: unknown = JSON.parse(text);
      if ((body as { nodeId?: unknown }).nodeId !== signedBy) return reply(403, { error: { code: "FORBIDDEN", message: "another node" } });
      calls.push({ path: request.url ?? "", body });
      const node = (id: string) => ({
        id,
        region: "local",
        publicUrl: "http://127.0.0.1:1",
        load: { cpu: 0, transports: 0, consumers: 0, maxConsumers: 1 },
        registeredAt: 1,
        lastHeartbeatAt: 1,
        healthy: true,
      });
      if (request.url === "/api/fleet/register") {
        const registration = v.parse(FleetRegisterSchema, body);
        known.add(registration.nodeId);
        return reply(200, { node: node(registration.nodeId), heartbeatIntervalMs: 100 });
      }
      const beat = v.parse(FleetHeartbeatSchema, body);
      if (!known.delete(beat.nodeId)) return reply(404, { error: { code: "NOT_FOUND", message: "register first" } });
      return reply(200, { node: node(beat.nodeId), heartbeatIntervalMs: 100, ...(beat.draining ? {} : { rescue: state.offers }) });
    });
  });
  return { server, calls, state };
}

let node: MediaNode;
let nodeKey: Awaited<ReturnType<typeof testNodeKey>>;
const registry = startRegistry();

beforeAll(async () => {
  await new Promise<void>((resolve) => registry.server.listen(8849, "127.0.0.1", resolve));
  nodeKey = await testNodeKey("link-node", "http://127.0.0.1:8849");
  node = await MediaNode.create(
    {
      nodeId: "link-node",
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: 41800,
      rtcPortMin: 41810,
      rtcPortMax: 41999,
      workers: 1,
      consumersPerRouter: 400,
    },
    { logLevel: "error" },
  );
});

afterAll(async () => {
  node?.close();
  await new Promise<void>((resolve) => registry.server.close(() => resolve()));
});

/** A link of the test node to the registry, started (`onRescue` as the recording glue would take offers). */
function startedLink(onRescue?: (offer: FleetRescueOffer) => void): FleetLink {
  const link = new FleetLink(
    { workerUrl: "http://127.0.0.1:8849", region: "local", publicUrl: "http://127.0.0.1:8840", maxConsumers: 500 },
    nodeKey.identity,
    node,
    onRescue,
  );
  link.start();
  return link;
}

describe("fleet link", () => {
  it("registers with its identity and load, heartbeats, and registers again when the registry forgot it", async () => {
    const link = startedLink();
    await eventually(() => registry.calls.filter((call) => call.path === "/api/fleet/register").length >= 2, 5_000, "a second registration");
    link.stop();
    const [first, second] = registry.calls;
    expect(first).toEqual({
      path: "/api/fleet/register",
      body: {
        nodeId: "link-node",
        region: "local",
        publicUrl: "http://127.0.0.1:8840",
        load: { cpu: expect.any(Number), transports: 0, consumers: 0, maxConsumers: 500 },
      },
    });
    expect(second?.path).toBe("/api/fleet/heartbeat");
    expect(registry.calls[2]?.path).toBe("/api/fleet/heartbeat");
    expect(registry.calls[3]?.path).toBe("/api/fleet/register");
  });

  it("keeps trying while its key is not enrolled yet, and registers once an operator enrols it", async () => {
    registry.calls.length = 0;
    registry.state.enrolled = false;
    const link = startedLink();
    try {
      await eventually(() => registry.state.refused >= 1, 5_000, "a refused registration");
      expect(link.registered).toBe(false);
      registry.state.enrolled = true;
      await eventually(() => link.registered, 10_000, "registration after enrolment");
      expect(registry.calls[0]?.path).toBe("/api/fleet/register");
    } finally {
      link.stop();
    }
  });

  it("hands the recordings a heartbeat answer offers to finish to the node, and is offered none while it drains", async () => {
    registry.calls.length = 0;
    const offer = { recordingId: "rec-left", classId: "class-left" };
    registry.state.offers = [offer];
    const offered: FleetRescueOffer[] = [];
    const link = startedLink((rescue) => offered.push(rescue));
    try {
      await eventually(() => offered.length >= 1, 5_000, "an offer handed on");
      expect(offered[0]).toEqual(offer);
      link.drain();
      await eventually(() => registry.calls.some((call) => (call.body as { draining?: boolean }).draining === true), 5_000, "a draining heartbeat");
      const handed = offered.length;
      await eventually(
        () => registry.calls.filter((call) => (call.body as { draining?: boolean }).draining === true).length >= 3,
        5_000,
        "more draining beats",
      );
      expect(offered.length).toBe(handed);
    } finally {
      link.stop();
      registry.state.offers = [];
    }
  });

  it("a node about to exit can wait until the registry has heard that it drains (no class is sent to it after)", async () => {
    const link = startedLink();
    try {
      await eventually(() => link.registered, 5_000, "registered");
      registry.calls.length = 0;
      await link.drain();
      // The registry counts the node full from what it was told: a draining heartbeat, or (a registry that forgot
      // the node) a registration with no room. Awaited, so it was told before drain() resolved.
      const told = registry.calls.filter((call) => {
        const body = call.body as { draining?: boolean; load?: { maxConsumers: number } };
        return body.draining === true || (call.path === "/api/fleet/register" && body.load?.maxConsumers === 0);
      });
      expect(told.length).toBeGreaterThanOrEqual(1);
      // Asked again (the node stopping after a drain), it does not beat once more.
      const calls = registry.calls.length;
      await link.drain();
      expect(registry.calls.length).toBe(calls);
    } finally {
      link.stop();
    }
  });
});
