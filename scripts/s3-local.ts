/**
 * The local S3-compatible store of `npm start` (s3rver): one bucket for recordings, with CORS letting the web
 * app's origin GET/HEAD the packaged manifests and segments. Objects are readable without credentials, like a
 * public bucket behind CloudFront; writes are signed with s3rver's fixed key pair.
 *
 *   npx tsx scripts/s3-local.ts --port 8837 --dir .wrangler/state/s3 --bucket insp-live-recordings --origin http://127.0.0.1:8787
 *
 * Prints `S3 READY <endpoint>` once it listens; runs until SIGTERM/SIGINT.
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** s3rver's fixed credentials (any signed request must use them). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

/** A running local S3 server. */
export interface LocalS3 {
  /** `http://127.0.0.1:<port>` — the S3_ENDPOINT (path-style). */
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** CORS for the player: GET/HEAD from the app's origins, Range requests allowed, sizes readable. */
function corsXml(origins: readonly string[]): string {
  const allowed = origins.map((origin) => `<AllowedOrigin>${escapeXml(origin)}</AllowedOrigin>`).join("");
  return `<CORSConfiguration><CORSRule>${allowed}<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>Content-Length</ExposeHeader><ExposeHeader>Content-Range</ExposeHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
}

/** Starts s3rver on 127.0.0.1:`port` storing under `directory`, with `bucket` created and its CORS set. */
export async function startLocalS3(options: { port: number; directory: string; bucket: string; origins: readonly string[] }): Promise<LocalS3> {
  mkdirSync(options.directory, { recursive: true });
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port,
    directory: options.directory,
    silent: true,
    // Path-style only: virtual-host buckets would need DNS names for every bucket.
    vhostBuckets: false,
    configureBuckets: [{ name: options.bucket, configs: [corsXml(options.origins)] }],
  });
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, bucket: options.bucket, close: () => server.close() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: "string" }, dir: { type: "string" }, bucket: { type: "string" }, origin: { type: "string", multiple: true } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error("--port: a port number is required");
  if (!values.dir) throw new Error("--dir: the data directory is required");
  if (!values.bucket) throw new Error("--bucket: the bucket name is required");
  const origins = values.origin ?? [];
  if (origins.length === 0) throw new Error("--origin: the web app's origin is required (CORS)");
  const s3 = await startLocalS3({ port, directory: values.dir, bucket: values.bucket, origins });
  console.log(`S3 READY ${s3.endpoint}`);
  const stop = () => {
    s3.close().finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: Error) => {
    console.error(`[s3-local] ${error.message}`);
    process.exit(1);
  });
}
