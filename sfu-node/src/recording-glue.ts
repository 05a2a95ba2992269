import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FleetRecordingUpdate } from "../../schema/api/recordings";
import type { RecordingCommands } from "./class-link";
import { MediaError } from "./errors";
import type { NodeIdentity } from "./fleet-auth";
import { log } from "./log";
import { type ComposedRecording, type RecordingHandle, startRecording } from "./recording/Recorder";
import type { Room } from "./Room";
import { playableUpload } from "./storage/playable-upload";
import { PublishError, type PublishDetails, type PublishStatus, type RecordingPublisher } from "./storage/publish";

/** Retries of one progress report: 0.5 s doubling up to 30 s, about 4 minutes in all. */
const REPORT_ATTEMPTS = 10;
const REPORT_FIRST_DELAY_MS = 500;
const REPORT_MAX_DELAY_MS = 30_000;

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

  const publish = async (room: Room, recordingId: string, composed: ComposedRecording): Promise<void> => {
    reporter.send(recordingId, { status: "composing", progress: 100, durationMs: composed.durationMs, endedAt: composed.endedAt });
    if (!options.publisher) {
      reporter.send(recordingId, { status: "failed", progress: 0, failureReason: "This media server has no recording storage configured (S3 settings)" });
      return;
    }
    try {
      await options.publisher.publishRecording({
        classId: room.classId,
        recordingId,
        file: composed.file,
        durationMs: composed.durationMs,
        report: (status, progress, details) => reporter.send(recordingId, publishUpdate(status, progress, details)),
      });
    } catch (error) {
      // The publisher reported `failed` with its reason already; the composed file stays for a retry.
      if (error instanceof PublishError) return;
      throw error;
    }
    await rm(path.dirname(composed.file), { recursive: true, force: true }).catch((error: unknown) =>
      log("warn", "recording_workdir_not_removed", { recordingId, error: String(error) }),
    );
  };

  /** Recordings whose `composing` report went out already (a stop command, or their room closed). */
  const endReported = new Set<string>();
  const reportEnd = (recordingId: string, handle: RecordingHandle) => {
    if (endReported.has(recordingId)) return;
    endReported.add(recordingId);
    const endedAt = Date.now();
    reporter.send(recordingId, { status: "composing", progress: 0, endedAt, durationMs: endedAt - handle.startedAt });
  };

  return {
    running,
    reportsFlushed: () => reporter.flushed(),

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
        onComposed: (composed) => publish(room, recordingId, composed),
      });
      running.set(recordingId, handle);
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
          log("error", "recording_compose_failed", { recordingId, error: String(error instanceof Error ? error.stack : error) });
          reporter.send(recordingId, { status: "failed", progress: 0, failureReason: `Composing the recording failed: ${firstLine(error)}` });
        },
      );
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
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: await this.#options.identity.authorization("POST", url) },
          body: JSON.stringify(update),
          signal: AbortSignal.timeout(10_000),
        });
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
