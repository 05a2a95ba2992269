import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { MEDIA_SOURCES } from "../../../schema/tokens/media-token";
import { log } from "../log";
import type { RecordingStore } from "../storage/s3";
import { composeRecording } from "./compose";
import type { ComposedRecording } from "./Recorder";
import { SegmentUploader, segmentsPrefix } from "./segment-upload";
import { listSegments } from "./segments";
import type { CapturedTrack } from "./TrackCapture";

/** The note a recording that a restarted node finished carries (the row's `failureReason`, status `ready`). */
export const ENDED_EARLY_NOTE = "Recording ended early: the media server restarted";
/** Why a recording a restarted node found nothing of is `failed`. */
export const NOTHING_SAVED_REASON = "The media server restarted before any part of the recording was saved";

/** `recording.json` in a recording's work directory: who recorded it and for which class. */
const RecordingDescriptionSchema = v.object({
  recordingId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  classId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  nodeId: v.pipe(v.string(), v.minLength(1)),
  userIds: v.array(v.string()),
  startedAt: v.number(),
});
export type RecordingDescription = v.InferOutput<typeof RecordingDescriptionSchema>;

/** `track.json` in each track directory: what the composer needs besides the segments. */
const TrackDescriptionSchema = v.object({
  userId: v.string(),
  source: v.picklist(MEDIA_SOURCES),
  kind: v.picklist(["audio", "video"]),
  producerId: v.string(),
  openedAt: v.number(),
});
export type TrackDescription = v.InferOutput<typeof TrackDescriptionSchema>;

export function writeRecordingDescription(workDir: string, description: RecordingDescription): Promise<void> {
  return writeFile(path.join(workDir, "recording.json"), JSON.stringify(description));
}

export function writeTrackDescription(trackDir: string, description: TrackDescription): Promise<void> {
  return writeFile(path.join(trackDir, "track.json"), JSON.stringify(description));
}

async function readDescription<T extends v.GenericSchema>(file: string, schema: T): Promise<v.InferOutput<T> | undefined> {
  try {
    const result = v.safeParse(schema, JSON.parse(await readFile(file, "utf8")));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
}

export interface RecoveryOptions {
  /** The recordings work root (`SFU_RECORDING_DIR`); each recording has a directory of its own there. */
  workRoot: string;
  /** Only recordings this node id made are taken up (several nodes may share one work root on a machine). */
  nodeId: string;
  /** Recordings this process runs itself (started while recovery looked), left alone. */
  isRunning(recordingId: string): boolean;
  /** The recordings store; without one a left recording cannot be published and is reported failed. */
  store: RecordingStore | undefined;
  /** Publishes the composed partial recording and reports it (as a normal stop does), with {@link ENDED_EARLY_NOTE}. */
  publish(description: RecordingDescription, composed: ComposedRecording): Promise<void>;
  /** Reports the recording failed with `reason`. */
  fail(recordingId: string, reason: string): void;
  /**
   * Takes the recording back from the Worker before finishing it (a node silent for long may find another one
   * took it meanwhile: `taken`, then the store's segments are that node's and stay). `unknown` (no answer, or a
   * Worker without rescue) finishes it as before.
   */
  claim?(recordingId: string): Promise<ClaimOutcome>;
}

/** What the Worker answered a node taking a recording to finish (schema/api/recordings.ts). */
export type ClaimOutcome = "ours" | "taken" | "unknown";

/**
 * Finishes what a previous process with this node id was recording when it died: for each recording
 * directory it left, uploads what the store does not have yet, composes the surviving segments (the
 * recording ends at its last segment) and publishes that as a partial recording, or reports it failed when
 * nothing usable is left; then the directory goes. One recording at a time, so a node coming back does not
 * spend every core on old recordings while classes join it. A recording whose finish throws is reported
 * failed; one cut short by another crash is taken up on the next start (its directory stays).
 */
export async function recoverRecordings(options: RecoveryOptions): Promise<number> {
  const names = await readdir(options.workRoot).catch(() => [] as string[]);
  let recovered = 0;
  for (const name of names) {
    const workDir = path.join(options.workRoot, name);
    const description = await readDescription(path.join(workDir, "recording.json"), RecordingDescriptionSchema);
    if (!description || description.nodeId !== options.nodeId || description.recordingId !== name || options.isRunning(name)) continue;
    recovered += 1;
    log("info", "recording_recovery_started", { recordingId: description.recordingId, classId: description.classId });
    if ((await options.claim?.(description.recordingId)) === "taken") {
      // Another node finishes it from the store; only this copy goes.
      log("warn", "recording_recovery_taken_elsewhere", { recordingId: description.recordingId });
      await removeWorkDir(workDir, description.recordingId);
      continue;
    }
    try {
      await recoverOne(workDir, description, options);
    } catch (error) {
      log("error", "recording_recovery_failed", { recordingId: description.recordingId, error: String(error instanceof Error ? error.stack : error) });
      options.fail(description.recordingId, `The media server restarted during the recording and could not finish it: ${firstLine(error)}`);
    }
    await removeWorkDir(workDir, description.recordingId);
    if (options.store) await deleteSegments(options.store, description);
  }
  return recovered;
}

async function removeWorkDir(workDir: string, recordingId: string): Promise<void> {
  await rm(workDir, { recursive: true, force: true }).catch((error: unknown) =>
    log("warn", "recording_workdir_not_removed", { recordingId, error: String(error) }),
  );
}

/** Published or failed, a recording needs its segments no more (a published one has its composed file). */
async function deleteSegments(store: RecordingStore, description: Pick<RecordingDescription, "classId" | "recordingId">): Promise<void> {
  await store
    .deletePrefix(segmentsPrefix(description.classId, description.recordingId))
    .catch((error: unknown) => log("warn", "recording_segments_not_deleted", { recordingId: description.recordingId, error: String(error) }));
}

async function recoverOne(workDir: string, description: RecordingDescription, options: RecoveryOptions): Promise<void> {
  const { recordingId, classId } = description;
  if (options.store) {
    // First the store gets everything, so another crash while composing loses nothing more.
    const uploader = new SegmentUploader({ store: options.store, workDir, prefix: segmentsPrefix(classId, recordingId), recordingId });
    uploader.knowStored(await options.store.listKeys(segmentsPrefix(classId, recordingId)));
    const pass = await uploader.sync({ final: true });
    log("info", "recording_recovery_uploaded", { recordingId, uploaded: pass.uploaded, failed: pass.failed });
  }
  await composeLeft(workDir, description, {
    ...options,
    nothingSavedReason: NOTHING_SAVED_REASON,
    unpublishableReason: options.store
      ? undefined
      : "The media server restarted during the recording, and it has no recording storage configured (S3 settings)",
  });
}

/**
 * Composes what a recording's work directory holds (each track up to its last segment; the recording ends at
 * the last of them) and publishes it, or reports the recording failed: with `nothingSavedReason` when no
 * segment is left, with `unpublishableReason` when there is one (nowhere to publish). Resolves with whether
 * anything was there.
 */
async function composeLeft(
  workDir: string,
  description: RecordingDescription,
  options: Pick<RecoveryOptions, "publish" | "fail"> & { nothingSavedReason: string; unpublishableReason?: string | undefined },
): Promise<boolean> {
  const { recordingId } = description;
  const tracks = await leftTracks(workDir);
  const lastEnd = Math.max(0, ...tracks.map((track) => track.lastSegmentEnd));
  if (tracks.length === 0 || lastEnd * 1000 <= description.startedAt) {
    log("warn", "recording_recovery_nothing_left", { recordingId });
    options.fail(recordingId, options.nothingSavedReason);
    return false;
  }
  if (options.unpublishableReason) {
    options.fail(recordingId, options.unpublishableReason);
    return true;
  }
  const endedAt = Math.round(lastEnd * 1000);
  const file = path.join(workDir, `${recordingId}.mp4`);
  await composeRecording({
    tracks: tracks.map((track) => track.captured),
    userIds: description.userIds,
    startedAt: description.startedAt,
    endedAt,
    workDir,
    output: file,
  });
  const composed: ComposedRecording = { file, durationMs: endedAt - description.startedAt, startedAt: description.startedAt, endedAt, composedAt: Date.now() };
  log("info", "recording_recovery_composed", { recordingId, durationMs: composed.durationMs });
  await options.publish(description, composed);
  return true;
}

/** What {@link rescueRecording} needs. */
export interface RescueOptions {
  /** This node's recordings work root: the rescued recording is composed in a directory of its own there. */
  workRoot: string;
  /** This node: the copy is written as its own recording, so a restart of this process finishes it. */
  nodeId: string;
  store: RecordingStore;
  claim(recordingId: string): Promise<ClaimOutcome>;
  /** Publishes the composed recording and reports it, noted {@link RESCUED_NOTE}; removes the work directory and the segments. */
  publish(description: RecordingDescription, composed: ComposedRecording): Promise<void>;
  fail(recordingId: string, reason: string): void;
}

/** The note a recording another node finished from the store carries (the row's `failureReason`, status `ready`). */
export const RESCUED_NOTE = "Recording ended early: its media server stopped, and another one finished it from what was saved";
/** Why a recording left in the store without a single segment is `failed`. */
export const RESCUE_NOTHING_SAVED_REASON = "The media server stopped before any part of the recording was saved";

/**
 * Finishes a recording another node left when it died and stayed away (the Worker offered it in a heartbeat
 * answer): takes it, copies its segments from the store into this node's work root — as this node's recording,
 * so that should this process die too, its restart finishes it (see {@link recoverRecordings}) — composes them
 * and publishes the result, or reports it failed. The store's segments go once the recording is published or
 * found empty; after an error they stay (the row says what went wrong; the bucket's lifecycle rule expires them).
 * Resolves with whether this node took the recording.
 */
export async function rescueRecording(offer: { recordingId: string; classId: string }, options: RescueOptions): Promise<boolean> {
  const { recordingId, classId } = offer;
  if ((await options.claim(recordingId)) !== "ours") return false;
  log("info", "recording_rescue_started", { recordingId, classId });
  const workDir = path.join(options.workRoot, recordingId);
  try {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    const files = await options.store.downloadPrefix(segmentsPrefix(classId, recordingId), workDir);
    const stored = await readDescription(path.join(workDir, "recording.json"), RecordingDescriptionSchema);
    log("info", "recording_rescue_downloaded", { recordingId, files: files.length });
    const description: RecordingDescription | undefined =
      stored?.recordingId === recordingId && stored.classId === classId ? { ...stored, nodeId: options.nodeId } : undefined;
    if (description) await writeRecordingDescription(workDir, description);
    const found = description !== undefined && (await composeLeft(workDir, description, { ...options, nothingSavedReason: RESCUE_NOTHING_SAVED_REASON }));
    if (!found) {
      if (!description) options.fail(recordingId, RESCUE_NOTHING_SAVED_REASON);
      await deleteSegments(options.store, { classId, recordingId });
    }
  } catch (error) {
    log("error", "recording_rescue_failed", { recordingId, error: String(error instanceof Error ? error.stack : error) });
    options.fail(recordingId, `Another media server could not finish the recording from what was saved: ${firstLine(error)}`);
  }
  await removeWorkDir(workDir, recordingId);
  return true;
}

/** The track directories of a recording with at least one readable segment, each ending at its last segment. */
async function leftTracks(workDir: string): Promise<{ captured: CapturedTrack; lastSegmentEnd: number }[]> {
  const tracksDir = path.join(workDir, "tracks");
  const found: { captured: CapturedTrack; lastSegmentEnd: number }[] = [];
  for (const name of await readdir(tracksDir).catch(() => [] as string[])) {
    const dir = path.join(tracksDir, name);
    const track = await readDescription(path.join(dir, "track.json"), TrackDescriptionSchema);
    if (!track) continue;
    const segments = await listSegments(dir).catch(() => []);
    if (segments.length === 0) continue;
    const lastSegmentEnd = Math.max(...segments.map((segment) => segment.end));
    found.push({ captured: { ...track, dir, closedAt: Math.round(lastSegmentEnd * 1000) }, lastSegmentEnd });
  }
  return found;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? "").slice(0, 200) || "unknown error";
}
