/**
 * Recordings over HTTP: the progress reports sfu-nodes send while a recording is composed, uploaded and packaged
 * (`POST /api/fleet/recordings/:id`, fleet credential), and what users read (`GET /api/classes/:id/recordings`,
 * `GET /api/recordings/:id`, the catalog `GET /api/recordings`), delete (`DELETE /api/recordings/:id`) and rate
 * (`PUT|GET /api/recordings/:id/feedback`). Shared by the Worker, sfu-node and the web app.
 *
 * Times are UTC milliseconds. Request bodies are strict: unknown fields are refused.
 */
import * as v from "valibot";
import { LIMITS, TimestampSchema } from "./portal";

/** The same list as `RECORDING_STATUSES` in schema/db.ts (kept apart so the web app need not load drizzle). */
export const RECORDING_STATUS_VALUES = ["recording", "composing", "uploading", "packaging", "ready", "failed"] as const;
export type RecordingStatus = (typeof RECORDING_STATUS_VALUES)[number];

/**
 * Where each status sits in a recording's life. A report may keep the status (with progress not lower than
 * before) or move to a later one; `ready` and `failed` are final. `failed` is reachable from every status
 * before it, so it shares the last rank with `ready`. One exception: a `failed` row goes `ready` when the node
 * named on it reports it finished after all (it restarted and published what it had kept).
 */
export const RECORDING_STATUS_RANK: Record<RecordingStatus, number> = {
  recording: 0,
  composing: 1,
  uploading: 2,
  packaging: 3,
  ready: 4,
  failed: 4,
};

/** Statuses after which nothing changes any more. */
export const FINAL_RECORDING_STATUSES: readonly RecordingStatus[] = ["ready", "failed"];

/** A playback URL the browser fetches (http or https, no credentials in it). */
const PlaybackUrlSchema = v.pipe(
  v.string(),
  v.maxLength(2048, "URL is too long"),
  v.url("Not a URL"),
  v.check((url) => /^https?:\/\//i.test(url) && !/^https?:\/\/[^/]*@/i.test(url), "Expected an http(s) URL without credentials"),
);

/** A progress report from the node that records, composes and publishes the recording. */
export const FleetRecordingUpdateSchema = v.pipe(
  v.strictObject({
    status: v.picklist(RECORDING_STATUS_VALUES),
    /** 0–100 within `status`. */
    progress: v.pipe(v.number(), v.integer("Progress is a whole number"), v.minValue(0), v.maxValue(100)),
    /**
     * Required with `failed`: what went wrong, in words a teacher can act on. With `ready`, a note on what is
     * missing ("Recording ended early: the media server restarted"); the recording page shows it.
     */
    failureReason: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(500))),
    durationMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(7 * 24 * 3600_000))),
    endedAt: v.optional(TimestampSchema),
    /** The composed MP4's object key in the recordings bucket. */
    sourceKey: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
    /**
     * An HLS playlist of the pieces composed while the class was recorded, up seconds after the stop: what the
     * recording page plays until the ladder is `ready`.
     */
    playableUrl: v.optional(PlaybackUrlSchema),
    hlsManifestUrl: v.optional(PlaybackUrlSchema),
    dashManifestUrl: v.optional(PlaybackUrlSchema),
    posterUrl: v.optional(PlaybackUrlSchema),
    thumbnailsVttUrl: v.optional(PlaybackUrlSchema),
  }),
  v.check((update) => update.status !== "failed" || update.failureReason !== undefined, "failureReason is required with status failed"),
  v.check((update) => update.status !== "ready" || update.progress === 100, "A ready recording has progress 100"),
);
export type FleetRecordingUpdate = v.InferOutput<typeof FleetRecordingUpdateSchema>;

/**
 * A recording whose node went away with it (its link stayed closed, its process restarted without it, it died
 * while composing) lies in the store as segments (`segments/<classId>/<recordingId>/`, uploaded as each closed).
 * Once that node has been silent for `FLEET_STALE_AFTER_MS`, the Worker offers the recording to another node
 * in a heartbeat answer (`rescue` in schema/protocol/fleet.ts); a node takes it with
 * `POST /api/fleet/recordings/:id/rescue` (the row becomes its own, `composing`), composes the segments and
 * publishes the result as the recording, or reports it failed. Its own node, back, takes it the same way first.
 */
export const FleetRescueClaimResponseSchema = v.object({
  recording: v.object({ id: v.string(), classId: v.string(), startedAt: v.number() }),
});
export type FleetRescueClaimResponse = v.InferOutput<typeof FleetRescueClaimResponseSchema>;

/** Catalog query: `q` matches the class or recording title; `page` counts from 1. */
export const RecordingCatalogQuerySchema = v.strictObject({
  q: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(LIMITS.searchLength))),
  page: v.optional(v.pipe(v.string(), v.regex(/^\d{1,6}$/, "Expected a whole number"), v.transform(Number), v.minValue(1))),
});
export type RecordingCatalogQuery = v.InferOutput<typeof RecordingCatalogQuerySchema>;

/** Catalog page size. */
export const RECORDING_CATALOG_PAGE_SIZE = 24;

/** A recording as users see it. */
export const RecordingViewSchema = v.object({
  id: v.string(),
  classId: v.string(),
  classTitle: v.string(),
  teacher: v.object({ id: v.string(), displayName: v.string() }),
  /** The recording's own title, or "" (the class title stands for it). */
  title: v.string(),
  status: v.picklist(RECORDING_STATUS_VALUES),
  /** 0–100 within `status`. */
  progress: v.number(),
  failureReason: v.nullable(v.string()),
  startedAt: v.number(),
  endedAt: v.nullable(v.number()),
  durationMs: v.nullable(v.number()),
  /** Playable before `ready`: the HLS playlist of the pieces composed while recording (null until it is up). */
  playableUrl: v.nullable(v.string()),
  hlsManifestUrl: v.nullable(v.string()),
  dashManifestUrl: v.nullable(v.string()),
  posterUrl: v.nullable(v.string()),
  thumbnailsVttUrl: v.nullable(v.string()),
  rating: v.object({ average: v.nullable(v.number()), count: v.number() }),
  /** The viewer's own rating, if any. */
  myRating: v.nullable(v.object({ rating: v.number(), comment: v.string() })),
  /** The viewer may rate it now (an enrolled student, not blocked, recording ready). */
  canRate: v.boolean(),
  /** The viewer may delete it (the class's teacher or an admin). */
  canManage: v.boolean(),
  /**
   * The viewer may download it as one MP4 now (`POST /api/recordings/:id/download`): its composed file is stored,
   * and they teach the class, are an admin, or are an enrolled student while the class lets students download.
   */
  canDownload: v.boolean(),
});
export type RecordingView = v.InferOutput<typeof RecordingViewSchema>;

/** Another recording of the same live session, as a link to it. `title` is "" when the class title stands for it. */
export const RecordingLinkSchema = v.object({
  id: v.string(),
  title: v.string(),
  status: v.picklist(RECORDING_STATUS_VALUES),
  startedAt: v.number(),
  durationMs: v.nullable(v.number()),
});
export type RecordingLink = v.InferOutput<typeof RecordingLinkSchema>;

/**
 * The recordings of the same live session just before and after this one (`GET /api/recordings/:id` only): the
 * parts of a recording that went on across a media server change, or a class recorded in several stretches.
 */
export const RecordingNeighboursSchema = v.object({ previous: v.nullable(RecordingLinkSchema), next: v.nullable(RecordingLinkSchema) });
export type RecordingNeighbours = v.InferOutput<typeof RecordingNeighboursSchema>;

export const RecordingResponseSchema = v.object({ recording: RecordingViewSchema, neighbours: v.optional(RecordingNeighboursSchema) });
export type RecordingResponse = v.InferOutput<typeof RecordingResponseSchema>;
export const RecordingListResponseSchema = v.object({ recordings: v.array(RecordingViewSchema) });
export type RecordingListResponse = v.InferOutput<typeof RecordingListResponseSchema>;
export const RecordingCatalogResponseSchema = v.object({ recordings: v.array(RecordingViewSchema), page: v.number(), hasMore: v.boolean() });
export type RecordingCatalogResponse = v.InferOutput<typeof RecordingCatalogResponseSchema>;
export const RecordingFeedbackViewSchema = v.object({
  recordingId: v.string(),
  rating: v.number(),
  comment: v.string(),
  createdAt: v.number(),
  updatedAt: v.number(),
});
export type RecordingFeedbackView = v.InferOutput<typeof RecordingFeedbackViewSchema>;
export const RecordingFeedbackResponseSchema = v.object({ feedback: RecordingFeedbackViewSchema });
export type RecordingFeedbackResponse = v.InferOutput<typeof RecordingFeedbackResponseSchema>;

/** `PATCH /api/recordings/:id`: the class's teacher (or an admin) names a recording ("" = the class title). */
export const RecordingUpdateSchema = v.strictObject({
  title: v.pipe(v.string(), v.trim(), v.maxLength(200, "A recording title may have at most 200 characters")),
});
