import { HeadObjectCommand } from "@aws-sdk/client-s3";
import {
  CancelJobCommand,
  CreateJobCommand,
  GetJobCommand,
  type Job,
  type JobSettings,
  MediaConvertClient,
  type Output,
  type OutputGroup,
} from "@aws-sdk/client-mediaconvert";
import { log } from "../log";
import type { MediaConvertSettings } from "./config";
import {
  AUDIO,
  GOP_SECONDS,
  LADDER,
  MAX_THUMBNAILS,
  type PackagedRecording,
  type Packager,
  PackagingError,
  type PackageRequest,
  SEGMENT_SECONDS,
  thumbnailInterval,
  thumbnailsVtt,
} from "./packager";
import type { RecordingStore } from "./s3";

/** Frame captures double as the poster, so they are taken at a size a poster can use. */
const CAPTURE_SIZE = { width: 640, height: 360 } as const;
/** Share of the packaging progress the job takes; the rest is checking outputs and writing the WebVTT track. */
const JOB_SHARE = 95;

const AUDIO_DESCRIPTION = {
  AudioSourceName: "Audio Selector 1",
  CodecSettings: {
    Codec: "AAC",
    AacSettings: { Bitrate: AUDIO.bitrate, SampleRate: AUDIO.sampleRate, CodingMode: "CODING_MODE_2_0", CodecProfile: "LC", RateControlMode: "CBR" },
  },
} as const;

function videoDescription(width: number, height: number, bitrate: number) {
  return {
    Width: width,
    Height: height,
    ScalingBehavior: "DEFAULT",
    CodecSettings: {
      Codec: "H_264",
      H264Settings: {
        RateControlMode: "CBR",
        Bitrate: bitrate,
        CodecProfile: "HIGH",
        CodecLevel: "AUTO",
        GopSize: GOP_SECONDS,
        GopSizeUnits: "SECONDS",
        // Key frames only on the GOP cadence, so every rendition switches at the same points.
        SceneChangeDetect: "DISABLED",
        FramerateControl: "INITIALIZE_FROM_SOURCE",
        QualityTuningLevel: "SINGLE_PASS_HQ",
      },
    },
  } as const;
}

/** Where a job writes, and so where the packager looks for its outputs. */
function outputKeys(prefix: string) {
  return {
    dashDestination: `${prefix}dash/index`,
    dashManifest: `${prefix}dash/index.mpd`,
    hlsDestination: `${prefix}hls/index`,
    hlsManifest: `${prefix}hls/index.m3u8`,
    thumbnailsDestination: `${prefix}thumbnails/thumb`,
    thumbnailsFolder: `${prefix}thumbnails/`,
    thumbnailsVtt: `${prefix}thumbnails/thumbnails.vtt`,
  };
}

/**
 * The job: a DASH ISO group with the ladder (video-only representations plus one AAC audio representation,
 * SPEKE-encrypted when DRM is configured), an HLS group with the same ladder (audio muxed in each rendition;
 * left out under DRM, which is DASH-only here), and frame captures one per interval up to 100.
 */
export function mediaConvertJobSettings(options: {
  sourceUrl: string;
  destination: (key: string) => string;
  prefix: string;
  durationMs: number;
  recordingId: string;
  speke: MediaConvertSettings["speke"];
}): JobSettings {
  const keys = outputKeys(options.prefix);
  const dashOutputs: Output[] = [
    ...LADDER.map(
      (rendition) =>
        ({
          NameModifier: `_${rendition.name}`,
          ContainerSettings: { Container: "MPD" },
          VideoDescription: videoDescription(rendition.width, rendition.height, rendition.bitrate),
        }) as Output,
    ),
    { NameModifier: "_audio", ContainerSettings: { Container: "MPD" }, AudioDescriptions: [AUDIO_DESCRIPTION] } as Output,
  ];
  const dash: OutputGroup = {
    Name: "DASH",
    OutputGroupSettings: {
      Type: "DASH_ISO_GROUP_SETTINGS",
      DashIsoGroupSettings: {
        Destination: options.destination(keys.dashDestination),
        SegmentLength: SEGMENT_SECONDS,
        FragmentLength: GOP_SECONDS,
        SegmentControl: "SEGMENTED_FILES",
        ...(options.speke
          ? {
              Encryption: {
                SpekeKeyProvider: {
                  Url: options.speke.url,
                  ResourceId: options.recordingId,
                  SystemIds: options.speke.systemIds,
                  ...(options.speke.certificateArn ? { CertificateArn: options.speke.certificateArn } : {}),
                },
              },
            }
          : {}),
      },
    },
    Outputs: dashOutputs,
  };
  const hls: OutputGroup = {
    Name: "HLS",
    OutputGroupSettings: {
      Type: "HLS_GROUP_SETTINGS",
      HlsGroupSettings: {
        Destination: options.destination(keys.hlsDestination),
        SegmentLength: SEGMENT_SECONDS,
        MinSegmentLength: 0,
        SegmentControl: "SEGMENTED_FILES",
      },
    },
    Outputs: LADDER.map((rendition) => ({
      NameModifier: `_${rendition.name}`,
      ContainerSettings: { Container: "M3U8" },
      VideoDescription: videoDescription(rendition.width, rendition.height, rendition.bitrate),
      AudioDescriptions: [AUDIO_DESCRIPTION],
    })) as Output[],
  };
  const thumbnails: OutputGroup = {
    Name: "Thumbnails",
    OutputGroupSettings: { Type: "FILE_GROUP_SETTINGS", FileGroupSettings: { Destination: options.destination(keys.thumbnailsDestination) } },
    Outputs: [
      {
        ContainerSettings: { Container: "RAW" },
        Extension: "jpg",
        VideoDescription: {
          Width: CAPTURE_SIZE.width,
          Height: CAPTURE_SIZE.height,
          CodecSettings: {
            Codec: "FRAME_CAPTURE",
            FrameCaptureSettings: {
              FramerateNumerator: 1,
              FramerateDenominator: thumbnailInterval(options.durationMs),
              MaxCaptures: MAX_THUMBNAILS,
              Quality: 80,
            },
          },
        },
      },
    ],
  };
  return {
    Inputs: [
      {
        FileInput: options.sourceUrl,
        TimecodeSource: "ZEROBASED",
        VideoSelector: {},
        AudioSelectors: { "Audio Selector 1": { DefaultSelection: "DEFAULT" } },
      },
    ],
    OutputGroups: options.speke ? [dash, thumbnails] : [dash, hls, thumbnails],
  };
}

/**
 * Packages with AWS Elemental MediaConvert: `CreateJob` reading the source from S3 and writing to the recording's
 * prefix, then `GetJob` until the job ends. An EventBridge rule ("MediaConvert Job State Change") delivered to a
 * webhook can make this prompter: the webhook calls {@link MediaConvertPackager.jobChanged} with the job id and
 * the packager re-reads the job at once (it never trusts the event's body), instead of at the next poll.
 */
export class MediaConvertPackager implements Packager {
  readonly name = "mediaconvert";
  private readonly client: MediaConvertClient;
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number | undefined;
  /** Jobs being waited for → wakes their poll loop. */
  private readonly waiting = new Map<string, () => void>();

  constructor(
    private readonly store: RecordingStore,
    region: string,
    private readonly settings: MediaConvertSettings,
    options: { pollIntervalMs?: number; timeoutMs?: number; credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
  ) {
    this.client = new MediaConvertClient({ region, endpoint: settings.endpoint, credentials: options.credentials });
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.timeoutMs = options.timeoutMs;
  }

  /** A state-change event arrived for `jobId` (EventBridge webhook): poll it now. Unknown ids are ignored. */
  jobChanged(jobId: string): void {
    this.waiting.get(jobId)?.();
  }

  async package(request: PackageRequest): Promise<PackagedRecording> {
    const keys = outputKeys(request.outputPrefix);
    const settings = mediaConvertJobSettings({
      sourceUrl: this.store.s3Url(request.sourceKey),
      destination: (key) => this.store.s3Url(key),
      prefix: request.outputPrefix,
      durationMs: request.durationMs,
      recordingId: request.recordingId,
      speke: this.settings.speke,
    });
    let job: Job | undefined;
    try {
      ({ Job: job } = await this.client.send(
        new CreateJobCommand({
          Role: this.settings.roleArn,
          Queue: this.settings.queueArn,
          Settings: settings,
          UserMetadata: { recordingId: request.recordingId },
          StatusUpdateInterval: "SECONDS_10",
          // Retrying CreateJob after a lost response must not start a second job.
          ClientRequestToken: `${request.recordingId}-${Date.now()}`,
        }),
      ));
    } catch (error) {
      throw new PackagingError(`MediaConvert refused the job: ${(error as Error).message}`);
    }
    const jobId = job?.Id;
    if (!jobId) throw new PackagingError("MediaConvert returned no job id");
    log("info", "storage.mediaconvert_job", { recordingId: request.recordingId, jobId });

    await this.waitForJob(jobId, request);

    const dashThere = await this.exists(keys.dashManifest);
    if (!dashThere) throw new PackagingError(`MediaConvert job ${jobId} completed without ${keys.dashManifest}`);
    const captures = (await this.store.listKeys(keys.thumbnailsFolder)).filter((key) => key.endsWith(".jpg")).sort();
    if (captures.length === 0) throw new PackagingError(`MediaConvert job ${jobId} completed without thumbnails`);
    const interval = thumbnailInterval(request.durationMs);
    const names = captures.map((key) => key.slice(keys.thumbnailsFolder.length));
    await this.store.putText(keys.thumbnailsVtt, thumbnailsVtt(names, interval, request.durationMs / 1000));
    request.onProgress(100);
    // The poster: the capture a tenth of the way in (at most a minute), like the local packager's.
    const posterIndex = Math.min(captures.length - 1, Math.floor(Math.min(60, request.durationMs / 10_000) / interval));
    return {
      hlsManifestKey: this.settings.speke ? null : keys.hlsManifest,
      dashManifestKey: keys.dashManifest,
      posterKey: captures[posterIndex]!,
      thumbnailsVttKey: keys.thumbnailsVtt,
    };
  }

  /**
   * Polls `GetJob` until COMPLETE (resolves) or ERROR/CANCELED/timeout (rejects), mapping progress. When it
   * stops following a job that is still running (the service unreachable, the deadline passed), it cancels the
   * job, so no output appears after the caller has cleaned up.
   */
  private async waitForJob(jobId: string, request: PackageRequest): Promise<void> {
    const deadline = Date.now() + (this.timeoutMs ?? Math.max(3_600_000, request.durationMs * 10));
    let ended = false;
    try {
      for (;;) {
        const { Job: job } = await this.client.send(new GetJobCommand({ Id: jobId }));
        switch (job?.Status) {
          case "COMPLETE":
            ended = true;
            request.onProgress(JOB_SHARE);
            return;
          case "ERROR":
            ended = true;
            throw new PackagingError(`MediaConvert job ${jobId} failed: ${job.ErrorMessage ?? "no message"} (error ${job.ErrorCode ?? "unknown"})`);
          case "CANCELED":
            ended = true;
            throw new PackagingError(`MediaConvert job ${jobId} was cancelled`);
          case "PROGRESSING":
            request.onProgress(((job.JobPercentComplete ?? 0) * JOB_SHARE) / 100);
            break;
          case "SUBMITTED":
            break;
          default:
            throw new PackagingError(`MediaConvert job ${jobId} has an unknown status ${String(job?.Status)}`);
        }
        if (Date.now() > deadline) throw new PackagingError(`MediaConvert job ${jobId} did not finish in time; cancelled`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollIntervalMs);
          this.waiting.set(jobId, () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } catch (error) {
      if (!ended)
        await this.client
          .send(new CancelJobCommand({ Id: jobId }))
          .catch((cancelError: Error) => log("warn", "storage.mediaconvert_cancel_failed", { jobId, error: cancelError.message }));
      throw error;
    } finally {
      this.waiting.delete(jobId);
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.store.client.send(new HeadObjectCommand({ Bucket: this.store.bucket, Key: key }));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === "NotFound") return false;
      throw error;
    }
  }
}
