import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { RecordingResponse } from "../../schema/api/recordings";
import { recordings } from "../../schema/db";
import { NODE_LOST_REASON } from "../../durable-objects/recording";
import { app } from "../index";
import { ABANDONED_STOPPED_REASON, failAbandonedRecordings, STOPPED_UNREPORTED_MS } from "../portal/recording-sweep";
import { enrol, enrolledNode, fleetEnv, newNodeKey, type TestNodeKey } from "./fleet-helpers";
import { api, db } from "./helpers";
import { portalFixture } from "./portal-fixture";

const CDN = "http://127.0.0.1:8837/insp-live-recordings";
/** The sfu-node named on the rows below: it recorded them, died, and came back. */
const RECORDER = "node-restarted";
const recorderKey = newNodeKey(RECORDER);
const NOTE = "Recording ended early: the media server restarted";

async function report(recordingId: string, body: unknown, key?: TestNodeKey) {
  const signer = await enrol(key ?? (await recorderKey));
  const path = `/api/fleet/recordings/${recordingId}`;
  const headers = { "content-type": "application/json", authorization: await signer.authorization("POST", path) };
  return app.request(path, { method: "POST", headers, body: JSON.stringify(body) }, fleetEnv);
}

async function insertRecording(classId: string, overrides: Partial<typeof recordings.$inferInsert> = {}) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await db.insert(recordings).values({ id, classId, startedAt: now - 60_000, nodeId: RECORDER, createdAt: now, updatedAt: now, ...overrides });
  return id;
}

const manifests = (id: string) => ({
  hlsManifestUrl: `${CDN}/${id}/hls/master.m3u8`,
  dashManifestUrl: `${CDN}/${id}/dash/manifest.mpd`,
  posterUrl: `${CDN}/${id}/poster.jpg`,
  thumbnailsVttUrl: `${CDN}/${id}/thumbnails.vtt`,
});

async function rowOf(id: string) {
  return db.query.recordings.findFirst({ where: eq(recordings.id, id) });
}

describe("a failed recording its restarted node brings back", () => {
  it("becomes ready with the node's note when that node reports it finished, and students can watch it", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "failed", failureReason: NODE_LOST_REASON, endedAt: Date.now() - 30_000, durationMs: 30_000 });

    // The steps before ready stay refused: the row is not reopened until there is something to watch.
    expect((await report(id, { status: "composing", progress: 100, durationMs: 24_000 })).status).toBe(409);
    expect((await report(id, { status: "packaging", progress: 40 })).status).toBe(409);
    const withoutMedia = await report(id, { status: "ready", progress: 100, posterUrl: `${CDN}/${id}/poster.jpg` });
    expect(withoutMedia.status).toBe(400);
    expect(await rowOf(id)).toMatchObject({ status: "failed", failureReason: NODE_LOST_REASON, durationMs: 30_000 });

    const endedAt = Date.now() - 36_000;
    const ready = await report(id, { status: "ready", progress: 100, ...manifests(id), failureReason: NOTE, durationMs: 24_000, endedAt });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ recording: { id, status: "ready", progress: 100 } });

    const seen = await api(`/api/recordings/${id}`, { as: f.enrolled });
    expect(seen.status).toBe(200);
    const { recording } = await seen.json<RecordingResponse>();
    expect(recording).toMatchObject({ status: "ready", failureReason: NOTE, durationMs: 24_000, endedAt, ...manifests(id) });
    // It is in the catalog like any watchable recording.
    const catalog = await (await api("/api/recordings", { as: f.enrolled })).json<{ recordings: { id: string }[] }>();
    expect(catalog.recordings.map((r) => r.id)).toContain(id);

    // Ready stays final, and a retried ready is answered the same way.
    expect((await report(id, { status: "ready", progress: 100, ...manifests(id), failureReason: NOTE })).status).toBe(200);
    expect((await report(id, { status: "failed", progress: 0, failureReason: "late" })).status).toBe(409);
    expect(await rowOf(id)).toMatchObject({ status: "ready", failureReason: NOTE });
  });

  it("drops the old failure reason when the ready report brings no note; a row the sweep failed comes back too", async () => {
    const f = await portalFixture();
    const old = Date.now() - STOPPED_UNREPORTED_MS - 60_000;
    const id = await insertRecording(f.classId, { endedAt: old, updatedAt: old });
    await failAbandonedRecordings(db, Date.now());
    expect(await rowOf(id)).toMatchObject({ status: "failed", failureReason: ABANDONED_STOPPED_REASON });
    expect((await report(id, { status: "ready", progress: 100, ...manifests(id) })).status).toBe(200);
    expect(await rowOf(id)).toMatchObject({ status: "ready", failureReason: null });
  });

  it("is refused from another node, on a row that names no node, and for anything but ready", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "failed", failureReason: NODE_LOST_REASON });
    const otherNode = await enrolledNode("node-other");
    const forged = await report(id, { status: "ready", progress: 100, ...manifests(id) }, otherNode);
    expect(forged.status).toBe(403);
    // A failed report is taken as a retry of the final one already there: answered, but nothing changes.
    await report(id, { status: "failed", progress: 0, failureReason: "The media server restarted before any part of the recording was saved" });
    expect(await rowOf(id)).toMatchObject({ status: "failed", failureReason: NODE_LOST_REASON });

    // Rows from before recordings named their node take reports from any node: none of them may revive one.
    const legacy = await insertRecording(f.classId, { nodeId: null, status: "failed", failureReason: NODE_LOST_REASON });
    expect((await report(legacy, { status: "ready", progress: 100, ...manifests(legacy) })).status).toBe(409);
    expect(await rowOf(legacy)).toMatchObject({ status: "failed", failureReason: NODE_LOST_REASON });
  });
});
