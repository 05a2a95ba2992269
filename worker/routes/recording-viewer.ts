import { and, asc, desc, eq, gte, isNull, lt, lte, type SQL } from "drizzle-orm";
import { Hono } from "hono";
import { IdSchema } from "../../schema/api/portal";
import {
  type Chapter,
  type ChaptersResponse,
  DOWNLOAD_TOKEN_LIFETIME_SECONDS,
  type DownloadLinkResponse,
  DownloadQuerySchema,
  PositionPutSchema,
  type PositionResponse,
  type ReplayChatResponse,
} from "../../schema/api/recording-viewer";
import { chatMessages, classMarks, type Recording, recordingPositions, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { activeBlock, requireUser } from "../auth/session";
import { ApiError } from "../errors";
import { attachmentDisposition, signDownloadToken, sourceUrlOf, verifyDownloadToken } from "../portal/recording-download";
import { jsonBody, parse, queryParams } from "../validate";
import { loadRecordingRow } from "../portal/recording-row";
import { loadWatchableRecording } from "./recordings";

/**
 * What a viewer gets beside a recording's video (issue 13, "After class"): the MP4 download through a short-lived
 * signed link, the chapters (the class's marks within the recording), the chat of the recorded session, and the
 * position they stopped at. Every route checks first that the caller may watch the recording
 * (`loadWatchableRecording`: the class's teacher, admins, enrolled students not blocked from the class).
 */
export const recordingViewerRoutes = new Hono<AppEnv>();

/** At most this many chapters and chat messages go with one recording (a class of hours has far fewer). */
const MAX_CHAPTERS = 500;
const MAX_REPLAY_MESSAGES = 2_000;
/** A mark this close after the start stands for what was showing at the start; the older state is dropped. */
const START_STATE_SUPERSEDED_MS = 1_000;
/** A saved position may lie this far past the recorded duration (the last segment rounds up), not further. */
const POSITION_SLACK_MS = 5_000;

// ─── download ───────────────────────────────────────────────────────────────────────────────────────────────

recordingViewerRoutes.post("/api/recordings/:id/download", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const row = await loadRecordingRow(c.var.db, recording.id);
  if (sourceUrlOf(row) === null) throw new ApiError("CONFLICT", "This recording has no file to download yet; try again once it is ready");
  if (!recording.canDownload) throw new ApiError("FORBIDDEN", "The teacher has turned off downloads of this class's recordings");
  const token = await signDownloadToken(c.env, user.id, recording.id);
  const body: DownloadLinkResponse = {
    url: `/api/recordings/${encodeURIComponent(recording.id)}/download?token=${encodeURIComponent(token)}`,
    expiresAt: Date.now() + DOWNLOAD_TOKEN_LIFETIME_SECONDS * 1000,
  };
  return c.json(body);
});

/**
 * The file behind a download link. Identity comes from the link's token alone (a download manager or a new tab may
 * not send the session cookie), and who may download is decided again now: a student removed from the class, or
 * whose class turned downloads off, since the link was made gets nothing.
 *
 * The Worker streams the file from the store rather than redirecting there: only its own response can carry
 * `Content-Disposition: attachment` with the recording's name (browsers ignore `download` across origins and the
 * bucket's public URL takes no response-header overrides), and the checks above apply to every byte it sends.
 * Range requests pass through, so an interrupted download resumes.
 */
recordingViewerRoutes.get("/api/recordings/:id/download", async (c) => {
  const id = parse(IdSchema, c.req.param("id"));
  const { token } = queryParams(c, DownloadQuerySchema);
  const claims = await verifyDownloadToken(c.env, token);
  if (!claims || claims.recordingId !== id) throw new ApiError("UNAUTHORIZED", "This download link is not valid or has expired; press Download again");
  const user = await c.var.db.query.users.findFirst({ where: eq(users.id, claims.sub) });
  if (!user) throw new ApiError("UNAUTHORIZED", "This download link is not valid or has expired; press Download again");
  if (await activeBlock(c.var.db, user.id)) throw new ApiError("FORBIDDEN", "Your account is blocked");
  const { recording } = await loadWatchableRecording(c.var.db, user, id);
  const row = await loadRecordingRow(c.var.db, id);
  const source = sourceUrlOf(row);
  if (source === null) throw new ApiError("CONFLICT", "This recording has no file to download yet");
  if (!recording.canDownload) throw new ApiError("FORBIDDEN", "The teacher has turned off downloads of this class's recordings");

  const range = c.req.header("range");
  const upstream = await fetch(source, { headers: range ? { range } : {} }).catch(() => null);
  if (!upstream || (upstream.status !== 200 && upstream.status !== 206) || !upstream.body) {
    console.error(JSON.stringify({ event: "recording_download_failed", recordingId: id, status: upstream?.status ?? null }));
    await upstream?.body?.cancel();
    throw new ApiError("UNAVAILABLE", "The recording's file could not be read from storage; try again in a moment");
  }
  const headers = new Headers({
    "content-type": "video/mp4",
    "content-disposition": attachmentDisposition(recording.title || `${recording.classTitle} ${new Date(recording.startedAt).toISOString().slice(0, 10)}`),
    "cache-control": "private, no-store",
    "accept-ranges": "bytes",
  });
  for (const name of ["content-length", "content-range", "last-modified", "etag"]) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  return new Response(upstream.body, { status: upstream.status, headers });
});

// ─── chapters ───────────────────────────────────────────────────────────────────────────────────────────────

/** When the recording ends, as far as the row knows (still recording: now). */
function endOf(row: Recording): number {
  return row.endedAt ?? (row.durationMs !== null ? row.startedAt + row.durationMs : Date.now());
}

/**
 * The class marks inside the recording, as offsets from its start, in order; first, at 0, what was showing when
 * recording began (the session's last mark before it). Marks of another session of the class are left out.
 */
recordingViewerRoutes.get("/api/recordings/:id/chapters", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const row = await loadRecordingRow(c.var.db, recording.id);
  const ofSession: SQL | undefined = row.sessionId ? eq(classMarks.liveSessionId, row.sessionId) : undefined;
  const fields = { at: classMarks.at, label: classMarks.label, kind: classMarks.kind };
  const [before, inside] = await Promise.all([
    c.var.db
      .select(fields)
      .from(classMarks)
      .where(and(eq(classMarks.classId, row.classId), ofSession, lt(classMarks.at, row.startedAt)))
      .orderBy(desc(classMarks.at), desc(classMarks.id))
      .limit(1),
    c.var.db
      .select(fields)
      .from(classMarks)
      .where(and(eq(classMarks.classId, row.classId), ofSession, gte(classMarks.at, row.startedAt), lte(classMarks.at, endOf(row))))
      .orderBy(asc(classMarks.at), asc(classMarks.id))
      .limit(MAX_CHAPTERS),
  ]);
  const chapters: Chapter[] = inside.map((mark) => ({ atMs: mark.at - row.startedAt, label: mark.label, kind: mark.kind }));
  const startState = before[0];
  if (startState && !(chapters[0] && chapters[0].atMs < START_STATE_SUPERSEDED_MS))
    chapters.unshift({ atMs: 0, label: startState.label, kind: startState.kind });
  const body: ChaptersResponse = { chapters };
  return c.json(body);
});

// ─── chat beside the replay ─────────────────────────────────────────────────────────────────────────────────

/**
 * The chat of the recorded session (a recording from before sessions were linked: the class's chat during it),
 * oldest first, deleted messages left out.
 */
recordingViewerRoutes.get("/api/recordings/:id/chat", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const row = await loadRecordingRow(c.var.db, recording.id);
  const during = row.sessionId
    ? eq(chatMessages.sessionId, row.sessionId)
    : and(gte(chatMessages.createdAt, row.startedAt), lte(chatMessages.createdAt, endOf(row)));
  const rows = await c.var.db
    .select({
      id: chatMessages.id,
      createdAt: chatMessages.createdAt,
      body: chatMessages.body,
      attachment: chatMessages.attachment,
      authorId: users.id,
      authorName: users.displayName,
    })
    .from(chatMessages)
    .innerJoin(users, eq(users.id, chatMessages.userId))
    .where(and(eq(chatMessages.classId, row.classId), during, isNull(chatMessages.deletedAt)))
    .orderBy(asc(chatMessages.createdAt), asc(chatMessages.id))
    .limit(MAX_REPLAY_MESSAGES);
  const body: ReplayChatResponse = {
    messages: rows.map((m) => ({
      id: m.id,
      atMs: m.createdAt - row.startedAt,
      author: { id: m.authorId, displayName: m.authorName },
      body: m.body,
      fileName: m.attachment?.fileName ?? null,
    })),
  };
  return c.json(body);
});

// ─── resume position ────────────────────────────────────────────────────────────────────────────────────────

recordingViewerRoutes.get("/api/recordings/:id/position", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const saved = await c.var.db.query.recordingPositions.findFirst({
    where: and(eq(recordingPositions.userId, user.id), eq(recordingPositions.recordingId, recording.id)),
  });
  const body: PositionResponse = { positionMs: saved?.positionMs ?? null, updatedAt: saved?.updatedAt ?? null };
  return c.json(body);
});

recordingViewerRoutes.put("/api/recordings/:id/position", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const { positionMs } = await jsonBody(c, PositionPutSchema);
  if (recording.durationMs !== null && positionMs > recording.durationMs + POSITION_SLACK_MS)
    throw new ApiError("INVALID_MESSAGE", "positionMs is past the end of the recording", undefined, { positionMs: "Past the end of the recording" });
  const now = Date.now();
  await c.var.db
    .insert(recordingPositions)
    .values({ userId: user.id, recordingId: recording.id, positionMs, updatedAt: now })
    .onConflictDoUpdate({ target: [recordingPositions.userId, recordingPositions.recordingId], set: { positionMs, updatedAt: now } });
  const body: PositionResponse = { positionMs, updatedAt: now };
  return c.json(body);
});
