import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { S3Settings } from "./config";

/** Parts of 8 MiB, four in flight: a one-hour 720p recording (~1 GB) goes up in ~120 parts. */
const PART_SIZE = 8 * 1024 * 1024;
const PART_CONCURRENCY = 4;
/** Files of a packaged recording uploaded at once (segments are small; more would only queue in the socket pool). */
const FILE_CONCURRENCY = 6;

/** `classes/<classId>/recordings/<recordingId>/`: everything of one recording lives under this prefix. */
export function recordingPrefix(classId: string, recordingId: string): string {
  const safe = /^[A-Za-z0-9_-]{1,64}$/;
  if (!safe.test(classId) || !safe.test(recordingId))
    throw new Error(`unsafe id in an S3 key: class ${JSON.stringify(classId)}, recording ${JSON.stringify(recordingId)}`);
  return `classes/${classId}/recordings/${recordingId}/`;
}

const CONTENT_TYPES: Record<string, string> = {
  ".mp4": "video/mp4",
  ".m4s": "video/iso.segment",
  ".mpd": "application/dash+xml",
  ".m3u8": "application/vnd.apple.mpegurl",
  ".ts": "video/mp2t",
  ".jpg": "image/jpeg",
  ".vtt": "text/vtt",
};

/** The Content-Type a browser needs for a packaged file (players check it for manifests and captions). */
export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[path.extname(key).toLowerCase()] ?? "application/octet-stream";
}

/** Manifests are written last and may be replaced by a re-packaging; everything else never changes. */
function cacheControlOf(key: string): string {
  return /\.(mpd|m3u8|vtt)$/i.test(key) ? "public, max-age=60" : "public, max-age=31536000, immutable";
}

/**
 * The recordings bucket: multipart uploads, directory uploads, prefix deletes and the browser URL of a key.
 * Path-style addressing and checksums only where S3 requires them, so S3-compatible servers (s3rver) accept
 * the SDK's requests as AWS does.
 */
export class RecordingStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly publicBase: string;
  private readonly partSize: number;

  /** `partSize` is at least 5 MiB (S3's minimum part); smaller files go up in one PUT. */
  constructor(settings: S3Settings, options: { maxAttempts?: number; partSize?: number } = {}) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.endpoint !== undefined,
      credentials: settings.credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: options.maxAttempts ?? 3,
    });
    this.bucket = settings.bucket;
    this.publicBase = settings.publicUrl;
    this.partSize = Math.max(5 * 1024 * 1024, options.partSize ?? PART_SIZE);
  }

  /** The URL a browser fetches `key` from. */
  publicUrl(key: string): string {
    return `${this.publicBase}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** `s3://bucket/key`, the form MediaConvert reads and writes. */
  s3Url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Uploads one file in parts (a single PUT when it is smaller than a part). A failed multipart upload is
   * aborted, so no orphaned parts are left billed in the bucket. `onProgress` gets the fraction 0–1.
   * Resolves with the number of parts sent (1 = a single PUT).
   */
  async uploadFile(file: string, key: string, onProgress?: (fraction: number) => void): Promise<{ parts: number }> {
    const size = (await stat(file)).size;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentType: contentTypeOf(key), CacheControl: cacheControlOf(key) },
      partSize: this.partSize,
      queueSize: PART_CONCURRENCY,
      leavePartsOnError: false,
    });
    let parts = 1;
    upload.on("httpUploadProgress", (progress) => {
      parts = Math.max(parts, progress.part ?? 1);
      if (onProgress && size > 0) onProgress(Math.min(1, (progress.loaded ?? 0) / size));
    });
    await upload.done();
    return { parts };
  }

  /** Writes a small text object (a WebVTT track) in one PUT. */
  async putText(key: string, body: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentTypeOf(key), CacheControl: cacheControlOf(key) }),
    );
  }

  /**
   * Uploads every file under `directory` to `prefix` + its relative path. Files `isLast` picks (manifests) go
   * after all others, so a player never finds a manifest whose segments are not there yet.
   */
  async uploadDirectory(
    directory: string,
    prefix: string,
    options: { isLast?: (relativePath: string) => boolean; onProgress?: (fraction: number) => void } = {},
  ): Promise<string[]> {
    const files = (await readdir(directory, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(directory, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"));
    const isLast = options.isLast ?? (() => false);
    const first = files.filter((file) => !isLast(file));
    const last = files.filter((file) => isLast(file));
    let done = 0;
    const uploadAll = async (batch: string[]) => {
      let next = 0;
      const lanes = Array.from({ length: Math.min(FILE_CONCURRENCY, batch.length) }, async () => {
        while (next < batch.length) {
          const file = batch[next++]!;
          await this.uploadFile(path.join(directory, file), prefix + file);
          done += 1;
          options.onProgress?.(done / files.length);
        }
      });
      await Promise.all(lanes);
    };
    await uploadAll(first);
    await uploadAll(last);
    return files.map((file) => prefix + file);
  }

  /** Keys under `prefix` (all pages). */
  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return keys;
  }

  /**
   * Copies every object under `prefix` to `directory` + the rest of its key (a key that would land outside
   * `directory` is refused). Resolves with the relative paths written.
   */
  async downloadPrefix(prefix: string, directory: string): Promise<string[]> {
    const written: string[] = [];
    for (const key of await this.listKeys(prefix)) {
      const relative = key.slice(prefix.length);
      const file = path.resolve(directory, relative);
      if (relative === "" || !file.startsWith(path.resolve(directory) + path.sep)) throw new Error(`refusing to write ${key} outside ${directory}`);
      await mkdir(path.dirname(file), { recursive: true });
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(object.Body instanceof Readable)) throw new Error(`no body for ${key}`);
      await pipeline(object.Body, createWriteStream(file));
      written.push(relative);
    }
    return written;
  }

  /** Deletes every object under `prefix` but `keep`, 1,000 per request (the DeleteObjects limit). Returns how many. */
  async deletePrefix(prefix: string, keep: readonly string[] = []): Promise<number> {
    if (!prefix.endsWith("/")) throw new Error(`refusing to delete by a prefix that is not a folder: ${prefix}`);
    const keys = (await this.listKeys(prefix)).filter((key) => !keep.includes(key));
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const result = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = result.Errors?.[0];
      if (failed) throw new Error(`could not delete ${failed.Key}: ${failed.Code} ${failed.Message}`);
    }
    return keys.length;
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}
