import { readdir, readFile, rm, writeFile } from "node:fs/promises";
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
}

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
    try {
      await recoverOne(workDir, description, options);
    } catch (error) {
      log("error", "recording_recovery_failed", { recordingId: description.recordingId, error: String(error instanceof Error ? error.stack : error) });
      options.fail(description.recordingId, `The media server restarted during the recording and could not finish it: ${firstLine(error)}`);
    }
    await rm(workDir, { recursive: true, force: true }).catch((error: unknown) =>
      log("warn", "recording_workdir_not_removed", { recordingId: description.recordingId, error: String(error) }),
    );
    if (options.store) {
      // Published or failed, the recording needs its segments no more (a published one has its composed file).
      await options.store
        .deletePrefix(segmentsPrefix(description.classId, description.recordingId))
        .catch((error: unknown) => log("warn", "recording_segments_not_deleted", { recordingId: description.recordingId, error: String(error) }));
    }
  }
  return recovered;
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
  const tracks = await leftTracks(workDir);
  const lastEnd = Math.max(0, ...tracks.map((track) => track.lastSegmentEnd));
  if (tracks.length === 0 || lastEnd * 1000 <= description.startedAt) {
    log("warn", "recording_recovery_nothing_left", { recordingId });
    options.fail(recordingId, NOTHING_SAVED_REASON);
    return;
  }
  if (!options.store) {
    options.fail(recordingId, "The media server restarted during the recording, and it has no recording storage configured (S3 settings)");
    return;
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
