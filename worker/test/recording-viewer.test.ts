import { env, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { ClassResponse } from "../../schema/api/portal";
import {
  DOWNLOAD_TOKEN_AUDIENCE,
  type ChaptersResponse,
  type DownloadLinkResponse,
  type PositionResponse,
  type ReplayChatResponse,
} from "../../schema/api/recording-viewer";
import type { RecordingResponse } from "../../schema/api/recordings";
import { chatMessages, classMarks, enrollments, liveSessions, recordingPositions, recordings, type User } from "../../schema/db";
import { signWithWorkerKey } from "../../schema/tokens/worker-key";
import { api, db, ORIGIN } from "./helpers";
import { portalFixture } from "./portal-fixture";
import { STORED_SOURCE_BYTES, storedSource } from "./recording-store-bytes";

const store = inject("recordingStoreUrl");
const STARTED_AT = Date.UTC(2026, 2, 14, 9, 30);
const DURATION_MS = 60_000;

/** A recording as the node leaves it once packaged: its files under one prefix of the store, the source among them. */
async function readyRecording(classId: string, overrides: Partial<typeof recordings.$inferInsert> = {}) {
  const id = crypto.randomUUID();
  const prefix = `classes/${classId}/recordings/${id}/`;
  await db.insert(recordings).values({
    id,
    classId,
    status: "ready",
    progress: 100,
    startedAt: STARTED_AT,
    endedAt: STARTED_AT + DURATION_MS,
    durationMs: DURATION_MS,
    sourceKey: `${prefix}source.mp4`,
    hlsManifestUrl: `${store}/${prefix}hls/master.m3u8`,
    dashManifestUrl: `${store}/${prefix}dash/manifest.mpd`,
    posterUrl: `${store}/${prefix}poster.jpg`,
    thumbnailsVttUrl: `${store}/${prefix}thumbnails.vtt`,
    createdAt: STARTED_AT,
    updatedAt: STARTED_AT,
    ...overrides,
  });
  return id;
}

/** Opens a download link as a browser tab would: no session cookie, only the link. */
function fetchLink(url: string, headers: Record<string, string> = {}) {
  return SELF.fetch(`${ORIGIN}${url}`, { headers, redirect: "manual" });
}

async function linkFor(recordingId: string, as: User | null) {
  const response = await api(`/api/recordings/${recordingId}/download`, { method: "POST", as });
  expect(response.status).toBe(200);
  return response.json<DownloadLinkResponse>();
}

/** A download token signed with the Worker's key, as the Worker would sign one (or not: `expiresInSeconds` < 0). */
function token(userId: string, recordingId: string, expiresInSeconds = 300) {
  return signWithWorkerKey(
    env.WORKER_SIGNING_KEY,
    { recordingId },
    { issuer: "insp-live-worker", audience: DOWNLOAD_TOKEN_AUDIENCE, subject: userId, expiresInSeconds },
  );
}

async function expectRefused(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-disposition")).toBeNull();
  expect(await response.json()).toMatchObject({ error: { code } });
}

describe("downloading a recording", () => {
  it("gives an enrolled student a short-lived link that sends the whole MP4 as an attachment", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    const seen = await (await api(`/api/recordings/${id}`, { as: f.enrolled })).json<RecordingResponse>();
    expect(seen.recording.canDownload).toBe(true);

    const link = await linkFor(id, f.enrolled);
    expect(link.url).toMatch(new RegExp(`^/api/recordings/${id}/download\\?token=`));
    expect(link.expiresAt).toBeGreaterThan(Date.now() + 60_000);
    expect(link.expiresAt).toBeLessThanOrEqual(Date.now() + 5 * 60_000 + 1_000);

    const file = await fetchLink(link.url);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("video/mp4");
    expect(file.headers.get("content-disposition")).toBe(
      `attachment; filename="Fixture class 2026-03-14.mp4"; filename*=UTF-8''${encodeURIComponent("Fixture class 2026-03-14.mp4")}`,
    );
    expect(file.headers.get("content-length")).toBe(String(STORED_SOURCE_BYTES));
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(storedSource());
  });

  it("names the file after the recording's own title and resumes an interrupted download with a range", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId, { title: "Élan: vectors / part 2" });
    const link = await linkFor(id, f.teacher);
    const file = await fetchLink(link.url, { range: "bytes=1000-1999" });
    expect(file.status).toBe(206);
    expect(file.headers.get("content-range")).toBe(`bytes 1000-1999/${STORED_SOURCE_BYTES}`);
    expect(file.headers.get("content-disposition")).toBe(
      `attachment; filename="Elan vectors part 2.mp4"; filename*=UTF-8''${encodeURIComponent("Élan vectors part 2.mp4")}`,
    );
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(storedSource().subarray(1000, 2000));
  });

  it("refuses people outside the class, blocked students and links for another recording", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    const other = await readyRecording(f.classId);
    await expectRefused(await api(`/api/recordings/${id}/download`, { method: "POST", as: f.student }), 403, "FORBIDDEN");
    await expectRefused(await api(`/api/recordings/${id}/download`, { method: "POST", as: f.classBlocked }), 403, "FORBIDDEN");
    await expectRefused(await api(`/api/recordings/${id}/download`, { method: "POST" }), 401, "UNAUTHORIZED");
    // A link made out for a non-member (a forged or stale one) still opens nothing: access is decided again.
    await expectRefused(await fetchLink(`/api/recordings/${id}/download?token=${await token(f.student.id, id)}`), 403, "FORBIDDEN");
    // A student who left the class after getting the link.
    const link = await linkFor(id, f.victim);
    await db.delete(enrollments).where(eq(enrollments.userId, f.victim.id));
    await expectRefused(await fetchLink(link.url), 403, "FORBIDDEN");
    // A member's link for one recording does not open another.
    await expectRefused(await fetchLink(`/api/recordings/${other}/download?token=${await token(f.enrolled.id, id)}`), 401, "UNAUTHORIZED");
  });

  it("refuses expired, tampered and missing tokens", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    await expectRefused(await fetchLink(`/api/recordings/${id}/download?token=${await token(f.enrolled.id, id, -10)}`), 401, "UNAUTHORIZED");
    const valid = await token(f.enrolled.id, id);
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const forgedPayload = btoa(JSON.stringify({ ...claims, sub: f.teacher.id }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    await expectRefused(await fetchLink(`/api/recordings/${id}/download?token=${header}.${forgedPayload}.${signature}`), 401, "UNAUTHORIZED");
    await expectRefused(await fetchLink(`/api/recordings/${id}/download?token=${valid.slice(0, -4)}AAAA`), 401, "UNAUTHORIZED");
    await expectRefused(await fetchLink(`/api/recordings/${id}/download`), 400, "INVALID_MESSAGE");
  });

  it("follows the class's switch: students get no link while it is off, the teacher and admins still do", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    const before = await linkFor(id, f.enrolled);

    const off = await api(`/api/classes/${f.classId}`, { method: "PATCH", as: f.teacher, body: { recordingDownloads: false } });
    expect(off.status).toBe(200);
    expect((await off.json<ClassResponse>()).class.recordingDownloads).toBe(false);
    expect((await (await api(`/api/classes/${f.classId}`, { as: f.enrolled })).json<ClassResponse>()).class.recordingDownloads).toBe(false);
    // Only the class's teacher (or an admin) turns it back on.
    expect((await api(`/api/classes/${f.classId}`, { method: "PATCH", as: f.enrolled, body: { recordingDownloads: true } })).status).toBe(403);
    expect((await api(`/api/classes/${f.classId}`, { method: "PATCH", as: f.teacher, body: { recordingDownloads: "no" } })).status).toBe(400);

    expect((await (await api(`/api/recordings/${id}`, { as: f.enrolled })).json<RecordingResponse>()).recording.canDownload).toBe(false);
    await expectRefused(await api(`/api/recordings/${id}/download`, { method: "POST", as: f.enrolled }), 403, "FORBIDDEN");
    // A link made before the switch went off stops working.
    await expectRefused(await fetchLink(before.url), 403, "FORBIDDEN");

    for (const manager of [f.teacher, f.admin]) {
      expect((await (await api(`/api/recordings/${id}`, { as: manager })).json<RecordingResponse>()).recording.canDownload).toBe(true);
      const file = await fetchLink((await linkFor(id, manager)).url);
      expect(file.status).toBe(200);
      expect((await file.arrayBuffer()).byteLength).toBe(STORED_SOURCE_BYTES);
    }
  });

  it("has nothing to download before the composed file is stored", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId, {
      status: "composing",
      progress: 40,
      sourceKey: null,
      hlsManifestUrl: null,
      dashManifestUrl: null,
      posterUrl: null,
      thumbnailsVttUrl: null,
    });
    expect((await (await api(`/api/recordings/${id}`, { as: f.teacher })).json<RecordingResponse>()).recording.canDownload).toBe(false);
    await expectRefused(await api(`/api/recordings/${id}/download`, { method: "POST", as: f.teacher }), 409, "CONFLICT");
  });
});

describe("chapters and chat of a recording", () => {
  async function recordedSession() {
    const f = await portalFixture();
    const sessionId = crypto.randomUUID();
    const otherSessionId = crypto.randomUUID();
    await db.insert(liveSessions).values([
      { id: sessionId, classId: f.classId, startedAt: STARTED_AT - 600_000, endedAt: STARTED_AT + 600_000 },
      { id: otherSessionId, classId: f.classId, startedAt: STARTED_AT - 900_000, endedAt: STARTED_AT - 800_000 },
    ]);
    const id = await readyRecording(f.classId, { sessionId });
    return { f, id, sessionId, otherSessionId };
  }

  it("lists the marks inside the recording in order, as offsets, starting with what was showing at its start", async () => {
    const { f, id, sessionId, otherSessionId } = await recordedSession();
    const mark = (liveSessionId: string, at: number, label: string, kind: "page" | "screen-share" | "blank" = "page") => ({
      id: crypto.randomUUID(),
      classId: f.classId,
      liveSessionId,
      kind,
      label,
      surface: null,
      userId: f.teacher.id,
      at,
    });
    await db
      .insert(classMarks)
      .values([
        mark(otherSessionId, STARTED_AT - 850_000, "Old deck — page 9"),
        mark(sessionId, STARTED_AT - 120_000, "Optics — page 1"),
        mark(sessionId, STARTED_AT - 30_000, "Optics — page 2"),
        mark(sessionId, STARTED_AT + 42_500, "Screen share by Ana", "screen-share"),
        mark(sessionId, STARTED_AT + 12_000, "Whiteboard page 1", "blank"),
        mark(sessionId, STARTED_AT + DURATION_MS + 5_000, "Optics — page 3"),
      ]);
    for (const viewer of [f.enrolled, f.teacher]) {
      const response = await api(`/api/recordings/${id}/chapters`, { as: viewer });
      expect(response.status).toBe(200);
      expect(await response.json<ChaptersResponse>()).toEqual({
        chapters: [
          { atMs: 0, label: "Optics — page 2", kind: "page" },
          { atMs: 12_000, label: "Whiteboard page 1", kind: "blank" },
          { atMs: 42_500, label: "Screen share by Ana", kind: "screen-share" },
        ],
      });
    }
    expect((await api(`/api/recordings/${id}/chapters`, { as: f.student })).status).toBe(403);
  });

  it("gives the session's chat beside the replay, oldest first, without deleted messages", async () => {
    const { f, id, sessionId, otherSessionId } = await recordedSession();
    const message = (session: string, at: number, body: string, extra: Partial<typeof chatMessages.$inferInsert> = {}) => ({
      id: crypto.randomUUID(),
      classId: f.classId,
      sessionId: session,
      userId: f.enrolled.id,
      clientMessageId: crypto.randomUUID(),
      body,
      createdAt: at,
      ...extra,
    });
    await db.insert(chatMessages).values([
      message(sessionId, STARTED_AT + 20_000, "What is a focal length?"),
      message(sessionId, STARTED_AT - 5_000, "Hello everyone", { userId: f.teacher.id }),
      message(sessionId, STARTED_AT + 25_000, "spam", { deletedAt: STARTED_AT + 26_000, deletedBy: f.teacher.id }),
      message(otherSessionId, STARTED_AT - 850_000, "From another day"),
      message(sessionId, STARTED_AT + 30_000, "Here are my notes", {
        attachment: { fileId: "f1", fileName: "notes.pdf", kind: "pdf", contentType: "application/pdf", sizeBytes: 10 },
      }),
    ]);
    const response = await api(`/api/recordings/${id}/chat`, { as: f.enrolled });
    expect(response.status).toBe(200);
    const { messages } = await response.json<ReplayChatResponse>();
    expect(messages.map(({ atMs, author, body, fileName }) => ({ atMs, author: author.displayName, body, fileName }))).toEqual([
      { atMs: -5_000, author: "teacher", body: "Hello everyone", fileName: null },
      { atMs: 20_000, author: "enrolled", body: "What is a focal length?", fileName: null },
      { atMs: 30_000, author: "enrolled", body: "Here are my notes", fileName: "notes.pdf" },
    ]);
    expect((await api(`/api/recordings/${id}/chat`, { as: f.student })).status).toBe(403);
    expect((await api(`/api/recordings/${id}/chat`, { as: f.classBlocked })).status).toBe(403);
  });
});

describe("resume position", () => {
  const put = (id: string, body: unknown, as: User | null) => api(`/api/recordings/${id}/position`, { method: "PUT", as, body });
  const read = async (id: string, as: User | null) => (await api(`/api/recordings/${id}/position`, { as })).json<PositionResponse>();

  it("saves where a viewer stopped and reads it back, per viewer", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    expect(await read(id, f.enrolled)).toEqual({ positionMs: null, updatedAt: null });
    expect((await put(id, { positionMs: 12_345 }, f.enrolled)).status).toBe(200);
    expect(await read(id, f.enrolled)).toMatchObject({ positionMs: 12_345 });
    expect((await put(id, { positionMs: 40_000 }, f.enrolled)).status).toBe(200);
    expect(await read(id, f.enrolled)).toMatchObject({ positionMs: 40_000 });
    // Someone else's position is their own.
    expect(await read(id, f.teacher)).toEqual({ positionMs: null, updatedAt: null });
  });

  it("refuses non-members and bad input, and keeps what was saved", async () => {
    const f = await portalFixture();
    const id = await readyRecording(f.classId);
    expect((await put(id, { positionMs: 5_000 }, f.enrolled)).status).toBe(200);
    expect((await put(id, { positionMs: 5_000 }, f.student)).status).toBe(403);
    expect((await put(id, { positionMs: 5_000 }, f.classBlocked)).status).toBe(403);
    expect((await put(id, { positionMs: 5_000 }, null)).status).toBe(401);
    for (const body of [{ positionMs: -1 }, { positionMs: 1.5 }, { positionMs: "12" }, { positionMs: 1_000, userId: f.teacher.id }, {}, "not json"]) {
      const response = await put(id, body, f.enrolled);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    }
    const pastTheEnd = await put(id, { positionMs: DURATION_MS + 60_000 }, f.enrolled);
    expect(pastTheEnd.status).toBe(400);
    expect(await read(id, f.enrolled)).toMatchObject({ positionMs: 5_000 });
    const rows = await db.select().from(recordingPositions).where(eq(recordingPositions.recordingId, id));
    expect(rows.map((row) => row.userId)).toEqual([f.enrolled.id]);
  });
});
