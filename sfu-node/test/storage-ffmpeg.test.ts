import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LADDER } from "../src/storage/packager";
import { createPublisher, PublishError, type PublishDetails, type PublishStatus } from "../src/storage/publish";
import { recordingPrefix } from "../src/storage/s3";
import { APP_ORIGIN, makeComposedLikeMp4, probe, startTestS3 } from "./storage-helpers";

const S3_PORT = 8881;
/** Nothing listens here: the "S3 is down" case. */
const DEAD_PORT = 8884;
const SECONDS = 6;

interface Report {
  status: PublishStatus;
  progress: number;
  details?: PublishDetails;
}

/** Parses `HH:MM:SS.mmm --> HH:MM:SS.mmm` + one payload line per cue. */
function parseVtt(text: string): { start: number; end: number; payload: string }[] {
  expect(text.startsWith("WEBVTT\n")).toBe(true);
  const seconds = (time: string) => time.split(":").reduce((total, part) => total * 60 + Number(part), 0);
  return text
    .split("\n\n")
    .slice(1)
    .filter((block) => block.trim())
    .map((block) => {
      const [timing, payload] = block.trim().split("\n");
      const [start, end] = timing!.split(" --> ");
      return { start: seconds(start!), end: seconds(end!), payload: payload! };
    });
}

describe("publishing a recording with local FFmpeg packaging", () => {
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let work: string;
  let source: string;

  beforeAll(async () => {
    s3 = await startTestS3(S3_PORT);
    work = await mkdtemp(path.join(os.tmpdir(), "insp-publish-"));
    source = path.join(work, "composed.mp4");
    await makeComposedLikeMp4(source, { seconds: SECONDS, width: 1280, height: 720 });
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("uploads, packages the HLS/DASH ladder with thumbnails and a poster, and reports its way to ready", { timeout: 240_000 }, async () => {
    const publisher = createPublisher(s3.config);
    const reports: Report[] = [];
    const published = await publisher.publishRecording({
      classId: "class_1",
      recordingId: "rec_ladder",
      file: source,
      durationMs: SECONDS * 1000,
      report: (status, progress, details) => {
        reports.push({ status, progress, details });
      },
    });
    publisher.close();

    const statuses = reports.map((report) => report.status);
    expect(statuses[0]).toBe("uploading");
    expect(statuses.at(-1)).toBe("ready");
    expect(statuses.indexOf("packaging")).toBeGreaterThan(statuses.lastIndexOf("uploading"));
    expect(statuses.filter((status) => status === "packaging").length).toBeGreaterThan(1);
    const progress = reports.map((report) => report.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(100);
    expect(reports.at(-1)!.details).toEqual(published);

    const prefix = recordingPrefix("class_1", "rec_ladder");
    const base = `${s3.config.s3.publicUrl}/${prefix}`;
    expect(published).toEqual({
      sourceKey: `${prefix}source.mp4`,
      hlsManifestUrl: `${base}stream/master.m3u8`,
      dashManifestUrl: `${base}stream/manifest.mpd`,
      posterUrl: `${base}poster.jpg`,
      thumbnailsVttUrl: `${base}thumbnails/thumbnails.vtt`,
    });

    // Both manifests open over HTTP as a player would, with the three rungs and the AAC track.
    for (const manifest of [published.hlsManifestUrl!, published.dashManifestUrl]) {
      const { streams, format } = await probe(manifest);
      const videos = streams.filter((stream) => stream.codec_type === "video");
      const sizes = [...new Set(videos.map((stream) => `${stream.width}x${stream.height}`))].sort();
      expect(sizes).toEqual(LADDER.map((rendition) => `${rendition.width}x${rendition.height}`).sort());
      expect(videos.every((stream) => stream.codec_name === "h264")).toBe(true);
      const audio = streams.find((stream) => stream.codec_type === "audio")!;
      expect(audio).toMatchObject({ codec_name: "aac", sample_rate: "48000", channels: 2 });
      expect(Number(format.duration)).toBeCloseTo(SECONDS, 0);
      for (const rendition of LADDER) {
        const measured = Number(videos.find((stream) => stream.height === rendition.height)!.bit_rate);
        expect(measured).toBeLessThan(rendition.bitrate * 1.3);
      }
    }
    const mpd = await (await fetch(published.dashManifestUrl)).text();
    const bandwidths = [...mpd.matchAll(/bandwidth="(\d+)"/g)].map((match) => Number(match[1])).sort((a, b) => a - b);
    expect(bandwidths).toEqual([96_000, ...LADDER.map((rendition) => rendition.bitrate)]);
    const master = await (await fetch(published.hlsManifestUrl!)).text();
    expect(master).toContain("RESOLUTION=1920x1080");
    expect(master).toContain("RESOLUTION=640x360");

    // The player fetches from the app's origin.
    const cors = await fetch(published.dashManifestUrl, { headers: { Origin: APP_ORIGIN } });
    expect(cors.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(cors.headers.get("content-type")).toMatch(/^application\/dash\+xml/);

    // One thumbnail per 5 s (0 s and 5 s of a 6 s recording), each also in the sprite the WebVTT track points at.
    const thumbnails = (await publisherKeys(`${prefix}thumbnails/`)).filter((key) => /thumb-\d+\.jpg$/.test(key));
    expect(thumbnails).toHaveLength(Math.ceil(SECONDS / 5));
    const cues = parseVtt(await (await fetch(published.thumbnailsVttUrl)).text());
    expect(cues.map((cue) => [cue.start, cue.end])).toEqual([
      [0, 5],
      [5, SECONDS],
    ]);
    const sprite = (await probe(`${base}thumbnails/sprite.jpg`)).streams[0]!;
    for (const cue of cues) {
      const match = /^sprite\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(cue.payload)!;
      expect(match).not.toBeNull();
      const [x, y, w, h] = match.slice(1).map(Number) as [number, number, number, number];
      expect([w, h]).toEqual([160, 90]);
      expect(x + w).toBeLessThanOrEqual(sprite.width!);
      expect(y + h).toBeLessThanOrEqual(sprite.height!);
    }
    const poster = (await probe(published.posterUrl)).streams[0]!;
    expect([poster.codec_name, poster.width, poster.height]).toEqual(["mjpeg", 1280, 720]);
  });

  it("reports failed with a reason, keeps the uploaded source and removes stale outputs when packaging fails", async () => {
    const prefix = recordingPrefix("class_1", "rec_broken");
    const publisher = createPublisher(s3.config);
    // A manifest left by an earlier attempt must not stay visible next to a failed recording.
    await publisher.store.putText(`${prefix}stream/manifest.mpd`, "<MPD/>");
    const broken = path.join(work, "broken.mp4");
    await writeFile(broken, "this is not a video");
    const reports: Report[] = [];
    const publishing = publisher.publishRecording({
      classId: "class_1",
      recordingId: "rec_broken",
      file: broken,
      durationMs: 5000,
      report: (status, progress, details) => void reports.push({ status, progress, details }),
    });
    await expect(publishing).rejects.toBeInstanceOf(PublishError);
    const last = reports.at(-1)!;
    expect(last.status).toBe("failed");
    expect(last.details?.failureReason).toMatch(/^Packaging the recording failed: the recording file cannot be read/);
    expect(last.details?.sourceKey).toBe(`${prefix}source.mp4`);
    expect(await publisher.store.listKeys(prefix)).toEqual([`${prefix}source.mp4`]);
    publisher.close();
  });

  it("reports failed with a reason when S3 cannot be reached", async () => {
    const publisher = createPublisher({ ...s3.config, s3: { ...s3.config.s3, endpoint: `http://127.0.0.1:${DEAD_PORT}` } }, { maxAttempts: 2 });
    const reports: Report[] = [];
    const publishing = publisher.publishRecording({
      classId: "class_1",
      recordingId: "rec_offline",
      file: source,
      durationMs: SECONDS * 1000,
      report: (status, progress, details) => void reports.push({ status, progress, details }),
    });
    await expect(publishing).rejects.toThrow(/^Uploading the recording failed: .*ECONNREFUSED/);
    expect(reports.map((report) => report.status)).toEqual(["uploading", "failed"]);
    expect(reports.at(-1)!.details).toEqual({ failureReason: expect.stringMatching(/^Uploading the recording failed: .*ECONNREFUSED/) });
    publisher.close();
  });

  /** Keys under `prefix`, read with a fresh client. */
  async function publisherKeys(prefix: string): Promise<string[]> {
    const publisher = createPublisher(s3.config);
    try {
      return await publisher.store.listKeys(prefix);
    } finally {
      publisher.close();
    }
  }
});
