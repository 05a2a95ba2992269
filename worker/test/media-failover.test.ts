import { env, runDurableObjectAlarm } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes, type User } from "../../schema/db";
import * as v from "valibot";
import { ClassMediaViewSchema } from "../../schema/api/class-media";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { MediaJoinResponse } from "../../schema/protocol/classroom";
import { FLEET_STALE_AFTER_MS } from "../../schema/protocol/fleet";
import { MOVE_WINDOW_MIN_MS, NODE_LOST_GRACE_MS } from "../../durable-objects/failover";
import { NODE_DIRECTORY_TTL_MS } from "../../durable-objects/sfu-assign";
import { enrolledNode, nodePost } from "./fleet-helpers";
import { api, createUser, db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass } from "./ws-client";

/**
 * A node dies or drains under a live class: the class object moves the node's people (`media.move`, spread over
 * a short window), keeps the node out of `media.join`, and drops its producers at once. The test plays the node
 * over its real class link through the Worker; the people are real class-channel sockets.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Slack for a busy machine on top of the grace and the spread window. */
const SLACK_MS = 2_000;

async function addNode(id: string, region = "local") {
  const now = Date.now();
  await db
    .insert(sfuNodes)
    .values({ id, region, publicUrl: `https://${id}.sfu.example`, consumers: 0, maxConsumers: 1000, registeredAt: now, lastHeartbeatAt: now });
}

const camera = (userId: string): LinkProducer => ({ producerId: crypto.randomUUID(), userId, kind: "video", source: "video", paused: false });

/** When each client received its `media.move` (ms), once all have. */
async function movesArrive(clients: ChannelClient[], timeoutMs: number): Promise<number[]> {
  return Promise.all(
    clients.map(async (client) => {
      await client.until(() => moves(client).length > 0, "media.move", timeoutMs);
      return Date.now();
    }),
  );
}

function moves(client: ChannelClient) {
  return client.notifications.flatMap((n) => (n.notification === "media.move" ? [n.data] : []));
}

/** A class of a teacher and four students, everyone's media on `node-a` (whose link is open), `node-b` idle. */
async function classOnNodeA() {
  await addNode("node-a");
  await addNode("node-b");
  const { classId, teacher, students } = await createLiveClass(4);
  const people: User[] = [teacher, ...students];
  const clients = await Promise.all(people.map((person) => ChannelClient.join(person, classId)));
  const producer = camera(teacher.id);
  const link = await NodeLink.connect(classId, "node-a", [producer]);
  await clients[0]!.until(() => clients[0]!.events.some((e) => e.type === "media.producers" && e.upserts.length > 0), "the teacher's camera");
  for (const client of clients) expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
  return { classId, teacher, clients, link, producer };
}

beforeEach(async () => {
  await db.delete(sfuNodes);
});

describe("a node's class link closes and stays closed", () => {
  it("its people are told to move after the grace, at different moments, and nobody is sent back to it", { timeout: 60_000 }, async () => {
    const { clients, link, producer } = await classOnNodeA();
    const closedAt = Date.now();
    link.socket.close(1011, "node died");

    // Its producers leave the media map at once: nobody waits on a camera that cannot come.
    const student = clients[1]!;
    await student.until(() => student.events.some((e) => e.type === "media.producers" && e.removed.includes(producer.producerId)), "camera removed");
    expect(Date.now() - closedAt).toBeLessThan(NODE_LOST_GRACE_MS);
    expect(clients.every((client) => moves(client).length === 0)).toBe(true);

    const arrivals = await movesArrive(clients, NODE_LOST_GRACE_MS + MOVE_WINDOW_MIN_MS + SLACK_MS * 3);
    for (const client of clients) expect(moves(client)).toEqual([{ reason: "node-lost", nodeId: "node-a" }]);
    // Not before the grace, and spread rather than all in one instant.
    expect(Math.min(...arrivals) - closedAt).toBeGreaterThanOrEqual(NODE_LOST_GRACE_MS - 50);
    expect(new Set(arrivals).size).toBeGreaterThan(1);

    // The rejoin goes to the other node, though the registry still lists node-a as healthy.
    for (const client of clients) expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
  });

  it("a node whose registry heartbeats stop while its link stays open (hung): its people move at the object's next alarm", { timeout: 60_000 }, async () => {
    const { classId, clients } = await classOnNodeA();
    await db
      .update(sfuNodes)
      .set({ lastHeartbeatAt: Date.now() - FLEET_STALE_AFTER_MS - 1_000 })
      .where(eq(sfuNodes.id, "node-a"));
    await sleep(NODE_DIRECTORY_TTL_MS + 100);
    expect(await runDurableObjectAlarm(env.CLASSROOM.get(env.CLASSROOM.idFromName(classId)))).toBe(true);
    await movesArrive(clients, MOVE_WINDOW_MIN_MS + SLACK_MS * 3);
    for (const client of clients) expect(moves(client)).toEqual([{ reason: "node-lost", nodeId: "node-a" }]);
    expect((await clients[1]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
  });

  it("a lost node whose process starts again (it registers anew) takes people again at once", { timeout: 60_000 }, async () => {
    const { clients, link } = await classOnNodeA();
    link.socket.close(1011, "node died");
    await movesArrive(clients, NODE_LOST_GRACE_MS + MOVE_WINDOW_MIN_MS + SLACK_MS * 3);
    expect((await clients[1]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
    // The supervisor restarted it: the new process registers with the Worker.
    const key = await enrolledNode("node-a");
    const load = { cpu: 0, transports: 0, consumers: 0, maxConsumers: 1000 };
    const registered = await nodePost(key, "/api/fleet/register", { nodeId: "node-a", region: "local", publicUrl: "https://node-a.sfu.example", load });
    expect(registered.status).toBe(200);
    await sleep(NODE_DIRECTORY_TTL_MS + 100);
    expect((await clients[2]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
  });

  it("a link that comes back within the grace moves nobody, and its node keeps taking people", { timeout: 60_000 }, async () => {
    const { classId, clients, link, producer } = await classOnNodeA();
    link.socket.close(1011, "network blip");
    await sleep(500);
    await NodeLink.connect(classId, "node-a", [producer]);
    await sleep(NODE_LOST_GRACE_MS + MOVE_WINDOW_MIN_MS + 1_000);
    expect(clients.map((client) => moves(client))).toEqual(clients.map(() => []));
    expect((await clients[1]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
  });

  it("a node that closes its link cleanly (its room closed) moves nobody and stays assignable", { timeout: 60_000 }, async () => {
    const { clients, link } = await classOnNodeA();
    link.socket.close(1000, "room closed");
    await sleep(NODE_LOST_GRACE_MS + MOVE_WINDOW_MIN_MS + 1_000);
    expect(clients.map((client) => moves(client))).toEqual(clients.map(() => []));
    expect((await clients[1]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
  });

  it("someone whose own ladder already took them to another node is not moved", { timeout: 60_000 }, async () => {
    const { clients, link } = await classOnNodeA();
    link.socket.close(1011, "node died");
    const [teacher, ...students] = clients;
    // The teacher's media socket closed too; their browser rejoined at once.
    await sleep(200);
    expect((await teacher!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
    await movesArrive(students, NODE_LOST_GRACE_MS + MOVE_WINDOW_MIN_MS + SLACK_MS * 3);
    await sleep(MOVE_WINDOW_MIN_MS);
    expect(moves(teacher!)).toEqual([]);
  });
});

describe("a node drains (SIGTERM)", () => {
  it("its `draining` notice moves its people at once and keeps it out of media.join and media.renew", { timeout: 60_000 }, async () => {
    const { clients, link } = await classOnNodeA();
    const saidAt = Date.now();
    link.socket.send(JSON.stringify({ notification: "draining", data: { exitsInMs: 30_000 } }));
    const arrivals = await movesArrive(clients, MOVE_WINDOW_MIN_MS + SLACK_MS * 3);
    for (const client of clients) expect(moves(client)).toEqual([{ reason: "node-draining", nodeId: "node-a" }]);
    expect(Math.max(...arrivals) - saidAt).toBeLessThan(MOVE_WINDOW_MIN_MS + SLACK_MS);
    expect(new Set(arrivals).size).toBeGreaterThan(1);
    // Its link is still open (it drains), but nobody is sent there, and a token for it is not renewed.
    expect((await clients[1]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
    expect(await clients[2]!.request("media.renew", { nodeId: "node-a" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("a draining heartbeat makes the registry count the node full, so a class it does not carry skips it", { timeout: 60_000 }, async () => {
    // node-a would win: nearer than node-b for someone in Europe.
    await addNode("node-a", "eu-west");
    await addNode("node-b", "us-east");
    const key = await enrolledNode("node-a");
    const load = { cpu: 0.1, transports: 0, consumers: 0, maxConsumers: 1000 };
    const response = await nodePost(key, "/api/fleet/heartbeat", { nodeId: "node-a", load, draining: true });
    expect(response.status).toBe(200);
    const { classId, teacher } = await createLiveClass(0);
    const client = await ChannelClient.join(teacher, classId);
    expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");
    // A bad draining field is refused like any bad heartbeat.
    expect((await nodePost(key, "/api/fleet/heartbeat", { nodeId: "node-a", load, draining: "yes" })).status).toBe(400);
  });
});

describe("GET /api/admin/classes/:id/media", () => {
  it("shows admins which node carries whom, and a lost node's people while they move", { timeout: 60_000 }, async () => {
    const { classId, teacher, clients, link } = await classOnNodeA();
    const admin = await createUser("admin");
    const read = async () => {
      const response = await api(`/api/admin/classes/${classId}/media`, { as: admin });
      expect(response.status).toBe(200);
      return v.parse(ClassMediaViewSchema, await response.json());
    };
    const before = await read();
    expect(before.classId).toBe(classId);
    expect(before.nodes).toEqual([expect.objectContaining({ nodeId: "node-a", region: "local", state: "linked", peopleCount: 5 })]);
    expect(before.nodes[0]!.people.map((p) => p.userId)).toContain(teacher.id);

    link.socket.close(1011, "node died");
    await clients[0]!.until(() => clients[0]!.events.some((e) => e.type === "media.producers" && e.removed.length > 0), "camera removed");
    const lost = await read();
    expect(lost.nodes).toEqual([expect.objectContaining({ nodeId: "node-a", state: "lost", peopleCount: 5 })]);
    await clients[0]!.ok("media.join");
    const moving = await read();
    expect(moving.nodes.map((n) => [n.nodeId, n.state, n.peopleCount])).toEqual([
      ["node-a", "lost", 4],
      ["node-b", "assigned", 1],
    ]);
  });

  it("is for admins only, and names a class that exists", async () => {
    const { classId, teacher } = await createLiveClass(0);
    expect((await api(`/api/admin/classes/${classId}/media`, { as: teacher })).status).toBe(403);
    expect((await api(`/api/admin/classes/${crypto.randomUUID()}/media`, { as: await createUser("admin") })).status).toBe(404);
  });
});

describe("a participant cannot reach the node the class sent them to", () => {
  it("the class leaves that node out at once, though the registry still lists it healthy (killed, heartbeats not yet stale)", { timeout: 60_000 }, async () => {
    await addNode("node-a");
    await addNode("node-b");
    const { classId, students } = await createLiveClass(3);
    const [first, second, third] = await Promise.all(students.map((student) => ChannelClient.join(student, classId)));
    const sentTo = (await first!.ok<MediaJoinResponse>("media.join")).nodeId;
    const other = sentTo === "node-a" ? "node-b" : "node-a";

    // Its socket there did not open: the retry names the node and goes to the other one, and so does everyone after.
    expect((await first!.ok<MediaJoinResponse>("media.join", { unreachable: sentTo })).nodeId).toBe(other);
    expect((await second!.ok<MediaJoinResponse>("media.join")).nodeId).toBe(other);
    // Nobody can talk the class out of its last node: a claim against it is not believed.
    expect((await third!.ok<MediaJoinResponse>("media.join", { unreachable: other })).nodeId).toBe(other);
    expect((await second!.ok<MediaJoinResponse>("media.join")).nodeId).toBe(other);
  });

  it("is not believed of a node linked to the class (it is up), and a claim that is not a node id is refused", { timeout: 60_000 }, async () => {
    const { clients } = await classOnNodeA();
    const student = clients[1]!;
    expect((await student.ok<MediaJoinResponse>("media.join", { unreachable: "node-a" })).nodeId).toBe("node-a");
    expect((await clients[2]!.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
    const refused = await student.request("media.join", { unreachable: 42 });
    expect(refused).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    // The socket stays: the next request is answered.
    expect((await student.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
  });
});
