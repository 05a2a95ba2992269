import { and, asc, desc, eq, gt, lt, ne, or, type SQL, sql } from "drizzle-orm";
import { Hono } from "hono";
import { FeedbackPutSchema, IdSchema } from "../../schema/api/portal";
import {
  FINAL_RECORDING_STATUSES,
  FleetRecordingUpdateSchema,
  RECORDING_CATALOG_PAGE_SIZE,
  RECORDING_STATUS_RANK,
  RecordingCatalogQuerySchema,
  type RecordingNeighbours,
  type RecordingResponse,
  RecordingUpdateSchema,
  type RecordingFeedbackView,
  type RecordingView,
} from "../../schema/api/recordings";
import { blocks, type ClassRow, classes, enrollments, feedback, type Recording, recordings, type User, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { activeBlock, requireUser } from "../auth/session";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { requireNode } from "../fleet/node-auth";
import { isEnrolled, loadVisibleClass } from "../portal/classes";
import { feedbackSummary } from "../portal/feedback";
import { roundRating } from "../portal/mapping";
import { canManageClass, canViewClass, requireManageClass } from "../portal/permissions";
import { mayDownload, sourceUrlOf } from "../portal/recording-download";
import { claimRescue } from "../portal/recording-rescue";
import { loadRecordingRow } from "../portal/recording-row";
import { jsonBody, parse, queryParams } from "../validate";

/**
 * Recordings: rows are created by the class's Durable Object when a teacher starts recording (one per recorded
 * interval); the sfu-node that records reports each step here; users list, watch, rate and delete them.
 *
 * Who sees a class's recordings: its teacher, admins, and students enrolled in it (not blocked from it).
 * Students see them in every status, so a class page shows a recording being processed as it happens.
 */
export const recordingsRoutes = new Hono<AppEnv>();

// ─── node → Worker ──────────────────────────────────────────────────────────────────────────────────────────

recordingsRoutes.post("/api/fleet/recordings/:id", async (c) => {
  const nodeId = await requireNode(c);
  const id = parse(IdSchema, c.req.param("id"));
  const update = await jsonBody(c, FleetRecordingUpdateSchema);
  const current = await loadRecordingRow(c.var.db, id);
  // Only the node the class object told to record it reports on it; rows from before node_id have no owner.
  if (current.nodeId !== null && current.nodeId !== nodeId) throw new ApiError("FORBIDDEN", "This recording is held by another media server");
  const { status, progress } = update;
  // A retried report that already landed is answered the same way again.
  if (status === current.status && progress === current.progress && FINAL_RECORDING_STATUSES.includes(status))
    return c.json({ recording: { id, status, progress } });
  // A recording given up for lost (its node stopped, a stop it could not honour, the sweep) that its own node
  // brings back finished — it restarted and published what it had kept — becomes watchable after all.
  const revived = isRevival(current, nodeId, status);
  if (FINAL_RECORDING_STATUSES.includes(current.status) && !revived) throw new ApiError("CONFLICT", `The recording is already ${current.status}`);
  if (RECORDING_STATUS_RANK[status] < RECORDING_STATUS_RANK[current.status])
    throw new ApiError("CONFLICT", `A ${current.status} recording cannot go back to ${status}`);
  if (status === current.status && progress < current.progress) throw new ApiError("CONFLICT", `Progress never goes back (${current.progress} → ${progress})`);
  if (status === "ready" && !(update.hlsManifestUrl ?? current.hlsManifestUrl) && !(update.dashManifestUrl ?? current.dashManifestUrl)) {
    throw new ApiError("INVALID_MESSAGE", "A ready recording needs hlsManifestUrl or dashManifestUrl");
  }
  const { failureReason, ...fields } = update;
  // Only if nobody moved it meanwhile: two reports racing must not let the older one win.
  const [row] = await c.var.db
    .update(recordings)
    // A revived row drops the reason it failed with; the report may bring a note of its own (it ended early).
    .set({ ...fields, ...(failureReason ? { failureReason } : revived ? { failureReason: null } : {}), updatedAt: Date.now() })
    .where(and(eq(recordings.id, id), eq(recordings.status, current.status), eq(recordings.progress, current.progress)))
    .returning({ id: recordings.id, status: recordings.status, progress: recordings.progress });
  if (!row) throw new ApiError("CONFLICT", "The recording changed meanwhile; send the latest state again");
  return c.json({ recording: row });
});

/** A node takes a recording whose node went away with it, to finish it from its segments (portal/recording-rescue.ts). */
recordingsRoutes.post("/api/fleet/recordings/:id/rescue", async (c) => {
  const nodeId = await requireNode(c);
  const id = parse(IdSchema, c.req.param("id"));
  return c.json(await claimRescue(c.var.db, nodeId, id, Date.now()));
});

/**
 * `failed` → `ready` is the one way out of a final status: only for a finished recording (the ready report, with
 * its manifests checked below) from the node named on the row; rows without a node cannot be revived.
 */
function isRevival(current: Recording, nodeId: string, status: string): boolean {
  return current.status === "failed" && status === "ready" && current.nodeId !== null && current.nodeId === nodeId;
}

// ─── users ──────────────────────────────────────────────────────────────────────────────────────────────────

recordingsRoutes.get("/api/classes/:id/recordings", async (c) => {
  const user = requireUser(c);
  const { cls, enrolled } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  await requireRecordingAccess(c.var.db, user, cls, enrolled);
  const rows = await viewSelect(c.var.db, user).where(eq(recordings.classId, cls.id)).orderBy(desc(recordings.startedAt), desc(recordings.id)).limit(500);
  return c.json({ recordings: rows.map(toView) });
});

recordingsRoutes.get("/api/recordings", async (c) => {
  const user = requireUser(c);
  const query = queryParams(c, RecordingCatalogQuerySchema);
  const page = query.page ?? 1;
  const now = Date.now();
  const mayWatch: SQL | undefined =
    user.role === "admin"
      ? undefined
      : and(
          or(
            eq(classes.teacherId, user.id),
            sql`exists(select 1 from ${enrollments} where ${enrollments.classId} = ${classes.id} and ${enrollments.userId} = ${user.id})`,
          ),
          sql`not exists(select 1 from ${blocks} where ${blocks.userId} = ${user.id} and ${blocks.classId} = ${classes.id} and ${blocks.liftedAt} is null and (${blocks.expiresAt} is null or ${blocks.expiresAt} > ${now}))`,
        );
  const search = query.q ? `%${query.q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : null;
  const matches = search ? sql`(lower(${classes.title}) like ${search} escape '\\' or lower(${recordings.title}) like ${search} escape '\\')` : undefined;
  const rows = await viewSelect(c.var.db, user)
    .where(and(eq(recordings.status, "ready"), mayWatch, matches))
    .orderBy(desc(recordings.startedAt), desc(recordings.id))
    .limit(RECORDING_CATALOG_PAGE_SIZE + 1)
    .offset((page - 1) * RECORDING_CATALOG_PAGE_SIZE);
  return c.json({ recordings: rows.slice(0, RECORDING_CATALOG_PAGE_SIZE).map(toView), page, hasMore: rows.length > RECORDING_CATALOG_PAGE_SIZE });
});

recordingsRoutes.get("/api/recordings/:id", async (c) => {
  const user = requireUser(c);
  const { recording } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  return c.json({ recording, neighbours: await sessionNeighbours(c.var.db, recording.id) } satisfies RecordingResponse);
});

/**
 * The recordings of the same live session just before and after `id`, by start (whoever may watch one may watch
 * every recording of its class). None for a recording without a session.
 */
async function sessionNeighbours(db: Db, id: string): Promise<RecordingNeighbours> {
  const row = await loadRecordingRow(db, id);
  if (!row.sessionId) return { previous: null, next: null };
  const link = { id: recordings.id, title: recordings.title, status: recordings.status, startedAt: recordings.startedAt, durationMs: recordings.durationMs };
  const ofSession = and(eq(recordings.sessionId, row.sessionId), ne(recordings.id, row.id));
  /** The nearest recording of the session after `row` (`later`) or before it, by start then id. */
  const nearest = async (later: boolean) => {
    const beyond = later ? gt : lt;
    const order = later ? asc : desc;
    const [found] = await db
      .select(link)
      .from(recordings)
      .where(and(ofSession, or(beyond(recordings.startedAt, row.startedAt), and(eq(recordings.startedAt, row.startedAt), beyond(recordings.id, row.id)))))
      .orderBy(order(recordings.startedAt), order(recordings.id))
      .limit(1);
    return found ?? null;
  };
  return { previous: await nearest(false), next: await nearest(true) };
}

recordingsRoutes.delete("/api/recordings/:id", async (c) => {
  const user = requireUser(c);
  const row = await loadRecordingRow(c.var.db, parse(IdSchema, c.req.param("id")));
  const { cls } = await loadVisibleClass(c.var.db, user, row.classId);
  requireManageClass(user, cls);
  if (row.status === "recording") throw new ApiError("CONFLICT", "Stop the recording in the classroom before deleting it");
  // The row and its ratings go together. Its files stay in the bucket for its lifecycle rule to expire.
  await c.var.db.batch([
    c.var.db.delete(feedback).where(and(eq(feedback.targetType, "recording"), eq(feedback.targetId, row.id))),
    c.var.db.delete(recordings).where(eq(recordings.id, row.id)),
  ]);
  return c.body(null, 204);
});

recordingsRoutes.patch("/api/recordings/:id", async (c) => {
  const user = requireUser(c);
  const row = await loadRecordingRow(c.var.db, parse(IdSchema, c.req.param("id")));
  const { cls } = await loadVisibleClass(c.var.db, user, row.classId);
  requireManageClass(user, cls);
  const body = await jsonBody(c, RecordingUpdateSchema);
  await c.var.db.update(recordings).set({ title: body.title, updatedAt: Date.now() }).where(eq(recordings.id, row.id));
  const { recording } = await loadWatchableRecording(c.var.db, user, row.id);
  return c.json({ recording });
});

/** Ratings of a recording; its class's teacher and admins also read the comments. */
recordingsRoutes.get("/api/recordings/:id/feedback", async (c) => {
  const user = requireUser(c);
  const { recording, cls } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  return c.json(await feedbackSummary(c.var.db, { type: "recording", id: recording.id }, canManageClass(user, cls)));
});

recordingsRoutes.put("/api/recordings/:id/feedback", async (c) => {
  const user = requireUser(c);
  const { recording, cls } = await loadWatchableRecording(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const body = await jsonBody(c, FeedbackPutSchema);
  if (!recording.canRate) {
    if (canManageClass(user, cls) || !(await isEnrolled(c.var.db, cls.id, user.id)))
      throw new ApiError("FORBIDDEN", "Only students enrolled in this class may rate its recordings");
    throw new ApiError("CONFLICT", "Rate this recording once it is ready to watch");
  }
  const now = Date.now();
  const comment = body.comment ?? "";
  const [row] = await c.var.db
    .insert(feedback)
    .values({
      id: crypto.randomUUID(),
      userId: user.id,
      classId: cls.id,
      targetType: "recording",
      targetId: recording.id,
      rating: body.rating,
      comment,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({ target: [feedback.userId, feedback.targetType, feedback.targetId], set: { rating: body.rating, comment, updatedAt: now } })
    .returning();
  const view: RecordingFeedbackView = {
    recordingId: recording.id,
    rating: row!.rating,
    comment: row!.comment,
    createdAt: row!.createdAt,
    updatedAt: row!.updatedAt,
  };
  return c.json({ feedback: view });
});

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────────────────

const ofRecording = sql`${feedback.targetType} = 'recording' and ${feedback.targetId} = ${recordings.id}`;

/** Recording rows with their class, teacher, rating aggregate and the viewer's rating and standing, in one query. */
function viewSelect(db: Db, viewer: User) {
  const now = Date.now();
  return db
    .select({
      recording: recordings,
      classTitle: classes.title,
      classTeacherId: classes.teacherId,
      classDownloads: classes.recordingDownloads,
      teacher: { id: users.id, displayName: users.displayName },
      ratingAverage: sql<number | null>`(select avg(${feedback.rating}) from ${feedback} where ${ofRecording})`,
      ratingCount: sql<number>`(select count(*) from ${feedback} where ${ofRecording})`,
      myRating: sql<
        string | null
      >`(select json_object('rating', ${feedback.rating}, 'comment', ${feedback.comment}) from ${feedback} where ${ofRecording} and ${feedback.userId} = ${viewer.id})`,
      enrolled: sql<number>`exists(select 1 from ${enrollments} where ${enrollments.classId} = ${classes.id} and ${enrollments.userId} = ${viewer.id})`,
      blocked: sql<number>`exists(select 1 from ${blocks} where ${blocks.userId} = ${viewer.id} and ${blocks.classId} = ${classes.id} and ${blocks.liftedAt} is null and (${blocks.expiresAt} is null or ${blocks.expiresAt} > ${now}))`,
      viewerId: sql<string>`${viewer.id}`,
      viewerRole: sql<string>`${viewer.role}`,
    })
    .from(recordings)
    .innerJoin(classes, eq(classes.id, recordings.classId))
    .innerJoin(users, eq(users.id, classes.teacherId));
}

type ViewRow = Awaited<ReturnType<ReturnType<typeof viewSelect>["all"]>>[number];

function toView(row: ViewRow): RecordingView {
  const r: Recording = row.recording;
  const manages = canManageClass({ id: row.viewerId, role: row.viewerRole as User["role"] }, { teacherId: row.classTeacherId });
  const myRating = row.myRating ? (JSON.parse(row.myRating) as { rating: number; comment: string }) : null;
  return {
    id: r.id,
    classId: r.classId,
    classTitle: row.classTitle,
    teacher: row.teacher,
    title: r.title,
    status: r.status,
    progress: r.progress,
    failureReason: r.failureReason,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    playableUrl: r.playableUrl,
    hlsManifestUrl: r.hlsManifestUrl,
    dashManifestUrl: r.dashManifestUrl,
    posterUrl: r.posterUrl,
    thumbnailsVttUrl: r.thumbnailsVttUrl,
    rating: { average: roundRating(row.ratingAverage), count: row.ratingCount },
    myRating,
    canRate: r.status === "ready" && Boolean(row.enrolled) && !row.blocked && row.viewerId !== row.classTeacherId,
    canManage: manages,
    canDownload: sourceUrlOf(r) !== null && mayDownload({ manages, enrolled: Boolean(row.enrolled), blocked: Boolean(row.blocked) }, row.classDownloads),
  };
}

/** FORBIDDEN unless `user` may watch the recordings of `cls` (teacher, admin, or an enrolled student not blocked from it). */
async function requireRecordingAccess(db: Db, user: User, cls: ClassRow, enrolled: boolean): Promise<void> {
  if (canManageClass(user, cls)) return;
  if (!enrolled) throw new ApiError("FORBIDDEN", "Enroll in this class to watch its recordings");
  if (await activeBlock(db, user.id, cls.id)) throw new ApiError("FORBIDDEN", "You are blocked from this class");
}

/** The recording as `user` sees it, after checking they may watch it (NOT_FOUND hides classes they cannot see). */
export async function loadWatchableRecording(db: Db, user: User, id: string): Promise<{ recording: RecordingView; cls: ClassRow }> {
  const row = await loadRecordingRow(db, id);
  const cls = await db.query.classes.findFirst({ where: eq(classes.id, row.classId) });
  if (!cls) throw new ApiError("NOT_FOUND", "No such recording");
  const enrolled = await isEnrolled(db, cls.id, user.id);
  if (!canViewClass(user, cls, enrolled)) throw new ApiError("NOT_FOUND", "No such recording");
  await requireRecordingAccess(db, user, cls, enrolled);
  const [view] = await viewSelect(db, user).where(eq(recordings.id, id)).limit(1);
  if (!view) throw new ApiError("NOT_FOUND", "No such recording");
  return { recording: toView(view), cls };
}
