import * as v from "valibot";
import { ConfigError } from "../config";

/** Where recordings are stored and how browsers reach them. */
export interface S3Settings {
  /** S3-compatible endpoint (s3rver locally); undefined = AWS's regional endpoint. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** Static credentials; undefined = the SDK's default chain (instance role on a VM). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Base URL browsers fetch packaged files from (CloudFront or the bucket); an object's URL is `<base>/<key>`. */
  publicUrl: string;
}

/** SPEKE key provider for DRM-protected DASH output. */
export interface SpekeSettings {
  url: string;
  /** ACM certificate used to encrypt the content keys in transit, when the key provider requires it. */
  certificateArn: string | undefined;
  /** DRM system ids (Widevine, PlayReady…) the key provider returns keys for. */
  systemIds: string[];
}

/** AWS Elemental MediaConvert, used in place of local FFmpeg when its settings are present. */
export interface MediaConvertSettings {
  /** Account endpoint (older accounts) or a local test server; undefined = the regional endpoint. */
  endpoint: string | undefined;
  /** IAM role MediaConvert assumes to read the source and write the outputs. */
  roleArn: string;
  queueArn: string | undefined;
  speke: SpekeSettings | undefined;
}

/** x264 speed presets, fastest first. */
export const X264_PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

/** Storage and packaging settings of the node. */
export interface StorageConfig {
  s3: S3Settings;
  /** undefined = package with local FFmpeg. */
  mediaConvert: MediaConvertSettings | undefined;
  /** x264 preset of local packaging for every rung (`FFMPEG_X264_PRESET`); undefined = each rung's own. */
  ffmpegPreset?: X264Preset;
}

const HttpUrl = v.pipe(v.string(), v.url("must be a URL"), v.regex(/^https?:\/\//, "must be http(s)"));
const Arn = v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$/, "must be an ARN (arn:aws:…)"));
const IamRoleArn = v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"));
/** S3 bucket naming rules: 3–63 lower-case letters, digits, dots and hyphens, starting and ending alphanumeric. */
const BucketName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name"));
const Region = v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as eu-west-1"));
const SystemIds = v.pipe(
  v.string(),
  v.transform((value) =>
    value
      .split(",")
      .map((id) => id.trim())
      .filter(Boolean),
  ),
  v.minLength(1, "must list at least one DRM system id"),
  v.check(
    (ids) => ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)),
    "must be comma-separated DRM system ids (UUIDs)",
  ),
);

const EnvSchema = v.object({
  S3_ENDPOINT: v.optional(HttpUrl),
  S3_REGION: v.optional(Region, "us-east-1"),
  S3_BUCKET: BucketName,
  S3_ACCESS_KEY_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  S3_SECRET_ACCESS_KEY: v.optional(v.pipe(v.string(), v.minLength(1))),
  S3_PUBLIC_URL: v.optional(HttpUrl),
  MEDIACONVERT_ENDPOINT: v.optional(HttpUrl),
  MEDIACONVERT_ROLE_ARN: v.optional(IamRoleArn),
  MEDIACONVERT_QUEUE_ARN: v.optional(Arn),
  SPEKE_URL: v.optional(v.pipe(HttpUrl, v.regex(/^https:\/\//, "must be https (MediaConvert only calls https key providers)"))),
  SPEKE_CERTIFICATE_ARN: v.optional(Arn),
  SPEKE_SYSTEM_IDS: v.optional(SystemIds),
  FFMPEG_X264_PRESET: v.optional(v.picklist(X264_PRESETS, `must be one of ${X264_PRESETS.join(", ")}`)),
});

const STORAGE_VARIABLES = [
  "S3_ENDPOINT",
  "S3_BUCKET",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "S3_PUBLIC_URL",
  "MEDIACONVERT_ENDPOINT",
  "MEDIACONVERT_ROLE_ARN",
];

/**
 * Reads the storage settings. Returns undefined when none is set (the node then runs without publishing
 * recordings); throws {@link ConfigError} naming the setting when one is missing or invalid.
 *
 * - `S3_BUCKET` (required), `S3_REGION` (default us-east-1), `S3_ENDPOINT` (S3-compatible server; path-style
 *   addressing), `S3_ACCESS_KEY_ID` + `S3_SECRET_ACCESS_KEY` (both or neither), `S3_PUBLIC_URL` (default: the
 *   bucket's URL).
 * - `MEDIACONVERT_ROLE_ARN` switches packaging to MediaConvert; `MEDIACONVERT_ENDPOINT`, `MEDIACONVERT_QUEUE_ARN`.
 * - `FFMPEG_X264_PRESET`: one speed/size trade-off for every rung of local packaging (default: superfast for
 *   360p, ultrafast for the high-bitrate rungs).
 * - `SPEKE_URL` + `SPEKE_SYSTEM_IDS` (+ `SPEKE_CERTIFICATE_ARN`) add DRM; MediaConvert only (the job's role
 *   calls the key provider; the recording id is the SPEKE resource id).
 */
export function loadStorageConfig(env: NodeJS.ProcessEnv = process.env): StorageConfig | undefined {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  if (!STORAGE_VARIABLES.some((name) => name in present)) return undefined;
  const result = v.safeParse(EnvSchema, present);
  if (!result.success) {
    const issue = result.issues[0]!;
    const name = issue.path?.map((p) => String(p.key)).join(".") ?? "environment";
    if (issue.received === "undefined") throw new ConfigError(`${name} is required but not set`);
    throw new ConfigError(`${name}: ${issue.message}`);
  }
  const e = result.output;
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError(`${e.S3_ACCESS_KEY_ID === undefined ? "S3_ACCESS_KEY_ID" : "S3_SECRET_ACCESS_KEY"} is required when the other S3 key setting is set`);
  }
  const endpoint = e.S3_ENDPOINT?.replace(/\/+$/, "");
  const s3: S3Settings = {
    endpoint,
    region: e.S3_REGION,
    bucket: e.S3_BUCKET,
    credentials: e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } : undefined,
    publicUrl: (e.S3_PUBLIC_URL ?? (endpoint ? `${endpoint}/${e.S3_BUCKET}` : `https://${e.S3_BUCKET}.s3.${e.S3_REGION}.amazonaws.com`)).replace(/\/+$/, ""),
  };

  const spekeSet = ["SPEKE_URL", "SPEKE_SYSTEM_IDS", "SPEKE_CERTIFICATE_ARN"].filter((name) => name in present);
  if (e.MEDIACONVERT_ROLE_ARN === undefined) {
    const orphan = ["MEDIACONVERT_ENDPOINT", "MEDIACONVERT_QUEUE_ARN", ...spekeSet].find((name) => name in present);
    if (orphan)
      throw new ConfigError(`MEDIACONVERT_ROLE_ARN is required when ${orphan} is set (local FFmpeg packaging takes no ${orphan.split("_")[0]} settings)`);
    return { s3, mediaConvert: undefined, ffmpegPreset: e.FFMPEG_X264_PRESET };
  }
  if (spekeSet.length > 0 && (e.SPEKE_URL === undefined || e.SPEKE_SYSTEM_IDS === undefined)) {
    throw new ConfigError(`${e.SPEKE_URL === undefined ? "SPEKE_URL" : "SPEKE_SYSTEM_IDS"} is required when ${spekeSet[0]} is set`);
  }
  return {
    s3,
    ffmpegPreset: e.FFMPEG_X264_PRESET,
    mediaConvert: {
      endpoint: e.MEDIACONVERT_ENDPOINT?.replace(/\/+$/, ""),
      roleArn: e.MEDIACONVERT_ROLE_ARN,
      queueArn: e.MEDIACONVERT_QUEUE_ARN,
      speke: e.SPEKE_URL && e.SPEKE_SYSTEM_IDS ? { url: e.SPEKE_URL, certificateArn: e.SPEKE_CERTIFICATE_ARN, systemIds: e.SPEKE_SYSTEM_IDS } : undefined,
    },
  };
}
