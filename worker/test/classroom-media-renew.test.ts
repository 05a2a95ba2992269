import { SELF } from "cloudflare:test";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import * as v from "valibot";
import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes } from "../../schema/db";
import { FLEET_STALE_AFTER_MS } from "../../schema/protocol/fleet";
import type { MediaJoinResponse, MediaRenewResponse } from "../../schema/protocol/classroom";
import { MediaTokenClaimsSchema } from "../../schema/tokens/media-token";
import { NODE_DIRECTORY_TTL_MS } from "../../durable-objects/sfu-assign";
import { db } from "./helpers";
import { ChannelClient, createLiveClass } from "./ws-client";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers a node straight in the registry, with a heartbeat `ageMs` ago. */
async function addNode(id: string, options: { ageMs?: number; consumers?: number; maxConsumers?: number } = {}) {
  const now = Date.now();
  await db.insert(sfuNodes).values({
    id,
    region: "local",
    publicUrl: `https://${id}.sfu.example`,
    consumers: options.consumers ?? 0,
    maxConsumers: options.maxConsumers ?? 1000,
    registeredAt: now,
    lastHeartbeatAt: now - (options.ageMs ?? 0),
  });
}

/** Verifies a renewed token as the node would: the Worker's published key, issuer, audience = `nodeId`. */
async function verifyRenewal(renewal: MediaRenewResponse, nodeId: string) {
  const jwks = await (await SELF.fetch("http://localhost/.well-known/jwks.json")).json<JSONWebKeySet>();
  const { payload } = await jwtVerify(renewal.token, createLocalJWKSet(jwks), { audience: nodeId, issuer: "insp-live-worker" });
  return v.parse(MediaTokenClaimsSchema, payload);
}

beforeEach(async () => {
  await db.delete(sfuNodes);
});

describe("media.renew", () => {
  it("signs a token for the node the caller names, even one that media.join would not pick now", async () => {
    await addNode("node-a");
    const { classId, teacher } = await createLiveClass(0);
    const client = await ChannelClient.join(teacher, classId);
    expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-a");
    // node-a filled up and node-b appeared: a new join would go to node-b, the renewal stays on node-a.
    await db.update(sfuNodes).set({ consumers: 1000 });
    await addNode("node-b");
    // The object reads the fleet registry at most once per NODE_DIRECTORY_TTL_MS: the change shows after that.
    await sleep(NODE_DIRECTORY_TTL_MS);
    expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-b");

    const renewal = await client.ok<MediaRenewResponse>("media.renew", { nodeId: "node-a" });
    expect(renewal.nodeId).toBe("node-a");
    expect(renewal.produce).toEqual(["audio", "video", "screen", "board"]);
    const claims = await verifyRenewal(renewal, "node-a");
    expect(claims).toMatchObject({ aud: "node-a", sub: teacher.id, classId, role: "teacher", produce: ["audio", "video", "screen", "board"] });
    expect(claims.exp * 1000).toBe(renewal.expiresAt);
    expect(renewal.expiresAt - Date.now()).toBeGreaterThan(590_000);
    expect(renewal.expiresInMs).toBeGreaterThan(590_000);
    expect(renewal.expiresInMs).toBeLessThanOrEqual(600_000);
    await expect(verifyRenewal(renewal, "node-b")).rejects.toThrow(/aud/);
    client.close();
  });

  it("is NOT_FOUND for a node without a recent heartbeat or one not in the fleet, so the client joins again", async () => {
    await addNode("node-stale", { ageMs: FLEET_STALE_AFTER_MS + 10_000 });
    await addNode("node-fresh");
    const { classId, students } = await createLiveClass(1);
    const client = await ChannelClient.join(students[0]!, classId);
    expect(await client.request("media.renew", { nodeId: "node-stale" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await client.request("media.renew", { nodeId: "node-unknown" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-fresh");
    client.close();
  });

  it("refuses malformed requests", async () => {
    await addNode("node-a");
    const { classId, students } = await createLiveClass(1);
    const client = await ChannelClient.join(students[0]!, classId);
    expect(await client.request("media.renew", {})).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    expect(await client.request("media.renew", { nodeId: "" })).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    expect(await client.request("media.renew", { nodeId: "node-a", produce: ["audio", "video"] })).toMatchObject({
      ok: false,
      error: { code: "INVALID_MESSAGE" },
    });
    client.close();
  });

  it("carries the class's current grant: a student sends nothing unless on stage", async () => {
    await addNode("node-a");
    const { classId, teacher, students } = await createLiveClass(1);
    const student = students[0]!;
    const teacherClient = await ChannelClient.join(teacher, classId);
    const studentClient = await ChannelClient.join(student, classId);

    const before = await studentClient.ok<MediaRenewResponse>("media.renew", { nodeId: "node-a" });
    expect(before.produce).toEqual([]);
    expect(await verifyRenewal(before, "node-a")).toMatchObject({ sub: student.id, classId, role: "student", produce: [] });

    await teacherClient.ok("stage.invite", { userId: student.id });
    const onStage = await studentClient.ok<MediaRenewResponse>("media.renew", { nodeId: "node-a" });
    expect(onStage.produce).toEqual(["audio", "video"]);
    expect((await verifyRenewal(onStage, "node-a")).produce).toEqual(["audio", "video"]);

    await teacherClient.ok("stage.revoke", { userId: student.id });
    const after = await studentClient.ok<MediaRenewResponse>("media.renew", { nodeId: "node-a" });
    expect(after.produce).toEqual([]);
    expect((await verifyRenewal(after, "node-a")).produce).toEqual([]);
    teacherClient.close();
    studentClient.close();
  });
});
