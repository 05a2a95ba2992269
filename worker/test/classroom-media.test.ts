import { SELF } from "cloudflare:test";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes, type User } from "../../schema/db";
import { CLASS_LINK_NODE_HEADER, classLinkPath, type LinkProducer } from "../../schema/protocol/class-link";
import type { MediaJoinResponse, MediaProducerInfo } from "../../schema/protocol/classroom";
import { MediaTokenClaimsSchema } from "../../schema/tokens/media-token";
import { NODE_DIRECTORY_TTL_MS } from "../../durable-objects/sfu-assign";
import * as v from "valibot";
import { app } from "../index";
import { enrol, fleetEnv, newNodeKey, type TestNodeKey } from "./fleet-helpers";
import { createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, enroll, joinToken } from "./ws-client";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each node's key, made on first use and enrolled again per test (a no-op when the row is still there). */
const nodeKeys = new Map<string, Promise<TestNodeKey>>();
async function nodeKey(nodeId: string): Promise<TestNodeKey> {
  if (!nodeKeys.has(nodeId)) nodeKeys.set(nodeId, newNodeKey(nodeId));
  return enrol(await nodeKeys.get(nodeId)!);
}

/** Registers a node straight in the registry, with a heartbeat `ageMs` ago. */
async function addNode(id: string, region: string, options: { ageMs?: number; consumers?: number; maxConsumers?: number } = {}) {
  const now = Date.now();
  await db.insert(sfuNodes).values({
    id,
    region,
    publicUrl: `https://${id}.sfu.example`,
    consumers: options.consumers ?? 0,
    maxConsumers: options.maxConsumers ?? 1000,
    registeredAt: now,
    lastHeartbeatAt: now - (options.ageMs ?? 0),
  });
}

/** Joins the class channel as the web app does, with where the request comes from (the `cf` object). */
async function joinFrom(user: User, classId: string, cf: Record<string, unknown>): Promise<ChannelClient> {
  const { token } = await joinToken(user, classId);
  const response = await SELF.fetch(`http://localhost/parties/classroom/${classId}?token=${encodeURIComponent(token)}`, {
    headers: { Upgrade: "websocket" },
    cf,
  });
  if (!response.webSocket) throw new Error(`upgrade refused: ${response.status}`);
  const client = new ChannelClient(response.webSocket);
  await client.until(() => client.snapshot !== null, "snapshot");
  return client;
}

async function verifyMediaToken(join: MediaJoinResponse) {
  const jwks = await (await SELF.fetch("http://localhost/.well-known/jwks.json")).json<JSONWebKeySet>();
  const token = new URL(join.signalingUrl).searchParams.get("token")!;
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { audience: join.nodeId, issuer: "insp-live-worker" });
  return v.parse(MediaTokenClaimsSchema, payload);
}

/** An sfu-node's end of the class link: a real WebSocket through the Worker, answering every command. */
class NodeLink {
  readonly commands: { id: number; method: string; data: Record<string, unknown> }[] = [];
  closed: number | null = null;

  constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data as string) as { id: number; method: string; data: Record<string, unknown> };
      this.commands.push(frame);
      socket.send(JSON.stringify({ id: frame.id, ok: true, data: {} }));
    });
    socket.addEventListener("close", (event) => {
      this.closed = event.code;
    });
    socket.accept();
  }

  /** Opens the link as the sfu-node does: a node token signed by `nodeId`'s key for this path (or `headers`). */
  static async open(classId: string, nodeId: string, headers?: Record<string, string>) {
    const authorization = headers ?? { authorization: await (await nodeKey(nodeId)).authorization("GET", classLinkPath(classId)) };
    return app.request(classLinkPath(classId), { headers: { upgrade: "websocket", [CLASS_LINK_NODE_HEADER]: nodeId, ...authorization } }, fleetEnv);
  }

  static async connect(classId: string, nodeId: string, producers: LinkProducer[] = [], users: string[] = []): Promise<NodeLink> {
    const response = await NodeLink.open(classId, nodeId);
    if (!response.webSocket) throw new Error(`link refused: ${response.status} ${await response.text()}`);
    const link = new NodeLink(response.webSocket);
    link.notify("sync", { nodeId, producers, users });
    return link;
  }

  notify(notification: string, data: unknown): void {
    this.socket.send(JSON.stringify({ notification, data }));
  }

  async command(method: string, match: (data: Record<string, unknown>) => boolean = () => true) {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = this.commands.find((c) => c.method === method && match(c.data));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${method} command arrived (got ${this.commands.map((c) => c.method).join(", ") || "none"})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The media map as a client sees it: snapshot plus `media.producers` events. */
function producersSeenBy(client: ChannelClient): Map<string, MediaProducerInfo> {
  const map = new Map(client.snapshot!.media.producers.map((p) => [p.producerId, p]));
  for (const event of client.events) {
    if (event.type !== "media.producers") continue;
    for (const p of event.upserts) map.set(p.producerId, p);
    for (const id of event.removed) map.delete(id);
  }
  return map;
}

beforeEach(async () => {
  await db.delete(sfuNodes);
});

describe("media.join", () => {
  it("signs a media token for the node: teachers may send everything, students nothing until they are on stage", async () => {
    await addNode("node-local", "local");
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(students[0]!, classId);
    expect(teacherClient.snapshot!.media).toEqual({ producers: [], stage: [], recording: null });

    const teacherJoin = await teacherClient.ok<MediaJoinResponse>("media.join");
    expect(teacherJoin.nodeId).toBe("node-local");
    expect(teacherJoin.produce).toEqual(["audio", "video", "screen", "board"]);
    expect(teacherJoin.signalingUrl).toMatch(new RegExp(`^wss://node-local\\.sfu\\.example/media/${classId}\\?token=`));
    const teacherClaims = await verifyMediaToken(teacherJoin);
    expect(teacherClaims).toMatchObject({ aud: "node-local", sub: teacher.id, classId, role: "teacher", produce: ["audio", "video", "screen", "board"] });
    expect(teacherClaims.exp * 1000).toBe(teacherJoin.expiresAt);
    expect(teacherJoin.expiresAt - Date.now()).toBeGreaterThan(590_000);
    // The lifetime travels with the token: the browser counts its renewal from it, on its own clock.
    expect(teacherJoin.expiresInMs).toBeGreaterThan(590_000);
    expect(teacherJoin.expiresInMs).toBeLessThanOrEqual(600_000);

    const before = await studentClient.ok<MediaJoinResponse>("media.join");
    expect(before.produce).toEqual([]);
    expect(await verifyMediaToken(before)).toMatchObject({ sub: students[0]!.id, role: "student", produce: [] });

    await teacherClient.ok("stage.invite", { userId: students[0]!.id });
    await studentClient.until(() => studentClient.events.some((e) => e.type === "media.stage" && e.stage.includes(students[0]!.id)), "stage event");
    const onStage = await studentClient.ok<MediaJoinResponse>("media.join");
    expect(onStage.produce).toEqual(["audio", "video"]);
    expect((await verifyMediaToken(onStage)).produce).toEqual(["audio", "video"]);

    await teacherClient.ok("stage.revoke", { userId: students[0]!.id });
    expect((await studentClient.ok<MediaJoinResponse>("media.join")).produce).toEqual([]);
    teacherClient.close();
    studentClient.close();
  });

  it("is UNAVAILABLE while no node has sent a heartbeat lately, or every node is full", async () => {
    await addNode("node-stale", "local", { ageMs: 60_000 });
    const { classId, teacher } = await createLiveClass(0);
    const client = await ChannelClient.join(teacher, classId);
    const stale = await client.request("media.join");
    expect(stale).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    // The object reads the fleet registry at most once per NODE_DIRECTORY_TTL_MS: a change shows after that.
    await addNode("node-full", "local", { consumers: 500, maxConsumers: 500 });
    await sleep(NODE_DIRECTORY_TTL_MS);
    expect(await client.request("media.join")).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    await addNode("node-fresh", "local");
    await sleep(NODE_DIRECTORY_TTL_MS);
    expect(await client.ok<MediaJoinResponse>("media.join")).toMatchObject({ nodeId: "node-fresh" });
    client.close();
  });

  it("gives each participant the node nearest to where they connect from", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-us", "us-east-1");
    const { classId, teacher, students } = await createLiveClass(1);
    const paris = await joinFrom(teacher, classId, { latitude: "48.86", longitude: "2.35", continent: "EU", country: "FR" });
    const boston = await joinFrom(students[0]!, classId, { latitude: "42.36", longitude: "-71.06", continent: "NA", country: "US" });
    expect((await paris.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-eu");
    expect((await boston.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-us");
    paris.close();
    boston.close();
  });

  it("sends a joiner to the node nearest them even when the class already lives on another node", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-us", "us-east-1");
    const { classId, teacher, students } = await createLiveClass(1);
    const paris = await joinFrom(teacher, classId, { latitude: "48.86", longitude: "2.35", continent: "EU", country: "FR" });
    expect((await paris.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-eu");
    // The teacher's node opens its class link and reports the camera: the class lives there now.
    const link = await NodeLink.connect(
      classId,
      "node-eu",
      [{ producerId: "p-teacher-cam", userId: teacher.id, kind: "video", source: "video", paused: false }],
      [teacher.id],
    );
    await paris.until(() => producersSeenBy(paris).has("p-teacher-cam"), "the camera in the media map");
    // Boston still gets the node near Boston: the class object pipes the teacher's camera over (durable-objects/cascade.ts).
    const boston = await joinFrom(students[0]!, classId, { latitude: "42.36", longitude: "-71.06", continent: "NA", country: "US" });
    expect((await boston.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-us");
    link.socket.close();
    paris.close();
    boston.close();
  });
});

describe("stage and mute", () => {
  it("students may not invite, revoke or mute", async () => {
    const { classId, students } = await createLiveClass(2);
    const client = await ChannelClient.join(students[0]!, classId);
    await ChannelClient.join(students[1]!, classId);
    for (const [method, data] of [
      ["stage.invite", { userId: students[1]!.id }],
      ["stage.revoke", { userId: students[1]!.id }],
      ["media.mute", { userId: students[1]!.id, source: "audio" }],
    ] as const) {
      expect(await client.request(method, data)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    }
  });
});

describe("class link", () => {
  it("is refused without a node token, with a wrong one, for an unregistered node or an unknown class", async () => {
    await addNode("node-a", "local");
    const { classId } = await createLiveClass(0);
    const missing = await NodeLink.open(classId, "node-a", {});
    expect(missing.status).toBe(401);
    expect(missing.webSocket).toBeNull();
    const wrong = await NodeLink.open(classId, "node-a", { authorization: "Bearer not-the-fleet-credential" });
    expect(wrong.status).toBe(401);
    const forAnotherClass = await NodeLink.open(classId, "node-a", {
      authorization: await (await nodeKey("node-a")).authorization("GET", classLinkPath("another-class")),
    });
    expect(forAnotherClass.status).toBe(401);
    const unregistered = await NodeLink.open(classId, "node-nobody");
    expect(unregistered.status).toBe(401);
    expect((await NodeLink.open("no-such-class", "node-a")).status).toBe(404);
  });

  it("does not let one node's key open a link as another node", async () => {
    await addNode("node-a", "local");
    await addNode("node-b", "local");
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const nodeB = await nodeKey("node-b");
    const asA = await NodeLink.open(classId, "node-a", { authorization: await nodeB.authorization("GET", classLinkPath(classId)) });
    expect(asA.status).toBe(403);
    expect(asA.webSocket).toBeNull();
    const claimingA = await NodeLink.open(classId, "node-a", { authorization: await nodeB.authorization("GET", classLinkPath(classId), { nodeId: "node-a" }) });
    expect(claimingA.status).toBe(403);

    // Its own link reports producers as node-b's, never node-a's.
    const link = await NodeLink.connect(classId, "node-b");
    link.notify("producerAdded", { producerId: "p-b", userId: teacher.id, kind: "video", source: "video", paused: false } satisfies LinkProducer);
    await teacherClient.until(() => producersSeenBy(teacherClient).has("p-b"), "node-b's producer");
    expect(producersSeenBy(teacherClient).get("p-b")).toMatchObject({ nodeId: "node-b" });
  });

  it("carries producers to participants, and mute, revoke and kick to the node", async () => {
    await addNode("node-a", "local");
    const { classId, teacher, students } = await createLiveClass(2);
    const [alice, bob] = students as [User, User];
    const teacherClient = await ChannelClient.join(teacher, classId);
    const aliceClient = await ChannelClient.join(alice, classId);
    const bobClient = await ChannelClient.join(bob, classId);
    const link = await NodeLink.connect(classId, "node-a");

    const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
    link.notify("producerAdded", camera);
    await aliceClient.until(() => producersSeenBy(aliceClient).has("p-cam"), "teacher camera");
    expect(producersSeenBy(aliceClient).get("p-cam")).toEqual({ ...camera, nodeId: "node-a" });

    // Someone joining later finds it in the snapshot.
    const admin = await createUser("admin");
    const adminClient = await ChannelClient.join(admin, classId);
    expect(adminClient.snapshot!.media.producers).toEqual([{ ...camera, nodeId: "node-a" }]);

    // Alice on stage: the node is told she may send audio and video.
    await teacherClient.ok("stage.invite", { userId: alice.id });
    expect((await link.command("setGrant", (d) => d.userId === alice.id)).data).toEqual({ userId: alice.id, produce: ["audio", "video"] });
    link.notify("producerAdded", { producerId: "p-alice-mic", userId: alice.id, kind: "audio", source: "audio", paused: false });
    await bobClient.until(() => producersSeenBy(bobClient).has("p-alice-mic"), "alice's microphone");

    // Muting pauses the producer on the node; once the node reports it paused, everyone sees it.
    await teacherClient.ok("media.mute", { userId: alice.id, source: "audio" });
    expect((await link.command("pauseProducer")).data).toEqual({ producerId: "p-alice-mic" });
    link.notify("producerPaused", { producerId: "p-alice-mic", paused: true });
    await bobClient.until(() => producersSeenBy(bobClient).get("p-alice-mic")?.paused === true, "paused microphone");
    expect(await teacherClient.request("media.mute", { userId: alice.id, source: "screen" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });

    // Revoking the stage takes her grant away and her producers off the map at once.
    await teacherClient.ok("stage.revoke", { userId: alice.id });
    expect((await link.command("setGrant", (d) => d.userId === alice.id && (d.produce as string[]).length === 0)).data).toEqual({
      userId: alice.id,
      produce: [],
    });
    await bobClient.until(() => !producersSeenBy(bobClient).has("p-alice-mic"), "microphone gone");

    // Quality reports reach the class.
    link.notify("quality", { quality: { [teacher.id]: 9 } });
    await bobClient.until(() => bobClient.events.some((e) => e.type === "media.quality" && e.quality[teacher.id] === 9), "quality");

    // A kicked student's media stops: the node is told to disconnect them.
    await teacherClient.ok("participant.remove", { userId: bob.id });
    expect((await link.command("disconnectPeer", (d) => d.userId === bob.id)).data).toEqual({ userId: bob.id });

    // The link never counts as a participant.
    await teacherClient.until(() => !teacherClient.participants.has(bob.id), "bob gone");
    expect([...teacherClient.participants.keys()].sort()).toEqual([teacher.id, alice.id, admin.id].sort());
    for (const client of [teacherClient, aliceClient, adminClient]) client.close();
  });

  it("a node that reconnects replaces what it reported before; a producer of someone not in the class is dropped", async () => {
    await addNode("node-a", "local");
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const first = await NodeLink.connect(
      classId,
      "node-a",
      [
        { producerId: "p1", userId: teacher.id, kind: "audio", source: "audio", paused: false },
        { producerId: "p-ghost", userId: "somebody-gone", kind: "video", source: "video", paused: false },
      ],
      [teacher.id, "somebody-gone"],
    );
    await teacherClient.until(() => producersSeenBy(teacherClient).has("p1"), "p1");
    expect(producersSeenBy(teacherClient).has("p-ghost")).toBe(false);
    expect((await first.command("disconnectPeer")).data).toEqual({ userId: "somebody-gone" });

    const second = await NodeLink.connect(
      classId,
      "node-a",
      [{ producerId: "p2", userId: teacher.id, kind: "video", source: "video", paused: true }],
      [teacher.id],
    );
    await teacherClient.until(() => producersSeenBy(teacherClient).has("p2") && !producersSeenBy(teacherClient).has("p1"), "resync");
    await teacherClient.until(() => first.closed !== null, "old link closed");

    // Ending the class closes the link (the node drops every peer of the class).
    await teacherClient.ok("session.end");
    await teacherClient.until(() => second.closed !== null, "link closed on end");
    expect(second.closed).toBe(4005);
  });
});
