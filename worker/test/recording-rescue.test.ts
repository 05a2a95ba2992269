/**
 * A recording whose node died with it and never came back: the Worker offers it to another node in a heartbeat
 * answer once the dead node has been silent long enough, that node takes it (the row becomes its own), and its
 * reports publish it. Run against the real Worker and D1.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { FleetRescueClaimResponse, RecordingResponse } from "../../schema/api/recordings";
import { recordings, sfuNodes } from "../../schema/db";
import { FLEET_STALE_AFTER_MS, type FleetAck } from "../../schema/protocol/fleet";
import { NODE_LOST_REASON, PART_LOST_REASON } from "../../durable-objects/recording";
import { enrolledNode, nodePost, type TestNodeKey } from "./fleet-helpers";
import { api, db } from "./helpers";
import { portalFixture } from "./portal-fixture";
import { OWN_RECOVERY_MS, RESCUE_WITHIN_MS } from "../portal/recording-rescue";

const CDN = "http://127.0.0.1:8837/insp-live-recordings";
const load = { cpu: 0.1, transports: 0, consumers: 0, maxConsumers: 500 };

const register = (key: TestNodeKey) =>
  nodePost(key, "/api/fleet/register", { nodeId: key.nodeId, region: "eu-west", publicUrl: `http://127.0.0.1:1/${key.nodeId}`, load });

async function heartbeat(key: TestNodeKey, draining = false): Promise<FleetAck> {
  const response = await nodePost(key, "/api/fleet/heartbeat", { nodeId: key.nodeId, load, ...(draining ? { draining } : {}) });
  expect(response.status).toBe(200);
  return response.json<FleetAck>();
}

const claim = (key: TestNodeKey, id: string) => nodePost(key, `/api/fleet/recordings/${id}/rescue`, {});
const report = (key: TestNodeKey, id: string, body: unknown) => nodePost(key, `/api/fleet/recordings/${id}`, body);

/** Three registered nodes: the one that recorded (and is silent from `silentFor` ms ago), and two others. */
async function fleet(prefix: string, silentFor: number) {
  const [owner, rescuer, other] = await Promise.all(["owner", "rescuer", "other"].map((name) => enrolledNode(`${prefix}-${name}`)));
  for (const node of [owner!, rescuer!, other!]) expect((await register(node)).status).toBe(200);
  await db
    .update(sfuNodes)
    .set({ lastHeartbeatAt: Date.now() - silentFor })
    .where(eq(sfuNodes.id, owner!.nodeId));
  return { owner: owner!, rescuer: rescuer!, other: other! };
}

/** A recording `nodeId` recorded and that failed with `failureReason`, last changed `age` ms ago. */
async function lostRecording(classId: string, nodeId: string, failureReason: string, age = 60_000) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await db.insert(recordings).values({
    id,
    classId,
    title: "Algebra — Part 1",
    status: "failed",
    failureReason,
    startedAt: now - age - 120_000,
    endedAt: now - age,
    durationMs: 120_000,
    nodeId,
    createdAt: now - age - 120_000,
    updatedAt: now - age,
  });
  return id;
}

const rowOf = (id: string) => db.query.recordings.findFirst({ where: eq(recordings.id, id) });

describe("a recording whose node died and never came back", () => {
  it("is offered to another node once its node is silent, taken by one node only, and published by its reports", async () => {
    const f = await portalFixture();
    // Oldest first: this file's recordings are the oldest of the suite, so they are the ones offered.
    const { owner, rescuer, other } = await fleet("rescue-a", FLEET_STALE_AFTER_MS + 5_000);
    const id = await lostRecording(f.classId, owner.nodeId, PART_LOST_REASON, RESCUE_WITHIN_MS - 3_600_000);

    // A draining node is offered nothing; one with room is offered the recording.
    expect((await heartbeat(rescuer, true)).rescue).toBeUndefined();
    expect((await heartbeat(rescuer)).rescue).toEqual([{ recordingId: id, classId: f.classId }]);

    const taken = await claim(rescuer, id);
    expect(taken.status).toBe(200);
    expect(await taken.json<FleetRescueClaimResponse>()).toEqual({ recording: { id, classId: f.classId, startedAt: expect.any(Number) } });
    expect(await rowOf(id)).toMatchObject({ status: "composing", progress: 0, failureReason: null, nodeId: rescuer.nodeId, title: "Algebra — Part 1" });
    // Nobody else gets it: not offered again, a second node's claim is refused, and so is the owner coming back late.
    expect((await heartbeat(other)).rescue ?? []).not.toContainEqual({ recordingId: id, classId: f.classId });
    expect((await claim(other, id)).status).toBe(409);
    expect((await claim(owner, id)).status).toBe(409);
    // A retried claim from the node that holds it is answered the same way.
    expect((await claim(rescuer, id)).status).toBe(200);

    // The rescuer's reports carry it to ready, with its note; the dead node's are refused.
    expect((await report(owner, id, { status: "composing", progress: 100 })).status).toBe(403);
    for (const step of [
      { status: "composing", progress: 100, durationMs: 110_000 },
      { status: "uploading", progress: 50 },
      { status: "packaging", progress: 10 },
    ])
      expect((await report(rescuer, id, step)).status).toBe(200);
    const note = "Ended early: its media server stopped, and another one finished it from what was saved";
    const ready = await report(rescuer, id, {
      status: "ready",
      progress: 100,
      failureReason: note,
      hlsManifestUrl: `${CDN}/${id}/hls/master.m3u8`,
      dashManifestUrl: `${CDN}/${id}/dash/manifest.mpd`,
    });
    expect(ready.status).toBe(200);
    const seen = await (await api(`/api/recordings/${id}`, { as: f.enrolled })).json<RecordingResponse>();
    expect(seen.recording).toMatchObject({ status: "ready", failureReason: note, durationMs: 110_000, title: "Algebra — Part 1" });
  });

  it("is not offered while its node still heartbeats, and its own node may take it back", async () => {
    const f = await portalFixture();
    const { owner, rescuer } = await fleet("rescue-b", 1_000);
    const id = await lostRecording(f.classId, owner.nodeId, NODE_LOST_REASON, RESCUE_WITHIN_MS - 7_200_000);
    expect((await heartbeat(rescuer)).rescue ?? []).not.toContainEqual({ recordingId: id, classId: f.classId });
    const refused = await claim(rescuer, id);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("finishes the recording itself");
    // The node that recorded it, back with it on its disk, takes it: from now on its steps count again.
    expect((await claim(owner, id)).status).toBe(200);
    expect(await rowOf(id)).toMatchObject({ status: "composing", nodeId: owner.nodeId, failureReason: null });
    expect((await report(owner, id, { status: "composing", progress: 100 })).status).toBe(200);
  });

  it("is offered to its own node when that node came back without it on its disk, and not while it may still take it back", async () => {
    const f = await portalFixture();
    const { owner } = await fleet("rescue-d", 0);
    const id = await lostRecording(f.classId, owner.nodeId, NODE_LOST_REASON, RESCUE_WITHIN_MS - 5_000_000);
    // Just registered: its recovery is still taking back what its disk holds.
    expect((await heartbeat(owner)).rescue ?? []).not.toContainEqual({ recordingId: id, classId: f.classId });
    await db
      .update(sfuNodes)
      .set({ registeredAt: Date.now() - OWN_RECOVERY_MS - 1_000 })
      .where(eq(sfuNodes.id, owner.nodeId));
    expect((await heartbeat(owner)).rescue).toContainEqual({ recordingId: id, classId: f.classId });
    expect((await claim(owner, id)).status).toBe(200);
    expect(await rowOf(id)).toMatchObject({ status: "composing", nodeId: owner.nodeId });
  });

  it("is only what went away with a node: other failures, finished recordings and old ones stay as they are", async () => {
    const f = await portalFixture();
    const { owner, rescuer } = await fleet("rescue-c", FLEET_STALE_AFTER_MS + 60_000);
    const broken = await lostRecording(f.classId, owner.nodeId, "Composing the recording failed: bad input", RESCUE_WITHIN_MS - 10_000_000);
    const expired = await lostRecording(f.classId, owner.nodeId, NODE_LOST_REASON, RESCUE_WITHIN_MS + 60_000);
    const offered = (await heartbeat(rescuer)).rescue ?? [];
    for (const id of [broken, expired]) expect(offered).not.toContainEqual({ recordingId: id, classId: f.classId });
    expect((await claim(rescuer, broken)).status).toBe(409);
    expect(await rowOf(broken)).toMatchObject({ status: "failed", nodeId: owner.nodeId });

    const ready = await lostRecording(f.classId, owner.nodeId, NODE_LOST_REASON);
    await db.update(recordings).set({ status: "ready", failureReason: null }).where(eq(recordings.id, ready));
    expect((await claim(rescuer, ready)).status).toBe(409);
    expect((await claim(rescuer, crypto.randomUUID())).status).toBe(404);
    // Only nodes take recordings: a request without a node's signature is refused.
    const unsigned = await nodePost(rescuer, `/api/fleet/recordings/${ready}/rescue`, {}, "Bearer not-a-token");
    expect(unsigned.status).toBe(401);
  });
});
