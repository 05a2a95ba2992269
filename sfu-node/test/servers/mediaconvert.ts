/**
 * A local stand-in for AWS Elemental MediaConvert's REST API (2017-08-29), for the real
 * `@aws-sdk/client-mediaconvert` to talk to. It checks what the service checks before accepting a job
 * (a SigV4 signature by the known key, the role, well-formed output groups: H.264 video with a bitrate for CBR,
 * AAC at a bitrate and sample rate the coding mode allows, frame-capture settings, s3:// destinations in the
 * bucket, audio descriptions naming a defined selector) and answers in the service's JSON shapes. A job advances
 * one step each time `GetJob` reads it — SUBMITTED → PROGRESSING (percent) … → COMPLETE — and on completion
 * writes output objects where the service would, so the caller's post-processing sees a real result.
 */
import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";

const run = promisify(execFile);

/** Client JSON as it arrives on the wire (lowerCamelCase members); the checks below walk it field by field. */
type Json = any;

export interface ReceivedJob {
  id: string;
  body: Json;
  /** Statuses returned by GetJob for this job, in order. */
  statuses: string[];
}

export interface FakeMediaConvertOptions {
  port: number;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The only role the account lets MediaConvert assume. */
  roleArn: string;
  /** Where sources are read from (public HTTP base of the bucket, for ffprobe) and outputs are written. */
  s3: { client: S3Client; bucket: string; publicUrl: string };
  /** A real JPEG to store for each frame capture. */
  captureJpeg: Buffer;
  /** Jobs end in ERROR with this code and message after writing part of their output. */
  failJobs?: { errorCode: number; errorMessage: string };
}

export interface FakeMediaConvert {
  url: string;
  jobs: ReceivedJob[];
  close(): Promise<void>;
}

const PROGRESS_STEPS = [25, 60, 90];
const ROLE_ARN = /^arn:aws:iam::\d{12}:role\/.+$/;

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Recomputes the SigV4 signature of a request; undefined when it matches, else why not. */
function checkSignature(request: http.IncomingMessage, body: Buffer, options: FakeMediaConvertOptions): string | undefined {
  const authorization = request.headers.authorization ?? "";
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
    authorization,
  );
  if (!match) return "missing or malformed SigV4 Authorization header";
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  if (accessKeyId !== options.credentials.accessKeyId) return "The security token included in the request is invalid.";
  if (region !== options.region || service !== "mediaconvert") return `Credential should be scoped to a valid region and service (got ${region}/${service})`;
  const amzDate = String(request.headers["x-amz-date"] ?? "");
  const payloadHash = sha256Hex(body);
  if (request.headers["x-amz-content-sha256"] !== undefined && request.headers["x-amz-content-sha256"] !== payloadHash)
    return "The provided 'x-amz-content-sha256' header does not match what was computed.";
  const url = new URL(request.url ?? "/", "http://localhost");
  const query = [...url.searchParams.entries()]
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .sort()
    .join("&");
  const headerNames = signedHeaders!.split(";");
  const canonicalHeaders = headerNames
    .map(
      (name) =>
        `${name}:${String(request.headers[name] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonicalRequest = [request.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${options.credentials.secretAccessKey}`).update(date!).digest();
  for (const part of [region!, service!, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex");
  return expected === signature ? undefined : "The request signature we calculated does not match the signature you provided.";
}

/** The checks CreateJob makes before accepting a job; returns the service's message for the first problem. */
function validateJob(body: Json, options: FakeMediaConvertOptions): string | undefined {
  if (typeof body?.role !== "string" || !ROLE_ARN.test(body.role)) return "/role: must be an IAM role ARN";
  if (body.role !== options.roleArn) return `Unable to assume role ${body.role}; the role is not trusted by mediaconvert.amazonaws.com`;
  const settings = body.settings;
  const inputs = settings?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return "/settings/inputs: at least one input is required";
  const selectors = new Set<string>();
  for (const [i, input] of inputs.entries()) {
    if (typeof input.fileInput !== "string" || !input.fileInput.startsWith("s3://")) return `/settings/inputs/${i}/fileInput: must be an s3:// or https:// URL`;
    for (const name of Object.keys(input.audioSelectors ?? {})) selectors.add(name);
  }
  const groups = settings.outputGroups;
  if (!Array.isArray(groups) || groups.length === 0) return "/settings/outputGroups: at least one output group is required";
  for (const [g, group] of groups.entries()) {
    const path = `/settings/outputGroups/${g}`;
    const type = group.outputGroupSettings?.type;
    const groupSettings = {
      DASH_ISO_GROUP_SETTINGS: group.outputGroupSettings?.dashIsoGroupSettings,
      HLS_GROUP_SETTINGS: group.outputGroupSettings?.hlsGroupSettings,
      FILE_GROUP_SETTINGS: group.outputGroupSettings?.fileGroupSettings,
    }[type as string];
    if (!groupSettings) return `${path}/outputGroupSettings: unsupported or missing type ${type}`;
    const destination = groupSettings.destination;
    if (typeof destination !== "string" || !destination.startsWith(`s3://${options.s3.bucket}/`) || destination.endsWith("/"))
      return `${path}: destination must be s3://${options.s3.bucket}/<folder>/<base name>`;
    if (type !== "FILE_GROUP_SETTINGS" && !(groupSettings.segmentLength > 0)) return `${path}: segmentLength is required`;
    if (!Array.isArray(group.outputs) || group.outputs.length === 0) return `${path}/outputs: at least one output is required`;
    for (const [o, output] of group.outputs.entries()) {
      const outputPath = `${path}/outputs/${o}`;
      const container = output.containerSettings?.container;
      const allowed = { DASH_ISO_GROUP_SETTINGS: ["MPD"], HLS_GROUP_SETTINGS: ["M3U8"], FILE_GROUP_SETTINGS: ["RAW", "MP4"] }[
        type as "DASH_ISO_GROUP_SETTINGS"
      ];
      if (!allowed.includes(container)) return `${outputPath}/containerSettings/container: ${container} is not allowed in ${type}`;
      const video = output.videoDescription;
      const codec = video?.codecSettings?.codec;
      if (video) {
        if (!(video.width > 0 && video.height > 0 && video.width % 2 === 0 && video.height % 2 === 0))
          return `${outputPath}/videoDescription: width and height must be even and positive`;
        if (codec === "H_264") {
          const h264 = video.codecSettings.h264Settings;
          if (h264?.rateControlMode === "CBR" && !(h264.bitrate >= 1000 && h264.bitrate <= 1_152_000_000))
            return `${outputPath}/videoDescription/codecSettings/h264Settings/bitrate: required for CBR, 1000–1152000000`;
        } else if (codec === "FRAME_CAPTURE") {
          if (container !== "RAW") return `${outputPath}: FRAME_CAPTURE needs the RAW container`;
          const capture = video.codecSettings.frameCaptureSettings ?? {};
          if (!(Number.isInteger(capture.framerateNumerator) && capture.framerateNumerator >= 1))
            return `${outputPath}/…/frameCaptureSettings/framerateNumerator: must be an integer ≥ 1`;
          if (!(Number.isInteger(capture.framerateDenominator) && capture.framerateDenominator >= 1))
            return `${outputPath}/…/frameCaptureSettings/framerateDenominator: must be an integer ≥ 1`;
          if (capture.maxCaptures !== undefined && !(capture.maxCaptures >= 1 && capture.maxCaptures <= 10_000_000))
            return `${outputPath}/…/frameCaptureSettings/maxCaptures: 1–10000000`;
          if (capture.quality !== undefined && !(capture.quality >= 1 && capture.quality <= 100)) return `${outputPath}/…/frameCaptureSettings/quality: 1–100`;
        } else {
          return `${outputPath}/videoDescription/codecSettings/codec: ${codec} is not supported here`;
        }
      }
      for (const [a, audio] of (output.audioDescriptions ?? []).entries()) {
        const audioPath = `${outputPath}/audioDescriptions/${a}`;
        if (audio.audioSourceName !== undefined && !selectors.has(audio.audioSourceName))
          return `${audioPath}/audioSourceName: no audio selector named ${audio.audioSourceName}`;
        if (audio.codecSettings?.codec !== "AAC") return `${audioPath}/codecSettings/codec: ${audio.codecSettings?.codec} is not supported here`;
        const aac = audio.codecSettings.aacSettings ?? {};
        if (![8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000].includes(aac.sampleRate))
          return `${audioPath}/…/aacSettings/sampleRate: invalid ${aac.sampleRate}`;
        if (aac.codingMode === "CODING_MODE_2_0" && !(aac.bitrate >= 16000 && aac.bitrate <= 576000))
          return `${audioPath}/…/aacSettings/bitrate: ${aac.bitrate} is not valid for CODING_MODE_2_0`;
      }
      if (!video && !(output.audioDescriptions?.length > 0)) return `${outputPath}: an output needs video or audio`;
      if (type === "DASH_ISO_GROUP_SETTINGS" && video && output.audioDescriptions?.length > 0)
        return `${outputPath}: DASH ISO outputs carry video or audio, not both`;
    }
  }
  return undefined;
}

/** `s3://bucket/key` → key */
function keyOf(s3Url: string, bucket: string): string {
  return s3Url.slice(`s3://${bucket}/`.length);
}

/** Writes the objects a job writes: manifests and a segment per output, and the frame captures. */
async function writeOutputs(job: Json, durationSeconds: number, options: FakeMediaConvertOptions, partial: boolean): Promise<void> {
  const put = (key: string, body: string | Buffer, contentType: string) =>
    options.s3.client.send(new PutObjectCommand({ Bucket: options.s3.bucket, Key: key, Body: body, ContentType: contentType }));
  for (const group of job.settings.outputGroups) {
    const type = group.outputGroupSettings.type;
    if (type === "DASH_ISO_GROUP_SETTINGS") {
      const base = keyOf(group.outputGroupSettings.dashIsoGroupSettings.destination, options.s3.bucket);
      for (const output of group.outputs) await put(`${base}${output.nameModifier ?? ""}_1.mp4`, Buffer.alloc(1024), "video/mp4");
      if (partial) return;
      const representations = group.outputs.map(
        (output: Json, i: number) =>
          `<Representation id="${i}" bandwidth="${output.videoDescription?.codecSettings?.h264Settings?.bitrate ?? output.audioDescriptions?.[0]?.codecSettings?.aacSettings?.bitrate}"/>`,
      );
      await put(
        `${base}.mpd`,
        `<?xml version="1.0"?><MPD mediaPresentationDuration="PT${durationSeconds}S"><Period>${representations.join("")}</Period></MPD>`,
        "application/dash+xml",
      );
    } else if (type === "HLS_GROUP_SETTINGS") {
      const base = keyOf(group.outputGroupSettings.hlsGroupSettings.destination, options.s3.bucket);
      const variants = group.outputs.map(
        (output: Json) =>
          `#EXT-X-STREAM-INF:BANDWIDTH=${output.videoDescription.codecSettings.h264Settings.bitrate},RESOLUTION=${output.videoDescription.width}x${output.videoDescription.height}\n${base.split("/").at(-1)}${output.nameModifier}.m3u8`,
      );
      await put(`${base}.m3u8`, `#EXTM3U\n${variants.join("\n")}\n`, "application/vnd.apple.mpegurl");
    } else {
      const base = keyOf(group.outputGroupSettings.fileGroupSettings.destination, options.s3.bucket);
      for (const output of group.outputs) {
        const capture = output.videoDescription.codecSettings.frameCaptureSettings;
        const count = Math.min(
          capture.maxCaptures ?? Number.POSITIVE_INFINITY,
          Math.floor((durationSeconds * capture.framerateNumerator) / capture.framerateDenominator) + 1,
        );
        for (let i = 0; i < count; i++)
          await put(`${base}${output.nameModifier ?? ""}.${String(i).padStart(7, "0")}.${output.extension ?? "jpg"}`, options.captureJpeg, "image/jpeg");
      }
    }
  }
}

function send(response: http.ServerResponse, status: number, body: Json, errorType?: string): void {
  response.writeHead(status, { "content-type": "application/json", ...(errorType ? { "x-amzn-errortype": errorType } : {}) });
  response.end(JSON.stringify(body));
}

export async function startFakeMediaConvert(options: FakeMediaConvertOptions): Promise<FakeMediaConvert> {
  const jobs: ReceivedJob[] = [];
  const durations = new Map<string, number>();

  async function handle(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): Promise<void> {
    const signatureProblem = checkSignature(request, body, options);
    if (signatureProblem) return send(response, 403, { message: signatureProblem }, "ForbiddenException");
    const path = new URL(request.url ?? "/", "http://localhost").pathname;

    if (request.method === "POST" && path === "/2017-08-29/jobs") {
      let job: Json;
      try {
        job = JSON.parse(body.toString());
      } catch {
        return send(response, 400, { message: "Could not parse request body" }, "BadRequestException");
      }
      const problem = validateJob(job, options);
      if (problem) return send(response, 400, { message: problem }, "BadRequestException");
      const id = `${Date.now()}-${jobs.length}abcdef`;
      jobs.push({ id, body: job, statuses: [] });
      return send(response, 201, {
        job: {
          id,
          arn: `arn:aws:mediaconvert:${options.region}:123456789012:jobs/${id}`,
          role: job.role,
          settings: job.settings,
          status: "SUBMITTED",
          createdAt: Math.floor(Date.now() / 1000),
          userMetadata: job.userMetadata ?? {},
        },
      });
    }

    const getJob = /^\/2017-08-29\/jobs\/([^/]+)$/.exec(path);
    if (request.method === "GET" && getJob) {
      const job = jobs.find((candidate) => candidate.id === decodeURIComponent(getJob[1]!));
      if (!job) return send(response, 404, { message: "Job not found" }, "NotFoundException");
      const step = job.statuses.length;
      let answer: Json | undefined;
      if (step === 0) {
        answer = { status: "SUBMITTED" };
      } else if (job.statuses.at(-1) === "COMPLETE" || job.statuses.at(-1) === "ERROR") {
        answer = {
          status: job.statuses.at(-1),
          ...(job.statuses.at(-1) === "ERROR" && options.failJobs
            ? { errorCode: options.failJobs.errorCode, errorMessage: options.failJobs.errorMessage }
            : {}),
        };
      } else {
        if (step === 1) {
          // The service opens the input when the job starts; an unreadable input fails the job.
          const source = job.body.settings.inputs[0].fileInput as string;
          try {
            const { stdout } = await run("ffprobe", [
              "-v",
              "error",
              "-show_entries",
              "format=duration",
              "-of",
              "csv=p=0",
              `${options.s3.publicUrl}/${keyOf(source, options.s3.bucket)}`,
            ]);
            durations.set(job.id, Number(stdout.trim()));
          } catch {
            answer = { status: "ERROR", errorCode: 1030, errorMessage: `Failed probe/open: [Failed to open input file [${source}]]` };
          }
        }
        if (!answer) {
          const percent = PROGRESS_STEPS[step - 1];
          if (percent !== undefined) {
            answer = { status: "PROGRESSING", jobPercentComplete: percent, currentPhase: "TRANSCODING" };
          } else if (options.failJobs) {
            await writeOutputs(job.body, durations.get(job.id)!, options, true);
            answer = { status: "ERROR", errorCode: options.failJobs.errorCode, errorMessage: options.failJobs.errorMessage };
          } else {
            await writeOutputs(job.body, durations.get(job.id)!, options, false);
            answer = { status: "COMPLETE", jobPercentComplete: 100 };
          }
        }
      }
      job.statuses.push(answer.status);
      return send(response, 200, {
        job: { id: job.id, role: job.body.role, settings: job.body.settings, createdAt: Math.floor(Date.now() / 1000), ...answer },
      });
    }

    const cancel = /^\/2017-08-29\/jobs\/([^/]+)$/.exec(path);
    if (request.method === "DELETE" && cancel) {
      const job = jobs.find((candidate) => candidate.id === decodeURIComponent(cancel[1]!));
      if (!job) return send(response, 404, { message: "Job not found" }, "NotFoundException");
      job.statuses.push("CANCELED");
      response.writeHead(202, { "content-type": "application/json" }).end("{}");
      return;
    }
    send(response, 404, { message: `No route for ${request.method} ${path}` }, "NotFoundException");
  }

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      handle(request, Buffer.concat(chunks), response).catch((error: Error) => send(response, 500, { message: error.message }, "InternalServerErrorException"));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    jobs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
