import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { log } from "../log";
import { type RecordingStore, recordingPrefix } from "../storage/s3";

/** How often the work directory is looked at: well under a segment (10 s), so the store is at most one segment behind. */
const SCAN_INTERVAL_MS = 1000;
/** After a pass with failed uploads the next one waits longer, doubling up to this (with jitter). */
const MAX_RETRY_DELAY_MS = 30_000;

const SEGMENT_NAME = /^run-(\d+)-(\d+)\.mkv$/;
const RUN_FILE = /^run-(\d+)\.(csv|json)$/;
/** What the composer reads besides segments: the recording's and each track's description. */
const DESCRIPTION_FILES = new Set(["recording.json", "track.json"]);

/**
 * `segments/<classId>/<recordingId>/`: a recording's segments while it runs. A top-level prefix of its own, so the
 * bucket's lifecycle rule can expire what a node that never came back left there.
 */
export function segmentsPrefix(classId: string, recordingId: string): string {
  // Refuses ids that are not safe in a key, as it does for the recording's own prefix.
  recordingPrefix(classId, recordingId);
  return `segments/${classId}/${recordingId}/`;
}

export interface SegmentUploaderOptions {
  store: RecordingStore;
  /** The recording's work directory: `recording.json` and `tracks/<track>/` with segments, lists and timings. */
  workDir: string;
  /** Key prefix ({@link segmentsPrefix}); a file's key is the prefix plus its path under `workDir`. */
  prefix: string;
  recordingId: string;
}

/** One pass's outcome. */
export interface UploadPass {
  uploaded: number;
  failed: number;
}

/**
 * Copies a running recording's work directory to the recordings store as it grows, so that a node that dies
 * loses at most the segment being written. It only reads the directory (capture never waits for it): a
 * segment goes up once it is closed — FFmpeg's segment list names it, or a later segment or run exists — and
 * the segment lists and run timings (small, rewritten as they grow) each time they change. A failed upload is
 * tried again on the next pass, passes backing off while uploads fail.
 */
export class SegmentUploader {
  readonly #options: SegmentUploaderOptions;
  /** Relative path → size and mtime of the version stored. */
  readonly #stored = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<UploadPass> | undefined;
  #failuresInARow = 0;
  #stopped = false;

  constructor(options: SegmentUploaderOptions) {
    this.#options = options;
  }

  /** Starts uploading in the background, a pass a second. */
  start(): this {
    this.#schedule(SCAN_INTERVAL_MS);
    return this;
  }

  /**
   * Marks `keys` (full keys) as already stored, e.g. from a listing of the prefix after a restart; lists and
   * timings are uploaded again anyway, since they may have grown after the last upload.
   */
  knowStored(keys: readonly string[]): void {
    for (const key of keys) {
      const relative = key.slice(this.#options.prefix.length);
      if (key.startsWith(this.#options.prefix) && SEGMENT_NAME.test(path.posix.basename(relative))) this.#stored.set(relative, "listed");
    }
  }

  /**
   * One pass now (after any pass under way). `final`: the capture is over (stopped or its process died), so
   * every non-empty segment counts as closed.
   */
  sync(options: { final?: boolean } = {}): Promise<UploadPass> {
    const previous = this.#pass ?? Promise.resolve({ uploaded: 0, failed: 0 });
    const pass = previous.then(() => this.#runPass(options.final ?? false));
    this.#pass = pass;
    return pass;
  }

  /** Stops the background passes and waits for the one under way. Safe twice. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.sync().then((pass) => {
        this.#failuresInARow = pass.failed > 0 ? this.#failuresInARow + 1 : 0;
        const backoff = Math.min(MAX_RETRY_DELAY_MS, SCAN_INTERVAL_MS * 2 ** this.#failuresInARow);
        // Jitter spreads the retries of the recordings of one node that all lost the store at once.
        this.#schedule(this.#failuresInARow === 0 ? SCAN_INTERVAL_MS : backoff * (0.75 + Math.random() * 0.5));
      });
    }, delayMs);
  }

  async #runPass(final: boolean): Promise<UploadPass> {
    const pass: UploadPass = { uploaded: 0, failed: 0 };
    let files: string[];
    try {
      files = await pendingFiles(this.#options.workDir, final);
    } catch (error) {
      log("warn", "recording_segments_scan_failed", { recordingId: this.#options.recordingId, error: String(error) });
      return { uploaded: 0, failed: 1 };
    }
    for (const relative of files) {
      const file = path.join(this.#options.workDir, relative);
      let version: string;
      try {
        const info = await stat(file);
        if (info.size === 0) continue;
        version = `${info.size}:${info.mtimeMs}`;
      } catch {
        continue;
      }
      const stored = this.#stored.get(relative);
      // A segment never changes once closed; lists and timings are sent again whenever they changed.
      if (stored === version || (stored !== undefined && SEGMENT_NAME.test(path.basename(relative)))) continue;
      try {
        await this.#options.store.uploadFile(file, this.#options.prefix + relative.split(path.sep).join("/"));
        this.#stored.set(relative, version);
        pass.uploaded += 1;
      } catch (error) {
        pass.failed += 1;
        log("warn", "recording_segment_upload_failed", { recordingId: this.#options.recordingId, file: relative, error: String(error) });
      }
    }
    return pass;
  }
}

/**
 * Files of the work directory that may go up now, relative to it, in an order that keeps the store usable:
 * the descriptions first, then per track its closed segments, then its lists and timings.
 */
async function pendingFiles(workDir: string, final: boolean): Promise<string[]> {
  const files: string[] = (await readdir(workDir)).filter((name) => name === "recording.json");
  const tracksDir = path.join(workDir, "tracks");
  const tracks = await readdir(tracksDir).catch(() => [] as string[]);
  for (const track of tracks) {
    const names = await readdir(path.join(tracksDir, track)).catch(() => [] as string[]);
    const lastSegmentOfRun = new Map<number, number>();
    let lastRun = -1;
    for (const name of names) {
      const match = SEGMENT_NAME.exec(name) ?? RUN_FILE.exec(name);
      if (!match) continue;
      const run = Number(match[1]);
      lastRun = Math.max(lastRun, run);
      if (name.endsWith(".mkv")) lastSegmentOfRun.set(run, Math.max(lastSegmentOfRun.get(run) ?? -1, Number(match[2])));
    }
    const listed = new Set<string>();
    for (const name of names.filter((name) => name.endsWith(".csv"))) {
      for (const line of (await readFileOrEmpty(path.join(tracksDir, track, name))).split("\n")) listed.add(line.split(",")[0] ?? "");
    }
    const closed = names.filter((name) => {
      const match = SEGMENT_NAME.exec(name);
      if (!match) return false;
      const run = Number(match[1]);
      const index = Number(match[2]);
      return final || listed.has(name) || run < lastRun || index < (lastSegmentOfRun.get(run) ?? -1);
    });
    const descriptions = names.filter((name) => DESCRIPTION_FILES.has(name));
    const runFiles = names.filter((name) => RUN_FILE.test(name));
    for (const name of [...descriptions, ...closed.sort(), ...runFiles]) files.push(path.join("tracks", track, name));
  }
  return files;
}

function readFileOrEmpty(file: string): Promise<string> {
  return readFile(file, "utf8").catch(() => "");
}
