import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StorageConfig } from "../src/storage/config";
import { LADDER } from "../src/storage/packager";
import { MediaConvertPackager } from "../src/storage/packager-mediaconvert";
import { createPublisher, PublishError, type PublishDetails, RecordingPublisher, type PublishStatus } from "../src/storage/publish";
import { RecordingStore, recordingPrefix } from "../src/storage/s3";
import { type FakeMediaConvert, startFakeMediaConvert } from "./servers/mediaconvert";
import { makeComposedLikeMp4, probe, startTestS3 } from "./storage-helpers";

const run = promisify(execFile);
const S3_PORT = 8882;
const MEDIACONVERT_PORT = 8883;
const ROLE = "arn:aws:iam::123456789012:role/MediaConvertRecordings";
const SECONDS = 6;
const WIDEVINE = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";

interface Report {
  status: PublishStatus;
  progress: number;
  details?: PublishDetails;
}

describe("packaging with AWS MediaConvert (real SDK, local service)", () => {
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let work: string;
  let source: string;
  let captureJpeg: Buffer;
  let service: FakeMediaConvert | undefined;

  beforeAll(async () => {
    s3 = await startTestS3(S3_PORT);
    work = await mkdtemp(path.join(os.tmpdir(), "insp-mediaconvert-"));
    source = path.join(work, "composed.mp4");
    await makeComposedLikeMp4(source, { seconds: SECONDS, width: 1280, height: 720 });
    await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", source, "-frames:v", "1", "-s", "640x360", path.join(work, "capture.jpg")]);
    captureJpeg = await readFile(path.join(work, "capture.jpg"));
  }, 60_000);

  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  afterAll(async () => {
    await s3?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function startService(failJobs?: { errorCode: number; errorMessage: string }): Promise<FakeMediaConvert> {
    const publisher = createPublisher(s3.config);
    service = await startFakeMediaConvert({
      port: MEDIACONVERT_PORT,
      region: "us-east-1",
      credentials: s3.config.s3.credentials!,
      roleArn: ROLE,
      s3: { client: publisher.store.client, bucket: s3.config.s3.bucket, publicUrl: s3.config.s3.publicUrl },
      captureJpeg,
      failJobs,
    });
    return service;
  }

  function mediaConvertConfig(overrides: Partial<NonNullable<StorageConfig["mediaConvert"]>> = {}): StorageConfig {
    return { ...s3.config, mediaConvert: { endpoint: service!.url, roleArn: ROLE, queueArn: undefined, speke: undefined, ...overrides } };
  }

  async function publish(config: StorageConfig, recordingId: string, reports: Report[]) {
    const publisher = createPublisher(config, { pollIntervalMs: 20, reportIntervalMs: 0 });
    try {
      return await publisher.publishRecording({
        classId: "class_mc",
        recordingId,
        file: source,
        durationMs: SECONDS * 1000,
        report: (status, progress, details) => void reports.push({ status, progress, details }),
      });
    } finally {
      publisher.close();
    }
  }

  it("sends a CreateJob the service accepts (ladder, AAC 96k/48k, frame captures, destination) and follows GetJob to ready", async () => {
    const mediaConvert = await startService();
    const reports: Report[] = [];
    const published = await publish(mediaConvertConfig(), "rec_mc", reports);

    const prefix = recordingPrefix("class_mc", "rec_mc");
    const [job] = mediaConvert.jobs;
    expect(mediaConvert.jobs).toHaveLength(1);
    const body = job!.body;
    expect(body.role).toBe(ROLE);
    expect(body.settings.inputs[0].fileInput).toBe(`s3://${s3.config.s3.bucket}/${prefix}source.mp4`);

    const dash = body.settings.outputGroups.find(
      (group: { outputGroupSettings: { type: string } }) => group.outputGroupSettings.type === "DASH_ISO_GROUP_SETTINGS",
    );
    expect(dash.outputGroupSettings.dashIsoGroupSettings.destination).toBe(`s3://${s3.config.s3.bucket}/${prefix}dash/index`);
    const videos = dash.outputs.filter((output: { videoDescription?: unknown }) => output.videoDescription);
    expect(
      videos.map((output: { videoDescription: { width: number; height: number; codecSettings: { codec: string; h264Settings: { bitrate: number } } } }) => [
        output.videoDescription.width,
        output.videoDescription.height,
        output.videoDescription.codecSettings.codec,
        output.videoDescription.codecSettings.h264Settings.bitrate,
      ]),
    ).toEqual(LADDER.map((rendition) => [rendition.width, rendition.height, "H_264", rendition.bitrate]));
    const audio = dash.outputs.find((output: { audioDescriptions?: unknown[] }) => output.audioDescriptions)!.audioDescriptions[0].codecSettings;
    expect(audio).toMatchObject({ codec: "AAC", aacSettings: { bitrate: 96_000, sampleRate: 48_000, codingMode: "CODING_MODE_2_0" } });
    expect(dash.outputGroupSettings.dashIsoGroupSettings.encryption).toBeUndefined();

    const captures = body.settings.outputGroups.find(
      (group: { outputGroupSettings: { type: string } }) => group.outputGroupSettings.type === "FILE_GROUP_SETTINGS",
    );
    expect(captures.outputGroupSettings.fileGroupSettings.destination).toBe(`s3://${s3.config.s3.bucket}/${prefix}thumbnails/thumb`);
    expect(captures.outputs[0].videoDescription.codecSettings).toEqual({
      codec: "FRAME_CAPTURE",
      frameCaptureSettings: { framerateNumerator: 1, framerateDenominator: 5, maxCaptures: 100, quality: 80 },
    });

    // The job was followed through the service's states; its percentage moved the packaging progress.
    expect(job!.statuses).toEqual(["SUBMITTED", "PROGRESSING", "PROGRESSING", "PROGRESSING", "COMPLETE"]);
    const packaging = reports.filter((report) => report.status === "packaging").map((report) => report.progress);
    expect(packaging.length).toBeGreaterThanOrEqual(4);
    expect(packaging).toEqual([...packaging].sort((a, b) => a - b));
    expect(new Set(packaging).size).toBeGreaterThanOrEqual(4);
    expect(reports.at(-1)).toEqual({ status: "ready", progress: 100, details: published });

    const base = `${s3.config.s3.publicUrl}/${prefix}`;
    expect(published).toEqual({
      sourceKey: `${prefix}source.mp4`,
      hlsManifestUrl: `${base}hls/index.m3u8`,
      dashManifestUrl: `${base}dash/index.mpd`,
      posterUrl: `${base}thumbnails/thumb.0000000.jpg`,
      thumbnailsVttUrl: `${base}thumbnails/thumbnails.vtt`,
    });
    // The WebVTT track the packager wrote points each 5 s at one capture; the poster is a real picture.
    const vtt = await (await fetch(published.thumbnailsVttUrl)).text();
    expect(vtt).toBe("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nthumb.0000000.jpg\n\n00:00:05.000 --> 00:00:06.000\nthumb.0000001.jpg\n");
    const poster = (await probe(published.posterUrl)).streams[0]!;
    expect([poster.width, poster.height]).toEqual([640, 360]);
    expect((await fetch(published.dashManifestUrl)).status).toBe(200);
  });

  it("asks for SPEKE encryption and makes DASH only when DRM is configured", async () => {
    const mediaConvert = await startService();
    const reports: Report[] = [];
    const published = await publish(
      mediaConvertConfig({ speke: { url: "https://keys.example.com/speke/v1.0/copyProtection", certificateArn: undefined, systemIds: [WIDEVINE] } }),
      "rec_drm",
      reports,
    );
    const groups = mediaConvert.jobs[0]!.body.settings.outputGroups as {
      outputGroupSettings: { type: string; dashIsoGroupSettings?: { encryption?: unknown } };
    }[];
    expect(groups.map((group) => group.outputGroupSettings.type)).toEqual(["DASH_ISO_GROUP_SETTINGS", "FILE_GROUP_SETTINGS"]);
    expect(groups[0]!.outputGroupSettings.dashIsoGroupSettings!.encryption).toEqual({
      spekeKeyProvider: { url: "https://keys.example.com/speke/v1.0/copyProtection", resourceId: "rec_drm", systemIds: [WIDEVINE] },
    });
    expect(published.hlsManifestUrl).toBeNull();
    expect(reports.at(-1)!.status).toBe("ready");
  });

  it("ends in failed with the job's error and removes the job's partial outputs", async () => {
    await startService({ errorCode: 1040, errorMessage: "Demuxer: [ReadPacketData File read failed - end of file hit at length [1234]. Is file truncated?]" });
    const reports: Report[] = [];
    await expect(publish(mediaConvertConfig(), "rec_mc_error", reports)).rejects.toBeInstanceOf(PublishError);
    expect(reports.at(-1)).toMatchObject({
      status: "failed",
      details: { failureReason: expect.stringMatching(/^Packaging the recording failed: MediaConvert job \S+ failed: Demuxer: .* \(error 1040\)$/) },
    });
    const prefix = recordingPrefix("class_mc", "rec_mc_error");
    const publisher = createPublisher(s3.config);
    expect(await publisher.store.listKeys(prefix)).toEqual([`${prefix}source.mp4`]);
    publisher.close();
  });

  it("ends in failed when the service refuses the job (a role it cannot assume)", async () => {
    const mediaConvert = await startService();
    const reports: Report[] = [];
    await expect(publish(mediaConvertConfig({ roleArn: "arn:aws:iam::123456789012:role/SomeoneElse" }), "rec_mc_role", reports)).rejects.toThrow(
      /^Packaging the recording failed: MediaConvert refused the job: Unable to assume role/,
    );
    expect(mediaConvert.jobs).toHaveLength(0);
    expect(reports.at(-1)!.status).toBe("failed");
  });

  it("ends in failed when the request is not signed by the account's key", async () => {
    const mediaConvert = await startService();
    const reports: Report[] = [];
    const wrongKey: StorageConfig = {
      ...mediaConvertConfig(),
      s3: { ...s3.config.s3, credentials: { accessKeyId: s3.config.s3.credentials!.accessKeyId, secretAccessKey: "not-the-secret" } },
    };
    await expect(publish(wrongKey, "rec_mc_key", reports)).rejects.toThrow(/MediaConvert refused the job: The request signature we calculated does not match/);
    expect(mediaConvert.jobs).toHaveLength(0);
  });

  it("cancels a job that runs past its deadline and ends in failed", async () => {
    const mediaConvert = await startService();
    const config = mediaConvertConfig();
    const store = new RecordingStore(config.s3);
    const packager = new MediaConvertPackager(store, "us-east-1", config.mediaConvert!, {
      pollIntervalMs: 20,
      timeoutMs: 1,
      credentials: config.s3.credentials,
    });
    const publisher = new RecordingPublisher(store, packager);
    const reports: Report[] = [];
    await expect(
      publisher.publishRecording({
        classId: "class_mc",
        recordingId: "rec_slow",
        file: source,
        durationMs: SECONDS * 1000,
        report: (status, progress, details) => void reports.push({ status, progress, details }),
      }),
    ).rejects.toThrow(/MediaConvert job \S+ did not finish in time; cancelled$/);
    expect(mediaConvert.jobs[0]!.statuses.at(-1)).toBe("CANCELED");
    expect(reports.at(-1)!.status).toBe("failed");
    publisher.close();
  });

  it("re-reads the job as soon as an EventBridge state-change webhook names it", async () => {
    const mediaConvert = await startService();
    // Polls an hour apart: only the webhook can move this job along within the test.
    const publisher = createPublisher(mediaConvertConfig(), { pollIntervalMs: 3_600_000, reportIntervalMs: 0 });
    const packager = publisher.packager as MediaConvertPackager;
    expect(packager).toBeInstanceOf(MediaConvertPackager);
    let done = false;
    const publishing = publisher
      .publishRecording({ classId: "class_mc", recordingId: "rec_webhook", file: source, durationMs: SECONDS * 1000, report: () => undefined })
      .finally(() => {
        done = true;
      });
    while (!done) {
      const job = mediaConvert.jobs[0];
      if (job) packager.jobChanged(job.id);
      packager.jobChanged("some-other-job");
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const published = await publishing;
    expect(published.dashManifestUrl).toMatch(/rec_webhook\/dash\/index\.mpd$/);
    expect(mediaConvert.jobs[0]!.statuses.at(-1)).toBe("COMPLETE");
    publisher.close();
  });
});
