import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FleetRecordingUpdate } from "../../schema/api/recordings";
import type { FleetRescueOffer } from "../../schema/protocol/fleet";
import type { RecordingCommands } from "./class-link";
import { MediaError } from "./errors";
import type { NodeIdentity } from "./fleet-auth";
import { log } from "./log";
import { type ComposedRecording, type RecordingHandle, startRecording } from "./recording/Recorder";
import { type ClaimOutcome, ENDED_EARLY_NOTE, RESCUED_NOTE, recoverRecordings, rescueRecording, writeRecordingDescription } from "./recording/recovery";
import { SegmentUploader, segmentsPrefix } from "./recording/segment-upload";
import { playableUpload } from "./storage/playable-upload";
import { PublishError, type PublishDetails, type PublishStatus, type RecordingPublisher } from "./storage/publish";

/** Retries of one progress report: 0.5 s doubling up to 30 s, about 4 minutes in all. */
const REPORT_ATTEMPTS = 10;
const REPORT_FIRST_DELAY_MS = 500;
const REPORT_MAX_DELAY_MS = 30_000;
/** How long one report or claim may take before it counts as undelivered. */
const FLEET_REQUEST_TIMEOUT_MS = 10_000;

export interface RecordingGlueOptions {
  /** The Worker's origin; reports go to `POST <workerUrl>/api/fleet/recordings/:id`. */
  workerUrl: string;
  /** Signs each report: the Worker takes only the recording node's reports. */
  identity: NodeIdentity;
  /** Each recording gets `<workRoot>/<recordingId>/` for its segments and composed file. */
  workRoot: string;
  /** Uploads and packages composed recordings; without one (no S3 settings) a recording ends `failed`. */
  publisher: RecordingPublisher | undefined;
  /** Waits between report retries (tests shorten them). */
  retryDelayMs?: (attempt: number) => number;
  /** Length of the pieces composed while recording (default PIECE_SECONDS, half a minute). */
  pieceSeconds?: number;
}

/** The node's recording commands plus what shutdown needs. */
export interface RecordingGlue extends RecordingCommands {
  /** Recordings running on this node, by id. */
  readonly running: ReadonlyMap<string, RecordingHandle>;
  /** Settles when every report queued so far has been delivered or given up on (SIGTERM waits for it). */
  reportsFlushed(): Promise<void>;
  /**
   * Finishes the recordings a previous process with this node id left in the work root (it was killed): each
   * is published as a partial recording noted {@link ENDED_EARLY_NOTE}, or reported failed. Resolves with
   * how many it took up.
   */
  recoverLeftovers(): Promise<number>;
  /**
   * Finishes a recording another node left in the store when it died (the Worker offers it in a heartbeat
   * answer): one at a time, and not while this node recovers its own; an offer that comes meanwhile waits for
   * the next heartbeat. Resolves with whether this node took it.
   */
  rescue(offer: FleetRescueOffer): Promise<boolean>;
}

/**
 * Wires the class link's `recording.start` / `recording.stop` to the recorder, the publisher and the Worker:
 * start → {@link startRecording}; stop → the recorder composes → {@link RecordingPublisher.publishRecording}
 * uploads and packages; every step (composing, uploading, packaging, ready, failed) is reported to the Worker
 * signed by the node's key, in order, retried while the Worker is unreachable.
 */
export function createRecordingGlue(options: RecordingGlueOptions): RecordingGlue {
  const running = new Map<string, RecordingHandle>();
  const reporter = new ProgressReporter(options);
  /** Copies of running recordings' segments to the store, by recording id (none without a store). */
  const uploaders = new Map<string, SegmentUploader>();
  const stopUploading = async (recordingId: string) => {
    await uploaders.get(recordingId)?.stop();
    uploaders.delete(recordingId);
  };

  /** `note` marks a partial recording: it goes with `ready` (as its failureReason), with the length it has. */
  const publish = async (classId: string, recordingId: string, composed: ComposedRecording, note?: string): Promise<void> => {
    // The composed file replaces the segments: they are not uploaded any more, and deleted once it is published.
    await stopUploading(recordingId);
    reporter.send(recordingId, { status: "composing", progress: 100, durationMs: composed.durationMs, endedAt: composed.endedAt });
    if (!options.publisher) {
      reporter.send(recordingId, { status: "failed", progress: 0, failureReason: "This media server has no recording storage configured (S3 settings)" });
      return;
    }
    try {
      await options.publisher.publishRecording({
        classId,
        recordingId,
        file: composed.file,
        durationMs: composed.durationMs,
        report: (status, progress, details) => {
          const update = publishUpdate(status, progress, details);
          reporter.send(
            recordingId,
            note && status === "ready" ? { ...update, failureReason: note, durationMs: composed.durationMs, endedAt: composed.endedAt } : update,
          );
        },
      });
    } catch (error) {
      // The publisher reported `failed` with its reason already; the composed file stays for a retry.
      if (error instanceof PublishError) return;
      throw error;
    }
    await rm(path.dirname(composed.file), { recursive: true, force: true }).catch((error: unknown) =>
      log("warn", "recording_workdir_not_removed", { recordingId, error: String(error) }),
    );
    await options.publisher.store
      .deletePrefix(segmentsPrefix(classId, recordingId))
      .catch((error: unknown) => log("warn", "recording_segments_not_deleted", { recordingId, error: String(error) }));
  };

  /** Recordings whose `composing` report went out already (a stop command, or their room closed). */
  const endReported = new Set<string>();
  const reportEnd = (recordingId: string, handle: RecordingHandle) => {
    if (endReported.has(recordingId)) return;
    endReported.add(recordingId);
    // Capture is ending: the segments are composed here now, so no more of them go to the store.
    void stopUploading(recordingId);
    const endedAt = Date.now();
    reporter.send(recordingId, { status: "composing", progress: 0, endedAt, durationMs: endedAt - handle.startedAt });
  };

  const fail = (recordingId: string, failureReason: string) => reporter.send(recordingId, { status: "failed", progress: 0, failureReason });
  const claim = (recordingId: string) => claimRecording(options, recordingId);
  /** Own recordings being recovered, or another node's being rescued: one such job at a time. */
  let finishing: Promise<unknown> | undefined;
  const alone = <T>(job: () => Promise<T>): Promise<T> => {
    const run = job().finally(() => {
      if (finishing === run) finishing = undefined;
    });
    finishing = run;
    return run;
  };

  return {
    running,
    reportsFlushed: () => reporter.flushed(),

    recoverLeftovers: () =>
      alone(() =>
        recoverRecordings({
          workRoot: options.workRoot,
          nodeId: options.identity.nodeId,
          isRunning: (recordingId) => running.has(recordingId),
          store: options.publisher?.store,
          publish: (description, composed) => publish(description.classId, description.recordingId, composed, ENDED_EARLY_NOTE),
          fail,
          claim,
        }),
      ),

    async rescue(offer) {
      const store = options.publisher?.store;
      if (!store || finishing || running.has(offer.recordingId)) return false;
      return alone(() =>
        rescueRecording(offer, {
          workRoot: options.workRoot,
          nodeId: options.identity.nodeId,
          store,
          claim,
          publish: (description, composed) => publish(description.classId, description.recordingId, composed, RESCUED_NOTE),
          fail,
        }),
      );
    },

    heldFor(classId) {
      return [...running.values()]
        .filter((handle) => handle.classId === classId)
        .map((handle) => ({ recordingId: handle.recordingId, capturing: handle.capturing }));
    },

    async start(room, { recordingId, userIds }) {
      if (running.has(recordingId)) return;
      const workDir = path.join(options.workRoot, recordingId);
      const handle = await startRecording(room, {
        recordingId,
        classId: room.classId,
        userIds,
        workDir,
        // Composed in pieces while recording and uploaded as they come, so it is playable seconds after the stop.
        pieces: options.publisher
          ? playableUpload(
              options.publisher.store,
              room.classId,
              recordingId,
              (playableUrl) => reporter.send(recordingId, { status: "composing", progress: 50, playableUrl }),
              options.pieceSeconds,
            )
          : undefined,
        onComposed: (composed) => publish(room.classId, recordingId, composed),
      });
      running.set(recordingId, handle);
      // What a restarted node needs to finish this recording should this process die (recovery.ts), and a copy
      // of each segment in the store as it closes.
      await writeRecordingDescription(workDir, {
        recordingId,
        classId: room.classId,
        nodeId: options.identity.nodeId,
        userIds: [...userIds],
        startedAt: handle.startedAt,
      }).catch((error: unknown) => log("error", "recording_description_not_written", { recordingId, error: String(error) }));
      if (options.publisher) {
        uploaders.set(
          recordingId,
          new SegmentUploader({ store: options.publisher.store, workDir, prefix: segmentsPrefix(room.classId, recordingId), recordingId }).start(),
        );
      }
      log("info", "recording_started", { recordingId, classId: room.classId, userIds });
      // A room that closes under a recording (its last peer left, or its worker died) ends the recording with it:
      // the row says so at once rather than when composing is done.
      room.once("close", () => {
        if (running.get(recordingId) === handle) reportEnd(recordingId, handle);
      });
      // However it ends (stop, class end, shutdown), a recording that could not be composed is reported failed.
      handle.finished.then(
        () => {
          running.delete(recordingId);
          endReported.delete(recordingId);
        },
        (error: unknown) => {
          running.delete(recordingId);
          endReported.delete(recordingId);
          void stopUploading(recordingId);
          log("error", "recording_compose_failed", { recordingId, error: String(error instanceof Error ? error.stack : error) });
          reporter.send(recordingId, { status: "failed", progress: 0, failureReason: `Composing the recording failed: ${firstLine(error)}` });
        },
      );
    },

    async include(_room, { recordingId, userIds }) {
      const handle = running.get(recordingId);
      if (!handle?.capturing) throw new MediaError("NOT_FOUND", `Recording ${recordingId} is not running on this node`);
      await handle.include(userIds);
    },

    async stop(_room, { recordingId }) {
      const handle = running.get(recordingId);
      if (!handle) throw new MediaError("NOT_FOUND", `Recording ${recordingId} is not running on this node`);
      reportEnd(recordingId, handle);
      // The class object gets its answer now; composing and publishing go on in the background.
      void handle.stop().catch(() => undefined);
    },
  };
}

/**
 * `POST /api/fleet/recordings/:id/rescue`: this node takes the recording to finish it. `taken` when the Worker
 * refuses (409: another node has it, or it is not waiting to be finished); `unknown` when it cannot say.
 */
async function claimRecording(options: Pick<RecordingGlueOptions, "workerUrl" | "identity">, recordingId: string): Promise<ClaimOutcome> {
  const url = `${options.workerUrl.replace(/\/+$/, "")}/api/fleet/recordings/${encodeURIComponent(recordingId)}/rescue`;
  try {
    const response = await options.identity.post(url, {}, FLEET_REQUEST_TIMEOUT_MS);
    const body = await response.text();
    if (response.ok) return "ours";
    log(response.status === 409 ? "info" : "warn", "recording_claim_refused", { recordingId, status: response.status, body: body.slice(0, 300) });
    return response.status === 409 ? "taken" : "unknown";
  } catch (error) {
    log("warn", "recording_claim_failed", { recordingId, error: String(error) });
    return "unknown";
  }
}

/** The publisher's report as the Worker takes it (a DRM recording has no HLS manifest: the field is left out). */
function publishUpdate(status: PublishStatus, progress: number, details: PublishDetails = {}): FleetRecordingUpdate {
  const update: FleetRecordingUpdate = { status, progress: Math.max(0, Math.min(100, Math.floor(progress))) };
  if (details.failureReason) update.failureReason = details.failureReason.slice(0, 500);
  if (details.sourceKey) update.sourceKey = details.sourceKey;
  if (details.hlsManifestUrl) update.hlsManifestUrl = details.hlsManifestUrl;
  if (details.dashManifestUrl) update.dashManifestUrl = details.dashManifestUrl;
  if (details.posterUrl) update.posterUrl = details.posterUrl;
  if (details.thumbnailsVttUrl) update.thumbnailsVttUrl = details.thumbnailsVttUrl;
  if (status === "failed" && !update.failureReason) update.failureReason = "Publishing the recording failed";
  return update;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? "").slice(0, 300) || "unknown error";
}

/**
 * Sends progress reports to the Worker, one recording's reports strictly in order (a later report never
 * overtakes an earlier one). A report that cannot be delivered (network error, 5xx, 429) is retried with
 * backoff; one the Worker refuses (4xx: deleted recording, a step it already passed) is logged and dropped.
 */
class ProgressReporter {
  readonly #options: RecordingGlueOptions;
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: RecordingGlueOptions) {
    this.#options = options;
  }

  send(recordingId: string, update: FleetRecordingUpdate): void {
    const previous = this.#chains.get(recordingId) ?? Promise.resolve();
    const next = previous.then(() => this.#deliver(recordingId, update));
    this.#chains.set(recordingId, next);
    void next.finally(() => {
      if (this.#chains.get(recordingId) === next) this.#chains.delete(recordingId);
    });
  }

  async flushed(): Promise<void> {
    while (this.#chains.size > 0) await Promise.allSettled([...this.#chains.values()]);
  }

  async #deliver(recordingId: string, update: FleetRecordingUpdate): Promise<void> {
    const url = `${this.#options.workerUrl.replace(/\/+$/, "")}/api/fleet/recordings/${encodeURIComponent(recordingId)}`;
    for (let attempt = 1; ; attempt += 1) {
      let outcome: string;
      try {
        const response = await this.#options.identity.post(url, update, FLEET_REQUEST_TIMEOUT_MS);
        if (response.ok) {
          await response.body?.cancel();
          return;
        }
        const body = await response.text();
        outcome = `HTTP ${response.status}: ${body.slice(0, 300)}`;
        if (response.status < 500 && response.status !== 429) {
          log("warn", "recording_report_refused", { recordingId, status: update.status, progress: update.progress, outcome });
          return;
        }
      } catch (error) {
        outcome = String(error);
      }
      if (attempt >= REPORT_ATTEMPTS) {
        log("error", "recording_report_lost", { recordingId, status: update.status, progress: update.progress, outcome, attempts: attempt });
        return;
      }
      const delay = this.#options.retryDelayMs?.(attempt) ?? Math.min(REPORT_MAX_DELAY_MS, REPORT_FIRST_DELAY_MS * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Where recordings are written while they run: `SFU_RECORDING_DIR`, or `<tmp>/insp-live-recordings`. */
export function recordingWorkRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SFU_RECORDING_DIR || path.join(os.tmpdir(), "insp-live-recordings"));
}
