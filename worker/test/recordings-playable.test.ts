import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { RecordingResponse } from "../../schema/api/recordings";
import { recordings } from "../../schema/db";
import { app } from "../index";
import { enrol, fleetEnv, newNodeKey } from "./fleet-helpers";
import { api, db } from "./helpers";
import { portalFixture } from "./portal-fixture";

const CDN = "http://127.0.0.1:8837/insp-live-recordings";
const RECORDER = "node-recorder-playable";
const recorderKey = newNodeKey(RECORDER);

async function report(recordingId: string, body: unknown) {
  const signer = await enrol(await recorderKey);
  const path = `/api/fleet/recordings/${recordingId}`;
  return app.request(
    path,
    { method: "POST", headers: { "content-type": "application/json", authorization: await signer.authorization("POST", path) }, body: JSON.stringify(body) },
    fleetEnv,
  );
}

async function insertRecording(classId: string) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await db.insert(recordings).values({ id, classId, startedAt: now - 60_000, nodeId: RECORDER, createdAt: now, updatedAt: now });
  return id;
}

describe("the playable form of a recording before its ladder is ready", () => {
  it("stores the playlist the node reports while composing and shows it to an enrolled student", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId);
    const playableUrl = `${CDN}/classes/${f.classId}/recordings/${id}/live/master.m3u8`;
    expect((await report(id, { status: "composing", progress: 0, endedAt: Date.now(), durationMs: 60_000 })).status).toBe(200);
    const before = await (await api(`/api/recordings/${id}`, { as: f.enrolled })).json<RecordingResponse>();
    expect(before.recording.playableUrl).toBeNull();

    expect((await report(id, { status: "composing", progress: 50, playableUrl })).status).toBe(200);
    const seen = await api(`/api/recordings/${id}`, { as: f.enrolled });
    expect(seen.status).toBe(200);
    const { recording } = await seen.json<RecordingResponse>();
    expect(recording).toMatchObject({ status: "composing", progress: 50, playableUrl, hlsManifestUrl: null, dashManifestUrl: null });
    // Later reports that do not mention it keep it.
    expect((await report(id, { status: "uploading", progress: 5 })).status).toBe(200);
    expect((await db.query.recordings.findFirst({ where: eq(recordings.id, id) }))?.playableUrl).toBe(playableUrl);
  });

  it.each([
    ["not a URL", "live/master.m3u8"],
    ["another scheme", "javascript:alert(1)"],
    ["credentials in it", "http://user:secret@127.0.0.1:8837/master.m3u8"],
    ["a number", 42],
  ])("refuses a playableUrl that is %s and changes nothing", async (_name, playableUrl) => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId);
    const refused = await report(id, { status: "composing", progress: 50, playableUrl });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    expect(await db.query.recordings.findFirst({ where: eq(recordings.id, id) })).toMatchObject({ status: "recording", progress: 0, playableUrl: null });
  });
});
