import { log } from "../log";
import type { StorageConfig } from "./config";
import type { Packager } from "./packager";
import { FfmpegPackager } from "./packager-ffmpeg";
import { MediaConvertPackager } from "./packager-mediaconvert";
import { RecordingStore, recordingPrefix } from "./s3";

/** Phases of publishing, in order; `failed` can follow any of them. */
export type PublishStatus = "uploading" | "packaging" | "ready" | "failed";

/** Fields sent along with a status (the recording row's columns of the fleet recordings API). */
export interface PublishDetails {
  failureReason?: string;
  sourceKey?: string;
  hlsManifestUrl?: string | null;
  dashManifestUrl?: string;
  posterUrl?: string;
  thumbnailsVttUrl?: string;
}

/**
 * Receives progress. `progress` is the whole publish, 0–100 and never decreasing: uploading the source takes
 * 0–20, packaging 20–99, ready is 100; `failed` keeps the last value. Calls are made one at a time, in order;
 * a reporter that throws is logged and does not stop publishing.
 */
export type PublishReporter = (status: PublishStatus, progress: number, details?: PublishDetails) => void | Promise<void>;

export interface PublishRequest {
  classId: string;
  recordingId: string;
  /** The composed H.264/AAC MP4 on local disk. */
  file: string;
  durationMs: number;
  report: PublishReporter;
}

/** Where a published recording is; the URLs are what browsers fetch. */
export interface PublishedRecording {
  sourceKey: string;
  /** null when the recording is DRM-protected (MediaConvert with SPEKE makes DASH only). */
  hlsManifestUrl: string | null;
  dashManifestUrl: string;
  posterUrl: string;
  thumbnailsVttUrl: string;
}

/** Publishing failed; `reason` is what `failed` was reported with. */
export class PublishError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "PublishError";
  }
}

const UPLOAD_SHARE = 20;
/** Progress reports within a phase at most this often by default (each one is an HTTP request to the Worker). */
const REPORT_INTERVAL_MS = 1000;

/** Serializes and throttles the reports of one publish. */
class ProgressReports {
  private chain: Promise<void> = Promise.resolve();
  private lastStatus: PublishStatus | undefined;
  private lastProgress = 0;
  private lastSentAt = 0;

  constructor(
    private readonly recordingId: string,
    private readonly reporter: PublishReporter,
    private readonly intervalMs: number,
  ) {}

  get progress(): number {
    return this.lastProgress;
  }

  /** Queues a report; progress reports in the same phase closer than the interval are dropped. */
  send(status: PublishStatus, progress: number, details?: PublishDetails): void {
    const value = Math.max(this.lastProgress, Math.min(100, Math.floor(progress)));
    const sameStatus = status === this.lastStatus;
    if (sameStatus && details === undefined && (value === this.lastProgress || Date.now() - this.lastSentAt < this.intervalMs)) return;
    this.lastStatus = status;
    this.lastProgress = value;
    this.lastSentAt = Date.now();
    this.chain = this.chain.then(async () => {
      try {
        await this.reporter(status, value, details);
      } catch (error) {
        log("warn", "storage.report_failed", { recordingId: this.recordingId, status, error: (error as Error).message });
      }
    });
  }

  /** Resolves when every queued report has been delivered (or has failed). */
  flushed(): Promise<void> {
    return this.chain;
  }
}

/** Turns an SDK or FFmpeg error into one line for the failure reason. */
function errorSummary(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string; Code?: string };
  const message = e.message?.trim() || e.code || e.Code || e.name || String(error);
  return message.split("\n")[0]!.slice(0, 300);
}

/** Uploads recordings to S3 and packages them; one per node. */
export class RecordingPublisher {
  readonly store: RecordingStore;
  readonly packager: Packager;
  private readonly reportIntervalMs: number;

  constructor(store: RecordingStore, packager: Packager, options: { reportIntervalMs?: number } = {}) {
    this.store = store;
    this.packager = packager;
    this.reportIntervalMs = options.reportIntervalMs ?? REPORT_INTERVAL_MS;
  }

  /**
   * Uploads the composed file to `classes/<classId>/recordings/<recordingId>/source.mp4`, packages it and
   * uploads the outputs, reporting uploading → packaging → ready. On failure it deletes the partial outputs,
   * reports `failed` with a reason (and the source key when the source itself is safely stored, so the
   * recording can be packaged again) and rejects with {@link PublishError}.
   */
  async publishRecording(request: PublishRequest): Promise<PublishedRecording> {
    const prefix = recordingPrefix(request.classId, request.recordingId);
    const sourceKey = `${prefix}source.mp4`;
    const reports = new ProgressReports(request.recordingId, request.report, this.reportIntervalMs);
    let sourceStored = false;
    let phase = "Uploading the recording";
    try {
      reports.send("uploading", 0);
      await this.store.uploadFile(request.file, sourceKey, (fraction) => reports.send("uploading", fraction * UPLOAD_SHARE));
      sourceStored = true;
      phase = "Packaging the recording";
      reports.send("packaging", UPLOAD_SHARE, { sourceKey });
      const packaged = await this.packager.package({
        recordingId: request.recordingId,
        sourceKey,
        sourceFile: request.file,
        durationMs: request.durationMs,
        outputPrefix: prefix,
        onProgress: (percent) => reports.send("packaging", UPLOAD_SHARE + (percent * (99 - UPLOAD_SHARE)) / 100),
      });
      const published: PublishedRecording = {
        sourceKey,
        hlsManifestUrl: packaged.hlsManifestKey === null ? null : this.store.publicUrl(packaged.hlsManifestKey),
        dashManifestUrl: this.store.publicUrl(packaged.dashManifestKey),
        posterUrl: this.store.publicUrl(packaged.posterKey),
        thumbnailsVttUrl: this.store.publicUrl(packaged.thumbnailsVttKey),
      };
      reports.send("ready", 100, published);
      await reports.flushed();
      log("info", "storage.published", { recordingId: request.recordingId, packager: this.packager.name });
      return published;
    } catch (error) {
      const reason = `${phase} failed: ${errorSummary(error)}`;
      log("error", "storage.publish_failed", { recordingId: request.recordingId, reason });
      try {
        await this.store.deletePrefix(prefix, sourceStored ? [sourceKey] : []);
      } catch (cleanupError) {
        log("error", "storage.cleanup_failed", { recordingId: request.recordingId, prefix, error: errorSummary(cleanupError) });
      }
      reports.send("failed", reports.progress, sourceStored ? { failureReason: reason, sourceKey } : { failureReason: reason });
      await reports.flushed();
      throw new PublishError(reason);
    }
  }

  close(): void {
    this.store.close();
  }
}

/**
 * The node's publisher from its storage settings: MediaConvert when configured, local FFmpeg otherwise.
 * Call {@link RecordingPublisher.publishRecording} on it.
 */
export function createPublisher(
  config: StorageConfig,
  options: { maxAttempts?: number; pollIntervalMs?: number; reportIntervalMs?: number } = {},
): RecordingPublisher {
  const store = new RecordingStore(config.s3, { maxAttempts: options.maxAttempts });
  const packager = config.mediaConvert
    ? new MediaConvertPackager(store, config.s3.region, config.mediaConvert, { pollIntervalMs: options.pollIntervalMs, credentials: config.s3.credentials })
    : new FfmpegPackager(store, { preset: config.ffmpegPreset });
  return new RecordingPublisher(store, packager, { reportIntervalMs: options.reportIntervalMs });
}
