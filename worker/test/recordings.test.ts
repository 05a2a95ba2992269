import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { FeedbackSummary } from "../../schema/api/portal";
import type { RecordingCatalogResponse, RecordingListResponse, RecordingResponse } from "../../schema/api/recordings";
import { classes, enrollments, feedback, recordings } from "../../schema/db";
import { app } from "../index";
import {
  ABANDONED_PROCESSING_REASON,
  ABANDONED_STOPPED_REASON,
  failAbandonedRecordings,
  PROCESSING_SILENT_MS,
  STOPPED_UNREPORTED_MS,
} from "../portal/recording-sweep";
import { api, db, sessionCookie } from "./helpers";
import { enrol, enrolledNode, fleetEnv, newNodeKey, type TestNodeKey } from "./fleet-helpers";
import { PERSONAS, type PortalFixture, portalFixture } from "./portal-fixture";

const CDN = "http://127.0.0.1:8837/insp-live-recordings";
/** The sfu-node the class object told to record (every row below names it, as the object's rows do). */
const RECORDER = "node-recorder";
const recorderKey = newNodeKey(RECORDER);

/** A progress report as the recording sfu-node sends it, signed by its key (or sent with `authorization`). */
async function report(recordingId: string, body: unknown, authorization?: string | null, key?: TestNodeKey) {
  const signer = await enrol(key ?? (await recorderKey));
  const path = `/api/fleet/recordings/${recordingId}`;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== null) headers.authorization = authorization ?? (await signer.authorization("POST", path));
  return app.request(path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) }, fleetEnv);
}

/** A recording row as the class's Durable Object creates it when the teacher presses record. */
async function insertRecording(classId: string, overrides: Partial<typeof recordings.$inferInsert> = {}) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await db.insert(recordings).values({ id, classId, startedAt: now - 60_000, nodeId: RECORDER, createdAt: now, updatedAt: now, ...overrides });
  return id;
}

const readyFields = (id: string) => ({
  status: "ready",
  progress: 100,
  hlsManifestUrl: `${CDN}/${id}/hls/master.m3u8`,
  dashManifestUrl: `${CDN}/${id}/dash/manifest.mpd`,
  posterUrl: `${CDN}/${id}/poster.jpg`,
  thumbnailsVttUrl: `${CDN}/${id}/thumbnails.vtt`,
});

async function rowOf(id: string) {
  return db.query.recordings.findFirst({ where: eq(recordings.id, id) });
}

describe("recording progress from the node", () => {
  it("walks recording → composing → uploading → packaging → ready and the row shows each step", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId);
    const endedAt = Date.now();
    expect((await report(id, { status: "composing", progress: 0, endedAt, durationMs: 60_000 })).status).toBe(200);
    expect(await rowOf(id)).toMatchObject({ status: "composing", progress: 0, endedAt, durationMs: 60_000 });
    expect((await report(id, { status: "composing", progress: 55 })).status).toBe(200);
    expect((await report(id, { status: "uploading", progress: 10, sourceKey: `classes/${f.classId}/recordings/${id}/source.mp4` })).status).toBe(200);
    expect((await report(id, { status: "packaging", progress: 40 })).status).toBe(200);
    expect(await rowOf(id)).toMatchObject({ status: "packaging", progress: 40, sourceKey: `classes/${f.classId}/recordings/${id}/source.mp4` });
    const ready = await report(id, readyFields(id));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ recording: { id, status: "ready", progress: 100 } });

    const seen = await api(`/api/recordings/${id}`, { as: f.enrolled });
    expect(seen.status).toBe(200);
    const { recording } = await seen.json<RecordingResponse>();
    expect(recording).toMatchObject({ id, classId: f.classId, classTitle: "Fixture class", durationMs: 60_000, endedAt, ...readyFields(id) });
    expect(recording.teacher).toEqual({ id: f.teacher.id, displayName: "teacher" });
  });

  it("never goes backwards: an earlier status or lower progress is refused and changes nothing", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "uploading", progress: 50 });
    const back = await report(id, { status: "composing", progress: 90 });
    expect(back.status).toBe(409);
    expect(await back.json()).toMatchObject({ error: { code: "CONFLICT" } });
    const lower = await report(id, { status: "uploading", progress: 49 });
    expect(lower.status).toBe(409);
    expect(await rowOf(id)).toMatchObject({ status: "uploading", progress: 50 });
  });

  it("keeps ready and failed final, but answers a retried final report the same way", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "packaging", progress: 90 });
    expect((await report(id, readyFields(id))).status).toBe(200);
    expect((await report(id, readyFields(id))).status).toBe(200);
    const failAfterReady = await report(id, { status: "failed", progress: 0, failureReason: "late failure" });
    expect(failAfterReady.status).toBe(409);
    expect(await rowOf(id)).toMatchObject({ status: "ready", failureReason: null });

    const failedId = await insertRecording(f.classId, { status: "composing", progress: 20 });
    expect((await report(failedId, { status: "failed", progress: 0, failureReason: "FFmpeg could not read the video track" })).status).toBe(200);
    expect(await rowOf(failedId)).toMatchObject({ status: "failed", failureReason: "FFmpeg could not read the video track" });
    expect((await report(failedId, { status: "packaging", progress: 0 })).status).toBe(409);
  });

  it("refuses a missing or wrong node token and an unknown recording", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId);
    expect((await report(id, { status: "composing", progress: 1 }, null)).status).toBe(401);
    expect((await report(id, { status: "composing", progress: 1 }, "Bearer wrong-credential-value")).status).toBe(401);
    // A token the recorder signed for another recording's report does not carry this one.
    const elsewhere = await (await recorderKey).authorization("POST", `/api/fleet/recordings/${crypto.randomUUID()}`);
    expect((await report(id, { status: "composing", progress: 1 }, elsewhere)).status).toBe(401);
    // A signed-in teacher's cookie is no node token.
    const asTeacher = await app.request(
      `/api/fleet/recordings/${id}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", cookie: await sessionCookie(f.teacher) },
        body: JSON.stringify({ status: "composing", progress: 1 }),
      },
      fleetEnv,
    );
    expect(asTeacher.status).toBe(401);
    expect(await rowOf(id)).toMatchObject({ status: "recording", progress: 0 });
    const unknown = await report(crypto.randomUUID(), { status: "composing", progress: 1 });
    expect(unknown.status).toBe(404);
  });

  it("takes reports on a recording from the node that records it only", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId);
    const otherNode = await enrolledNode("node-not-recording");
    const refused = await report(id, { status: "failed", progress: 0, failureReason: "forged by another node" }, undefined, otherNode);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect(await rowOf(id)).toMatchObject({ status: "recording", progress: 0, failureReason: null });
    expect((await report(id, { status: "composing", progress: 5 })).status).toBe(200);

    // A row from before recordings named their node is taken from any enrolled node.
    const legacy = await insertRecording(f.classId, { nodeId: null });
    expect((await report(legacy, { status: "composing", progress: 5 }, undefined, otherNode)).status).toBe(200);
  });

  it.each([
    ["unknown status", { status: "done", progress: 100 }],
    ["progress above 100", { status: "composing", progress: 101 }],
    ["fractional progress", { status: "composing", progress: 1.5 }],
    ["negative progress", { status: "composing", progress: -1 }],
    ["unknown field", { status: "composing", progress: 1, owner: "me" }],
    ["failed without a reason", { status: "failed", progress: 0 }],
    ["ready below 100", { status: "ready", progress: 99, hlsManifestUrl: "http://cdn.example/a.m3u8" }],
    ["ready without any manifest", { status: "ready", progress: 100, posterUrl: "http://cdn.example/p.jpg" }],
    ["a javascript: URL", { status: "packaging", progress: 1, posterUrl: "javascript:alert(1)" }],
    ["a URL with credentials", { status: "packaging", progress: 1, posterUrl: "http://user:pw@cdn.example/p.jpg" }],
    ["malformed JSON", "{status:"],
  ])("refuses bad input (%s) and changes nothing", async (_name, body) => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "composing", progress: 0 });
    const res = await report(id, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    expect(await rowOf(id)).toMatchObject({ status: "composing", progress: 0, posterUrl: null, failureReason: null });
  });
});

/** Expected status per persona: anonymous, student, enrolled, teacher, otherTeacher, admin. */
type Matrix = [number, number, number, number, number, number];

describe("recordings nobody will report on again (the cron's sweep)", () => {
  it("fails a stopped recording its node never composed, and one stuck in processing, with reasons; leaves live and fresh ones alone", async () => {
    const f = await portalFixture();
    const now = Date.now();
    const old = now - STOPPED_UNREPORTED_MS - 60_000;
    const stoppedLongAgo = await insertRecording(f.classId, { endedAt: old, updatedAt: old });
    const stoppedJustNow = await insertRecording(f.classId, { endedAt: now - 60_000, updatedAt: now - 60_000 });
    const stillRecording = await insertRecording(f.classId, { startedAt: old, updatedAt: old });
    const silentPackaging = await insertRecording(f.classId, { status: "packaging", endedAt: old, updatedAt: now - PROCESSING_SILENT_MS - 60_000 });
    const busyPackaging = await insertRecording(f.classId, { status: "packaging", endedAt: old, updatedAt: now - 60_000 });
    const ready = await insertRecording(f.classId, { status: "ready", progress: 100, endedAt: old, updatedAt: old });

    expect(await failAbandonedRecordings(db, now)).toBe(2);
    expect(await rowOf(stoppedLongAgo)).toMatchObject({ status: "failed", failureReason: ABANDONED_STOPPED_REASON });
    expect(await rowOf(silentPackaging)).toMatchObject({ status: "failed", failureReason: ABANDONED_PROCESSING_REASON });
    for (const id of [stoppedJustNow, stillRecording]) expect((await rowOf(id))!.status).toBe("recording");
    expect((await rowOf(busyPackaging))!.status).toBe("packaging");
    expect((await rowOf(ready))!.status).toBe("ready");
    // A failed row can be deleted by its teacher (a row left "recording" could not).
    const deleted = await api(`/api/recordings/${stoppedLongAgo}`, { as: f.teacher, method: "DELETE" });
    expect(deleted.status).toBeLessThan(300);
  });
});

describe("who sees, deletes and rates recordings", () => {
  const cases: { name: string; request: (f: PortalFixture, id: string) => { method: string; path: string; body?: unknown }; expect: Matrix }[] = [
    {
      name: "GET /api/classes/:id/recordings",
      request: (f) => ({ method: "GET", path: `/api/classes/${f.classId}/recordings` }),
      expect: [401, 403, 200, 200, 403, 200],
    },
    { name: "GET /api/recordings/:id", request: (_f, id) => ({ method: "GET", path: `/api/recordings/${id}` }), expect: [401, 403, 200, 200, 403, 200] },
    { name: "DELETE /api/recordings/:id", request: (_f, id) => ({ method: "DELETE", path: `/api/recordings/${id}` }), expect: [401, 403, 403, 204, 403, 204] },
    {
      name: "PUT /api/recordings/:id/feedback",
      request: (_f, id) => ({ method: "PUT", path: `/api/recordings/${id}/feedback`, body: { rating: 4 } }),
      expect: [401, 403, 200, 403, 403, 403],
    },
    {
      name: "PATCH /api/recordings/:id",
      request: (_f, id) => ({ method: "PATCH", path: `/api/recordings/${id}`, body: { title: "Week 3" } }),
      expect: [401, 403, 403, 200, 403, 200],
    },
    {
      name: "GET /api/recordings/:id/feedback",
      request: (_f, id) => ({ method: "GET", path: `/api/recordings/${id}/feedback` }),
      expect: [401, 403, 200, 200, 403, 200],
    },
  ];
  for (const testCase of cases) {
    it.each(PERSONAS.map((persona, index) => [persona, testCase.expect[index]!] as const))(`${testCase.name} as %s → %i`, async (persona, status) => {
      const f = await portalFixture();
      const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
      const { method, path, body } = testCase.request(f, id);
      const res = await api(path, { method, body, as: f.personas[persona] });
      expect(res.status).toBe(status);
      if (method === "DELETE") expect(Boolean(await rowOf(id))).toBe(status !== 204);
    });
  }

  it("hides recordings of an archived class from people who cannot see the class", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
    await db.update(classes).set({ status: "archived" }).where(eq(classes.id, f.classId));
    expect((await api(`/api/recordings/${id}`, { as: f.student })).status).toBe(404);
    expect((await api(`/api/recordings/${id}`, { as: f.enrolled })).status).toBe(200);
  });

  it("keeps a class-blocked student out even though they are enrolled", async () => {
    const f = await portalFixture();
    await db.insert(enrollments).values({ classId: f.classId, userId: f.classBlocked.id, createdAt: Date.now() });
    const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
    expect((await api(`/api/recordings/${id}`, { as: f.classBlocked })).status).toBe(403);
    expect((await api(`/api/classes/${f.classId}/recordings`, { as: f.classBlocked })).status).toBe(403);
    const catalog = await (await api(`/api/recordings`, { as: f.classBlocked })).json<RecordingCatalogResponse>();
    expect(catalog.recordings.map((r) => r.id)).not.toContain(id);
  });

  it("lists a class's recordings newest first with their live status and progress", async () => {
    const f = await portalFixture();
    const older = await insertRecording(f.classId, {
      status: "ready",
      progress: 100,
      startedAt: Date.now() - 7_200_000,
      hlsManifestUrl: `${CDN}/o/hls/master.m3u8`,
    });
    const newer = await insertRecording(f.classId, { status: "packaging", progress: 35, startedAt: Date.now() - 60_000 });
    const res = await api(`/api/classes/${f.classId}/recordings`, { as: f.enrolled });
    const { recordings: list } = await res.json<RecordingListResponse>();
    expect(list.map((r) => [r.id, r.status, r.progress])).toEqual([
      [newer, "packaging", 35],
      [older, "ready", 100],
    ]);
    expect(list.every((r) => r.canManage === false)).toBe(true);
    const asTeacher = await (await api(`/api/classes/${f.classId}/recordings`, { as: f.teacher })).json<RecordingListResponse>();
    expect(asTeacher.recordings.every((r) => r.canManage)).toBe(true);
  });

  it("refuses to delete a recording that is still running, and deletes its ratings with it", async () => {
    const f = await portalFixture();
    const running = await insertRecording(f.classId);
    const refused = await api(`/api/recordings/${running}`, { method: "DELETE", as: f.teacher });
    expect(refused.status).toBe(409);
    expect(await rowOf(running)).toBeTruthy();

    const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
    expect((await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body: { rating: 5 } })).status).toBe(200);
    expect((await api(`/api/recordings/${id}`, { method: "DELETE", as: f.teacher })).status).toBe(204);
    expect(await db.select().from(feedback).where(eq(feedback.targetId, id))).toEqual([]);
    expect((await api(`/api/recordings/${id}`, { as: f.teacher })).status).toBe(404);
  });
});

describe("rating a recording", () => {
  it("stores one rating per student, replaces it on a second rating, and shows the average", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
    expect((await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body: { rating: 2, comment: "Audio was quiet" } })).status).toBe(200);
    expect((await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body: { rating: 4 } })).status).toBe(200);
    expect((await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.victim, body: { rating: 5 } })).status).toBe(200);
    const { recording } = await (await api(`/api/recordings/${id}`, { as: f.enrolled })).json<RecordingResponse>();
    expect(recording.rating).toEqual({ average: 4.5, count: 2 });
    expect(recording.myRating).toEqual({ rating: 4, comment: "" });
    // The class's own rating is untouched by ratings of its recordings.
    const rows = await db.select().from(feedback).where(eq(feedback.classId, f.classId));
    expect(rows.every((row) => row.targetType === "recording")).toBe(true);
  });

  it("the class's teacher reads the comments on a recording, students only the figures; the teacher renames it", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/x/hls/master.m3u8` });
    await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body: { rating: 2, comment: "Audio was quiet" } });
    await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.victim, body: { rating: 4 } });
    const forTeacher = await (await api(`/api/recordings/${id}/feedback`, { as: f.teacher })).json<FeedbackSummary>();
    expect(forTeacher).toMatchObject({ average: 3, count: 2, distribution: [0, 1, 0, 1, 0] });
    expect(forTeacher.comments?.map((c) => [c.displayName, c.rating, c.comment])).toEqual([[f.enrolled.displayName, 2, "Audio was quiet"]]);
    const forStudent = await (await api(`/api/recordings/${id}/feedback`, { as: f.victim })).json<FeedbackSummary>();
    expect(forStudent.comments).toBeUndefined();

    const renamed = await api(`/api/recordings/${id}`, { method: "PATCH", as: f.teacher, body: { title: "  Week 3: vectors  " } });
    expect(((await renamed.json()) as RecordingResponse).recording.title).toBe("Week 3: vectors");
    const tooLong = await api(`/api/recordings/${id}`, { method: "PATCH", as: f.teacher, body: { title: "x".repeat(201) } });
    expect(tooLong.status).toBe(400);
    expect((await rowOf(id))?.title).toBe("Week 3: vectors");
  });

  it("waits until the recording is ready and refuses bad ratings", async () => {
    const f = await portalFixture();
    const id = await insertRecording(f.classId, { status: "packaging", progress: 10 });
    const early = await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body: { rating: 5 } });
    expect(early.status).toBe(409);
    for (const body of [{ rating: 6 }, { rating: 0 }, { rating: 3.5 }, { rating: 3, extra: true }, {}]) {
      const res = await api(`/api/recordings/${id}/feedback`, { method: "PUT", as: f.enrolled, body });
      expect(res.status).toBe(400);
    }
    expect(await db.select().from(feedback).where(eq(feedback.targetId, id))).toEqual([]);
  });
});

describe("recordings catalog", () => {
  it("lists ready recordings of the viewer's classes only, searchable by title, in pages", async () => {
    const f = await portalFixture();
    const title = `Catalog ${crypto.randomUUID().slice(0, 8)}`;
    await db.update(classes).set({ title }).where(eq(classes.id, f.classId));
    const ready = await insertRecording(f.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/r/hls/master.m3u8` });
    const processing = await insertRecording(f.classId, { status: "packaging", progress: 10 });
    const other = await portalFixture();
    const foreign = await insertRecording(other.classId, { status: "ready", progress: 100, hlsManifestUrl: `${CDN}/f/hls/master.m3u8` });

    const mine = await (await api(`/api/recordings?q=${encodeURIComponent(title.toLowerCase())}`, { as: f.enrolled })).json<RecordingCatalogResponse>();
    expect(mine.recordings.map((r) => r.id)).toEqual([ready]);
    expect(mine).toMatchObject({ page: 1, hasMore: false });
    const all = await (await api(`/api/recordings`, { as: f.enrolled })).json<RecordingCatalogResponse>();
    expect(all.recordings.map((r) => r.id)).toContain(ready);
    expect(all.recordings.map((r) => r.id)).not.toContain(processing);
    expect(all.recordings.map((r) => r.id)).not.toContain(foreign);
    const stranger = await (await api(`/api/recordings?q=${encodeURIComponent(title)}`, { as: f.student })).json<RecordingCatalogResponse>();
    expect(stranger.recordings).toEqual([]);
    const admin = await (await api(`/api/recordings?q=${encodeURIComponent(title)}`, { as: f.admin })).json<RecordingCatalogResponse>();
    expect(admin.recordings.map((r) => r.id)).toEqual([ready]);
    // LIKE wildcards in the query are matched literally.
    const wildcard = await (await api(`/api/recordings?q=%25`, { as: f.enrolled })).json<RecordingCatalogResponse>();
    expect(wildcard.recordings).toEqual([]);
  });

  it("pages through many recordings", async () => {
    const f = await portalFixture();
    const title = `Paged ${crypto.randomUUID().slice(0, 8)}`;
    await db.update(classes).set({ title }).where(eq(classes.id, f.classId));
    const ids = [];
    for (let i = 0; i < 30; i++)
      ids.push(await insertRecording(f.classId, { status: "ready", progress: 100, startedAt: 1_000_000 + i, hlsManifestUrl: `${CDN}/${i}/hls/master.m3u8` }));
    const first = await (await api(`/api/recordings?q=${encodeURIComponent(title)}`, { as: f.teacher })).json<RecordingCatalogResponse>();
    const second = await (await api(`/api/recordings?q=${encodeURIComponent(title)}&page=2`, { as: f.teacher })).json<RecordingCatalogResponse>();
    expect(first.recordings).toHaveLength(24);
    expect(first.hasMore).toBe(true);
    expect(second.recordings).toHaveLength(6);
    expect(second.hasMore).toBe(false);
    expect([...first.recordings, ...second.recordings].map((r) => r.id)).toEqual([...ids].reverse());
  });

  it.each(["page=0", "page=abc", "sort=title", `q=${"x".repeat(101)}`])("refuses a bad query (%s)", async (query) => {
    const f = await portalFixture();
    const res = await api(`/api/recordings?${query}`, { as: f.enrolled });
    expect(res.status).toBe(400);
  });
});
