import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingStore, recordingPrefix } from "../src/storage/s3";
import { APP_ORIGIN, makeComposedLikeMp4, probe, startTestS3 } from "./storage-helpers";

const S3_PORT = 8880;

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

describe("recording storage on an S3-compatible server", () => {
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let store: RecordingStore;
  let work: string;
  let source: string;

  beforeAll(async () => {
    s3 = await startTestS3(S3_PORT);
    // Parts of 5 MiB (S3's minimum): the ~8 MB file below goes up in two parts or more.
    store = new RecordingStore(s3.config.s3, { partSize: 5 * 1024 * 1024 });
    work = await mkdtemp(path.join(os.tmpdir(), "insp-s3-work-"));
    source = path.join(work, "composed.mp4");
    await makeComposedLikeMp4(source, { seconds: 4, width: 1280, height: 720, bitrate: 24_000_000 });
  }, 60_000);

  afterAll(async () => {
    store?.close();
    await s3?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("uploads a composed recording in parts and gives back the same playable file", async () => {
    const size = (await stat(source)).size;
    const parts = Math.ceil(size / (5 * 1024 * 1024));
    expect(parts).toBeGreaterThanOrEqual(2);
    const key = `${recordingPrefix("class_1", "rec_1")}source.mp4`;
    const fractions: number[] = [];
    const upload = await store.uploadFile(source, key, (fraction) => fractions.push(fraction));
    expect(upload.parts).toBe(parts);

    const head = await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    expect(head.ContentLength).toBe(size);
    expect(head.ContentType).toBe("video/mp4");
    expect(fractions.at(-1)).toBe(1);

    const object = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
    const downloaded = path.join(work, "downloaded.mp4");
    await writeFile(downloaded, await object.Body!.transformToByteArray());
    expect(await sha256(downloaded)).toBe(await sha256(source));
    const probed = await probe(downloaded);
    expect(probed.streams.map((stream) => stream.codec_name).sort()).toEqual(["aac", "h264"]);
    expect(Number(probed.format.duration)).toBeCloseTo(4, 0);
  });

  it("serves stored files to the web app's origin without credentials (CORS for the player)", async () => {
    const key = `${recordingPrefix("class_1", "rec_2")}thumbnails/thumbnails.vtt`;
    await store.putText(key, "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nsprite.jpg#xywh=0,0,160,90\n");

    const response = await fetch(store.publicUrl(key), { headers: { Origin: APP_ORIGIN } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(response.headers.get("content-type")).toMatch(/^text\/vtt/);
    expect(await response.text()).toContain("sprite.jpg#xywh=0,0,160,90");

    const preflight = await fetch(store.publicUrl(key), {
      method: "OPTIONS",
      headers: { Origin: APP_ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range" },
    });
    expect(preflight.status).toBe(200);
    // s3rver answers an allowed preflight with `*` (S3 echoes the origin); either lets the player through.
    expect(preflight.headers.get("access-control-allow-origin")).not.toBeNull();

    const stranger = await fetch(store.publicUrl(key), {
      method: "OPTIONS",
      headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "GET" },
    });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("uploads a packaged folder with browser content types and deletes a recording's files but the ones kept", async () => {
    const folder = path.join(work, "packaged");
    await mkdir(path.join(folder, "stream"), { recursive: true });
    await writeFile(path.join(folder, "stream", "manifest.mpd"), "<MPD/>");
    await writeFile(path.join(folder, "stream", "chunk-1.m4s"), "segment");
    await writeFile(path.join(folder, "poster.jpg"), "jpeg");
    const prefix = recordingPrefix("class_1", "rec_3");
    const fractions: number[] = [];
    const keys = await store.uploadDirectory(folder, prefix, { isLast: (file) => file.endsWith(".mpd"), onProgress: (fraction) => fractions.push(fraction) });
    expect(keys.sort()).toEqual([`${prefix}poster.jpg`, `${prefix}stream/chunk-1.m4s`, `${prefix}stream/manifest.mpd`]);
    expect(fractions.at(-1)).toBe(1);
    const manifest = await fetch(store.publicUrl(`${prefix}stream/manifest.mpd`));
    expect(manifest.headers.get("content-type")).toMatch(/^application\/dash\+xml/);
    expect(await manifest.text()).toBe("<MPD/>");
    const segment = await fetch(store.publicUrl(`${prefix}stream/chunk-1.m4s`));
    expect(segment.headers.get("content-type")).toBe("video/iso.segment");

    await store.putText(`${prefix}source.mp4`, "kept");
    expect(await store.deletePrefix(prefix, [`${prefix}source.mp4`])).toBe(3);
    expect(await store.listKeys(prefix)).toEqual([`${prefix}source.mp4`]);
    expect((await fetch(store.publicUrl(`${prefix}poster.jpg`))).status).toBe(404);
  });

  it("refuses ids that would escape the recording's folder", () => {
    expect(() => recordingPrefix("class_1", "../other")).toThrow(/unsafe id/);
    expect(() => recordingPrefix("a/b", "rec")).toThrow(/unsafe id/);
  });
});
