import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/config";
import { loadStorageConfig } from "../src/storage/config";

const local = { S3_ENDPOINT: "http://127.0.0.1:8837/", S3_BUCKET: "insp-live-recordings", S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER" };
const mediaConvert = {
  MEDIACONVERT_ROLE_ARN: "arn:aws:iam::123456789012:role/MediaConvertRecordings",
  MEDIACONVERT_ENDPOINT: "https://abcd1234.mediaconvert.eu-west-1.amazonaws.com",
};
const WIDEVINE = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";

describe("storage settings", () => {
  it("is off when no storage setting is present", () => {
    expect(loadStorageConfig({ WORKER_URL: "http://127.0.0.1:8787" })).toBeUndefined();
  });

  it("reads a local S3-compatible store and packages with FFmpeg", () => {
    const config = loadStorageConfig(local)!;
    expect(config.s3).toEqual({
      endpoint: "http://127.0.0.1:8837",
      region: "us-east-1",
      bucket: "insp-live-recordings",
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      publicUrl: "http://127.0.0.1:8837/insp-live-recordings",
    });
    expect(config.mediaConvert).toBeUndefined();
    expect(config.ffmpegPreset).toBeUndefined();
  });

  it("uses the bucket's AWS URL, or S3_PUBLIC_URL (CloudFront), for browsers", () => {
    expect(loadStorageConfig({ S3_BUCKET: "recordings", S3_REGION: "eu-west-1" })!.s3.publicUrl).toBe("https://recordings.s3.eu-west-1.amazonaws.com");
    expect(loadStorageConfig({ S3_BUCKET: "recordings", S3_PUBLIC_URL: "https://d111.cloudfront.net/" })!.s3.publicUrl).toBe("https://d111.cloudfront.net");
  });

  it("switches to MediaConvert with its role, and adds DRM when SPEKE is set", () => {
    const plain = loadStorageConfig({ S3_BUCKET: "recordings", S3_REGION: "eu-west-1", ...mediaConvert })!;
    expect(plain.mediaConvert).toEqual({
      endpoint: mediaConvert.MEDIACONVERT_ENDPOINT,
      roleArn: mediaConvert.MEDIACONVERT_ROLE_ARN,
      queueArn: undefined,
      speke: undefined,
    });
    const drm = loadStorageConfig({
      S3_BUCKET: "recordings",
      ...mediaConvert,
      SPEKE_URL: "https://keys.example.com/speke/v1.0/copyProtection",
      SPEKE_SYSTEM_IDS: `${WIDEVINE}, 9a04f079-9840-4286-ab92-e65be0885f95`,
    })!;
    expect(drm.mediaConvert?.speke).toEqual({
      url: "https://keys.example.com/speke/v1.0/copyProtection",
      certificateArn: undefined,
      systemIds: [WIDEVINE, "9a04f079-9840-4286-ab92-e65be0885f95"],
    });
  });

  it("names the missing or bad setting", () => {
    expect(() => loadStorageConfig({ S3_ENDPOINT: "http://127.0.0.1:8837" })).toThrow(new ConfigError("S3_BUCKET is required but not set"));
    expect(() => loadStorageConfig({ ...local, S3_BUCKET: "Recordings_Bucket" })).toThrow(/^S3_BUCKET: must be a valid S3 bucket name/);
    expect(() => loadStorageConfig({ ...local, S3_ENDPOINT: "ftp://127.0.0.1" })).toThrow(/^S3_ENDPOINT: /);
    expect(() => loadStorageConfig({ ...local, S3_REGION: "Europe" })).toThrow(/^S3_REGION: /);
    expect(() => loadStorageConfig({ ...local, FFMPEG_X264_PRESET: "fastest" })).toThrow(/^FFMPEG_X264_PRESET: must be one of ultrafast, /);
    expect(() => loadStorageConfig({ S3_BUCKET: "recordings", S3_ACCESS_KEY_ID: "AKIA" })).toThrow(/^S3_SECRET_ACCESS_KEY is required/);
    expect(() => loadStorageConfig({ ...local, MEDIACONVERT_ROLE_ARN: "MediaConvertRole" })).toThrow(/^MEDIACONVERT_ROLE_ARN: must be an IAM role ARN/);
    expect(() => loadStorageConfig({ ...local, MEDIACONVERT_ENDPOINT: mediaConvert.MEDIACONVERT_ENDPOINT })).toThrow(
      /^MEDIACONVERT_ROLE_ARN is required when MEDIACONVERT_ENDPOINT is set/,
    );
    expect(() => loadStorageConfig({ ...local, SPEKE_URL: "https://keys.example.com" })).toThrow(/^MEDIACONVERT_ROLE_ARN is required when SPEKE_URL is set/);
    expect(() => loadStorageConfig({ ...local, ...mediaConvert, SPEKE_URL: "https://keys.example.com" })).toThrow(/^SPEKE_SYSTEM_IDS is required/);
    expect(() => loadStorageConfig({ ...local, ...mediaConvert, SPEKE_URL: "http://keys.example.com", SPEKE_SYSTEM_IDS: WIDEVINE })).toThrow(
      /^SPEKE_URL: must be https/,
    );
    expect(() => loadStorageConfig({ ...local, ...mediaConvert, SPEKE_URL: "https://keys.example.com", SPEKE_SYSTEM_IDS: "widevine" })).toThrow(
      /^SPEKE_SYSTEM_IDS: /,
    );
  });
});
