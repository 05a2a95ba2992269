import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rename, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { types } from "mediasoup";
import type { MediaSource } from "../../schema/tokens/media-token";
import { MediaNode } from "../src/Node";
import type { Peer } from "../src/Peer";
import type { Room } from "../src/Room";
import { recordingConnection } from "./helpers";

const run = promisify(execFile);

/**
 * A node for recorder tests: two real mediasoup workers on `rtcBase…rtcBase+199` (inside REC-NODE's RTC range
 * 45000-45999). No HTTP server: recorder tests join peers straight into rooms.
 */
export function startRecorderTestNode(rtcBase: number): Promise<MediaNode> {
  return MediaNode.create(
    {
      nodeId: "test-node",
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: rtcBase,
      rtcPortMin: rtcBase + 10,
      rtcPortMax: rtcBase + 199,
      workers: 2,
      consumersPerRouter: 400,
    },
    { logLevel: "error" },
  );
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `insp-rec-${prefix}-`));
}

/** A synthetic picture for a video sender (lavfi source graph). */
export const PICTURES = {
  /** A moving test pattern: every frame differs. */
  testPattern: (fps = 15) => `testsrc=size=160x120:rate=${fps}`,
  solid: (colour: string, fps = 15) => `color=c=${colour}:size=160x120:rate=${fps}`,
  /** Black with a full white frame during the first 100 ms of every second. */
  flashEverySecond: (fps: number) => `color=c=black:size=320x240:rate=${fps},drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'`,
};

/** A synthetic sound for an audio sender (10 ms frames, so gating is sample-exact at whole seconds). */
export const SOUNDS = {
  tone: () => "sine=frequency=440:sample_rate=48000:samples_per_frame=480",
  /** A 1 kHz beep during the first 100 ms of every second. */
  beepEverySecond: () => "sine=frequency=1000:sample_rate=48000:samples_per_frame=480,volume='if(lt(mod(t,1),0.1),1,0)':eval=frame",
};

const SSRC: Record<MediaSource, number> = { audio: 33_333_333, video: 22_222_222, screen: 44_444_444, board: 55_555_555 };
const PAYLOAD_TYPE = { audio: 100, video: 101 } as const;

/** One producer of a test teacher: a plain transport fed by `ffmpeg`. */
export interface TestProducer {
  producer: types.Producer;
  /** Where to send RTP and RTCP for this producer. */
  rtpUrl: string;
}

/** A peer whose media come from FFmpeg over plain RTP (comedia, RTCP not muxed like FFmpeg sends it). */
export async function ffmpegPeer(room: Room, userId: string): Promise<Peer> {
  return room.addPeer({ userId, role: "teacher", produce: ["audio", "video", "screen", "board"], displayName: userId, connection: recordingConnection() });
}

export async function plainProducer(peer: Peer, source: MediaSource): Promise<TestProducer> {
  const kind = source === "audio" ? "audio" : "video";
  const transport = await peer.createPlainTransport("send", { comedia: true, rtcpMux: false });
  const codec =
    kind === "audio"
      ? { mimeType: "audio/opus", payloadType: PAYLOAD_TYPE.audio, clockRate: 48000, channels: 2 }
      : { mimeType: "video/VP8", payloadType: PAYLOAD_TYPE.video, clockRate: 90000 };
  const producer = await peer.producePlain(transport, source, { kind, rtpParameters: { codecs: [codec], encodings: [{ ssrc: SSRC[source] }] } });
  return { producer, rtpUrl: `rtp://127.0.0.1:${transport.tuple.localPort}?rtcpport=${transport.rtcpTuple!.localPort}&pkt_size=1200` };
}

/**
 * Encodes a synthetic stream once into `file` (WebM: VP8 for pictures, Opus for sounds). Senders then copy
 * it into RTP without encoding, which keeps them real-time on a busy two-core machine (a live libvpx
 * encoder starved of CPU falls seconds behind). A picture gets a key frame every `keyFrameEvery` frames (the file
 * cannot answer the recorder's key frame requests as a browser does).
 */
export async function encodeStream(name: string, source: MediaSource, lavfi: string, seconds = 24, keyFrameEvery = 15): Promise<string> {
  const file = path.join(os.tmpdir(), `insp-rec-source-${name}-${seconds}s.webm`);
  // Kept between runs: the same graph always encodes to the same stream.
  if (
    await stat(file).then(
      (info) => info.size > 0,
      () => false,
    )
  )
    return file;
  const codec =
    source === "audio"
      ? ["-c:a", "libopus", "-b:a", "64k", "-ac", "2"]
      : ["-c:v", "libvpx", "-deadline", "good", "-cpu-used", "5", "-b:v", "200k", "-g", String(keyFrameEvery)];
  const partial = `${file}.${process.pid}.part.webm`;
  await run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", String(seconds), ...codec, partial]);
  await rename(partial, file);
  return file;
}

/** Sends a file made by {@link encodeStream} in real time to `target`. */
export function sendStream(target: TestProducer, source: MediaSource, file: string): ChildProcess {
  const kind = source === "audio" ? "audio" : "video";
  return spawnSender([
    "-re",
    "-i",
    file,
    "-map",
    "0",
    "-c",
    "copy",
    "-payload_type",
    String(PAYLOAD_TYPE[kind]),
    "-ssrc",
    String(SSRC[source]),
    "-f",
    "rtp",
    target.rtpUrl,
  ]);
}

/**
 * A picture and a sound encoded once into one WebM file (VP8 + Opus) with exact timestamps, so a sender
 * can stream both without encoding: its RTCP sender reports (which map RTP time to wall time from each
 * stream's first packet) then agree between the two streams, as a browser's do.
 */
export async function encodeAudioVideo(name: string, picture: string, sound: string, seconds: number): Promise<string> {
  const file = path.join(os.tmpdir(), `insp-rec-source-${name}-${seconds}s.webm`);
  if (
    await stat(file).then(
      (info) => info.size > 0,
      () => false,
    )
  )
    return file;
  const partial = `${file}.${process.pid}.part.webm`;
  await run("ffmpeg", [
    "-v",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    picture,
    "-f",
    "lavfi",
    "-i",
    sound,
    "-t",
    String(seconds),
    "-c:v",
    "libvpx",
    "-deadline",
    "good",
    "-cpu-used",
    "5",
    "-b:v",
    "300k",
    "-g",
    "15",
    "-c:a",
    "libopus",
    "-b:a",
    "64k",
    "-ac",
    "2",
    partial,
  ]);
  await rename(partial, file);
  return file;
}

/**
 * The file of {@link encodeAudioVideo} with its audio sent the way a browser's Opus with DTX sends it: no
 * packets through most of each silence (a gap of hundreds of ms), one packet, then a short gap of 60 ms just
 * before the sound starts again; and no audio at all before `micStartsAt` seconds (a microphone that is
 * turned on late). The audio keeps its timestamps, so the RTP timestamps jump over the gaps as DTX's do.
 */
export async function withDtxGaps(file: string, micStartsAt: number): Promise<string> {
  const out = file.replace(/\.webm$/, `-dtx-${micStartsAt}s.webm`);
  if (
    await stat(out).then(
      (info) => info.size > 0,
      () => false,
    )
  )
    return out;
  const partial = `${out}.${process.pid}.part.webm`;
  // Seconds of each packet within its second: the beep sounds in [0, 0.1).
  const at = "mod(pts*tb\\,1)";
  const drop = `lt(pts*tb\\,${micStartsAt})+between(${at}\\,0.3\\,0.859)+between(${at}\\,0.88\\,0.939)`;
  await run("ffmpeg", ["-v", "error", "-y", "-i", file, "-map", "0", "-c", "copy", "-bsf:a", `noise=drop=${drop}`, partial]);
  await rename(partial, out);
  return out;
}

/** Streams a file made by {@link encodeAudioVideo} in real time, copying its packets into RTP. */
export function sendAudioVideoFile(video: TestProducer, audio: TestProducer, file: string): ChildProcess {
  const copy = (kind: types.MediaKind, target: TestProducer, source: MediaSource) => [
    "-map",
    kind === "video" ? "0:v" : "0:a",
    "-c",
    "copy",
    "-payload_type",
    String(PAYLOAD_TYPE[kind]),
    "-ssrc",
    String(SSRC[source]),
    "-f",
    "rtp",
    target.rtpUrl,
  ];
  return spawnSender(["-re", "-i", file, ...copy("video", video, "video"), ...copy("audio", audio, "audio")]);
}

function spawnSender(args: string[]): ChildProcess {
  return spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", ...args], { stdio: ["ignore", "ignore", "inherit"] });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Streams of a media file as ffprobe sees them. */
export async function probeStreams(
  file: string,
): Promise<{ format: { duration: string }; streams: { codec_type: string; codec_name: string; width?: number; height?: number; start_time?: string }[] }> {
  const { stdout } = await run("ffprobe", [
    "-v",
    "error",
    "-show_entries",
    "format=duration:stream=codec_type,codec_name,width,height,start_time",
    "-of",
    "json",
    file,
  ]);
  return JSON.parse(stdout);
}

/** Whether the MP4's moov box comes before its mdat (faststart). */
export async function isFaststart(file: string): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  const bytes = await readFile(file);
  const text = bytes.subarray(0, Math.min(bytes.length, 1_000_000)).toString("latin1");
  const moov = text.indexOf("moov");
  const mdat = text.indexOf("mdat");
  return moov !== -1 && (mdat === -1 || moov < mdat);
}

/** Silent stretches of the file's audio ([start, end] seconds; end = Infinity when silent to the end). */
export async function silences(file: string, minSeconds = 0.5): Promise<[number, number][]> {
  const { stderr } = await run("ffmpeg", [
    "-hide_banner",
    "-nostats",
    "-i",
    file,
    "-map",
    "0:a",
    "-af",
    `silencedetect=noise=-50dB:d=${minSeconds}`,
    "-f",
    "null",
    "-",
  ]);
  const found: [number, number][] = [];
  for (const line of stderr.split("\n")) {
    const start = /silence_start: (-?[\d.]+)/.exec(line);
    if (start) found.push([Number(start[1]), Infinity]);
    const end = /silence_end: ([\d.]+)/.exec(line);
    if (end && found.length > 0) found[found.length - 1]![1] = Number(end[1]);
  }
  return found;
}

/** One decoded frame at `seconds`, as `width`×`height` RGB pixels. */
export async function frameAt(file: string, seconds: number, width = 64, height = 36): Promise<(x: number, y: number) => [number, number, number]> {
  const { stdout } = await run(
    "ffmpeg",
    ["-v", "error", "-ss", seconds.toFixed(3), "-i", file, "-frames:v", "1", "-vf", `scale=${width}:${height}`, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
    { encoding: "buffer", maxBuffer: 1 << 24 },
  );
  return (x, y) => {
    const offset = (y * width + x) * 3;
    return [stdout[offset]!, stdout[offset + 1]!, stdout[offset + 2]!];
  };
}

/** Frozen stretches of the picture ([start, end] seconds). */
export async function freezes(file: string, minSeconds: number): Promise<[number, number][]> {
  const { stderr } = await run("ffmpeg", [
    "-hide_banner",
    "-nostats",
    "-i",
    file,
    "-map",
    "0:v",
    "-vf",
    `freezedetect=n=0.003:d=${minSeconds}`,
    "-f",
    "null",
    "-",
  ]);
  const found: [number, number][] = [];
  for (const line of stderr.split("\n")) {
    const start = /freeze_start: ([\d.]+)/.exec(line);
    if (start) found.push([Number(start[1]), Infinity]);
    const end = /freeze_end: ([\d.]+)/.exec(line);
    if (end && found.length > 0) found[found.length - 1]![1] = Number(end[1]);
  }
  return found;
}

/** Times (s) of each white flash's first frame: mean luma crossing from dark to bright. */
export async function flashOnsets(file: string): Promise<number[]> {
  const { stdout } = await run(
    "ffprobe",
    ["-v", "error", "-f", "lavfi", "-i", `movie=${file},signalstats`, "-show_entries", "frame=pts_time:frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0"],
    { maxBuffer: 1 << 26 },
  );
  const onsets: number[] = [];
  let bright = false;
  for (const line of stdout.trim().split("\n")) {
    const [time, luma] = line.split(",").map(Number);
    if (time === undefined || luma === undefined) continue;
    if (!bright && luma > 60) onsets.push(time);
    bright = luma > 60;
  }
  return onsets;
}

/** Times (s) of each beep's first audible sample (after at least 0.3 s of quiet). */
export async function beepOnsets(file: string): Promise<number[]> {
  const streams = await probeStreams(file);
  const audioStart = Number(streams.streams.find((stream) => stream.codec_type === "audio")?.start_time ?? 0);
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"], {
    encoding: "buffer",
    maxBuffer: 1 << 28,
  });
  const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
  const onsets: number[] = [];
  let quietSince = 0;
  for (let index = 0; index < samples.length; index++) {
    if (Math.abs(samples[index]!) < 1500) continue;
    if (index - quietSince > 0.3 * 48000) onsets.push(audioStart + index / 48000);
    quietSince = index;
  }
  return onsets;
}

/**
 * Each flash paired with its nearest beep: the beep's offset from it in ms (positive: sound after picture). A
 * flash with no beep within half a second is left out.
 */
/**
 * The largest flash-to-beep offset a composed recording may have: beyond about 45 ms people notice sound and
 * picture apart (ITU-R BT.1359 puts detectability at 45 ms of sound leading, 125 ms of sound lagging).
 */
export const MAX_AV_OFFSET_MS = 45;

export function flashBeepOffsets(flashes: readonly number[], beeps: readonly number[]): { flash: number; offsetMs: number }[] {
  return flashes
    .map((flash) => {
      const beep = beeps.reduce((nearest, candidate) => (Math.abs(candidate - flash) < Math.abs(nearest - flash) ? candidate : nearest), Infinity);
      return { flash, offsetMs: Math.round((beep - flash) * 1000) };
    })
    .filter(({ offsetMs }) => Math.abs(offsetMs) < 500);
}
