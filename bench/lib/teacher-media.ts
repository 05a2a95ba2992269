/**
 * A teacher's media for bench/sfu-forwarding.ts, made by FFmpeg: camera in three VP8 simulcast layers
 * (320×180, 640×360, 1280×720 at 20 fps), Opus audio and a VP8 screen share, all as RTP.
 *
 * The streams are encoded once into files (cached in {@link MEDIA_DIR}) and then sent in a loop with
 * `-c copy`, so encoding does not take CPU from the mediasoup workers being measured. FFmpeg sends every
 * stream from its own socket, while one plain transport learns one remote address (comedia), so a relay
 * socket here forwards everything FFmpeg sends to whichever transport the current phase uses. On the way the
 * relay makes FFmpeg's RTP look like a browser's where mediasoup's simulcast handling depends on it: 15-bit
 * VP8 PictureIDs, a sender report per stream every second, and paced sending.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import type { types } from "mediasoup";

export const MEDIA_DIR = "/tmp/sfu-bench-media";
const FPS = 20;
const LOOP_SECONDS = 10;

interface Stream {
  readonly name: string;
  readonly clockRate: number;
  readonly file: string;
  readonly ssrc: number;
  readonly payloadType: number;
}

/** Camera layers, lowest first (the order of the producer's encodings). */
export const CAMERA_LAYERS = [
  { name: "camera-180p", width: 320, height: 180, kbps: 150, ssrc: 31_000_001 },
  { name: "camera-360p", width: 640, height: 360, kbps: 500, ssrc: 31_000_002 },
  { name: "camera-720p", width: 1280, height: 720, kbps: 1500, ssrc: 31_000_003 },
] as const;
const CAMERA_PAYLOAD_TYPE = 101;
const SCREEN = { name: "screen", width: 1280, height: 720, fps: 5, kbps: 400, ssrc: 31_000_004, payloadType: 102 } as const;
const AUDIO = { name: "audio", kbps: 48, ssrc: 31_000_005, payloadType: 100 } as const;

const STREAMS: Stream[] = [
  ...CAMERA_LAYERS.map((layer) => ({ name: layer.name, clockRate: 90000, file: `${layer.name}.ivf`, ssrc: layer.ssrc, payloadType: CAMERA_PAYLOAD_TYPE })),
  { name: SCREEN.name, clockRate: 90000, file: `${SCREEN.name}.ivf`, ssrc: SCREEN.ssrc, payloadType: SCREEN.payloadType },
  { name: AUDIO.name, clockRate: 48000, file: `${AUDIO.name}.ogg`, ssrc: AUDIO.ssrc, payloadType: AUDIO.payloadType },
];

/** The streams one receiver gets when its camera consumer is on the top layer. */
export const RECEIVED_STREAMS: ReadonlySet<string> = new Set([CAMERA_LAYERS.at(-1)!.name, SCREEN.name, AUDIO.name]);
/** Their SSRCs, as the producers' stats name them. */
export const RECEIVED_SSRCS: ReadonlySet<number> = new Set([CAMERA_LAYERS.at(-1)!.ssrc, SCREEN.ssrc, AUDIO.ssrc]);

const VIDEO_FEEDBACK: types.RtcpFeedback[] = [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "ccm", parameter: "fir" }];

/** What the three producers are created with (plain RTP: SSRCs are known, no MID/RID header extensions). */
export const PRODUCER_PARAMETERS: Record<"video" | "screen" | "audio", { kind: types.MediaKind; rtpParameters: types.RtpParameters }> = {
  video: {
    kind: "video",
    rtpParameters: {
      codecs: [{ mimeType: "video/VP8", payloadType: CAMERA_PAYLOAD_TYPE, clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK }],
      encodings: CAMERA_LAYERS.map((layer) => ({ ssrc: layer.ssrc })),
      rtcp: { cname: "bench-teacher" },
    },
  },
  screen: {
    kind: "video",
    rtpParameters: {
      codecs: [{ mimeType: "video/VP8", payloadType: SCREEN.payloadType, clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK }],
      encodings: [{ ssrc: SCREEN.ssrc }],
      rtcp: { cname: "bench-teacher" },
    },
  },
  audio: {
    kind: "audio",
    rtpParameters: {
      codecs: [{ mimeType: "audio/opus", payloadType: AUDIO.payloadType, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: AUDIO.ssrc }],
      rtcp: { cname: "bench-teacher" },
    },
  },
};

/**
 * What the counting receivers can decode: VP8 and Opus over plain RTP, with NACK/PLI but no bandwidth
 * estimation (neither transport-cc nor REMB), so every consumer forwards the top layer it prefers.
 */
export const RECEIVER_RTP_CAPABILITIES: types.RtpCapabilities = {
  codecs: [
    { kind: "audio", mimeType: "audio/opus", preferredPayloadType: 100, clockRate: 48000, channels: 2 },
    { kind: "video", mimeType: "video/VP8", preferredPayloadType: 101, clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK },
  ],
  headerExtensions: [],
};

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Writes to a temporary name first, so an interrupted encode is never taken for a cached file. */
function encodeOnce(file: string, encode: (temporary: string) => void): void {
  const target = path.join(MEDIA_DIR, file);
  if (existsSync(target) && statSync(target).size > 0) return;
  const temporary = path.join(MEDIA_DIR, `partial-${file}`);
  encode(temporary);
  renameSync(temporary, target);
}

/** Encodes the loops (about half a minute of CPU the first time; cached afterwards). */
export function prepareTeacherMedia(): void {
  mkdirSync(MEDIA_DIR, { recursive: true });
  const vp8 = (kbps: number, keyframeInterval: number) => [
    "-c:v",
    "libvpx",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-lag-in-frames",
    "0",
    "-auto-alt-ref",
    "0",
    // CBR (min = max = target) so every layer really carries its bitrate.
    "-b:v",
    `${kbps}k`,
    "-minrate",
    `${kbps}k`,
    "-maxrate",
    `${kbps}k`,
    "-g",
    String(keyframeInterval),
  ];
  const camera = CAMERA_LAYERS.at(-1)!;
  for (const layer of CAMERA_LAYERS) {
    encodeOnce(`${layer.name}.ivf`, (temporary) =>
      ffmpeg([
        // Noise keeps the test pattern from compressing to nothing, so the encoder spends its whole budget.
        "-f",
        "lavfi",
        "-i",
        `testsrc2=size=${camera.width}x${camera.height}:rate=${FPS},noise=alls=12:allf=t+u`,
        "-t",
        String(LOOP_SECONDS),
        "-vf",
        `scale=${layer.width}:${layer.height}`,
        ...vp8(layer.kbps, FPS),
        "-f",
        "ivf",
        temporary,
      ]),
    );
  }
  encodeOnce(`${SCREEN.name}.ivf`, (temporary) =>
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      `testsrc=size=${SCREEN.width}x${SCREEN.height}:rate=${SCREEN.fps},noise=alls=6:allf=t+u`,
      "-t",
      String(LOOP_SECONDS),
      ...vp8(SCREEN.kbps, SCREEN.fps * 2),
      "-f",
      "ivf",
      temporary,
    ]),
  );
  encodeOnce(`${AUDIO.name}.ogg`, (temporary) =>
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:sample_rate=48000",
      "-t",
      String(LOOP_SECONDS),
      "-ac",
      "2",
      "-c:a",
      "libopus",
      "-b:a",
      `${AUDIO.kbps}k`,
      "-frame_duration",
      "20",
      "-f",
      "ogg",
      temporary,
    ]),
  );
}

/** Ingress of one stream as the relay saw it. */
export interface StreamCounters {
  name: string;
  packets: number;
  bytes: number;
  /** Sequence numbers skipped (packets lost between FFmpeg and the relay). */
  lost: number;
}

/** FFmpeg sending the loops, and the relay in front of the current producers' transport. */
export interface TeacherMedia {
  readonly ffmpeg: ChildProcess;
  /** Forwards the teacher's RTP/RTCP to this local UDP port (a comedia plain transport), or drops it (null). */
  target(port: number | null): void;
  /** RTP packets and bytes per stream since the start. */
  counters(): StreamCounters[];
  close(): void;
}

/** Seconds from the NTP epoch (1900) to the Unix epoch. */
const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

/** An RTCP sender report (RFC 3550 §6.4.1) without report blocks. */
function senderReport(ssrc: number, nowMs: number, rtpTimestamp: number, packets: number, bytes: number): Buffer {
  const report = Buffer.alloc(28);
  report[0] = 0x80;
  report[1] = 200;
  report.writeUInt16BE(6, 2);
  report.writeUInt32BE(ssrc, 4);
  report.writeUInt32BE(Math.floor(nowMs / 1000) + NTP_UNIX_OFFSET_SECONDS, 8);
  report.writeUInt32BE(Math.floor(((nowMs % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  report.writeUInt32BE(rtpTimestamp, 16);
  report.writeUInt32BE(packets >>> 0, 20);
  report.writeUInt32BE(bytes >>> 0, 24);
  return report;
}

const VP8_PAYLOAD_TYPES = new Set([CAMERA_PAYLOAD_TYPE, SCREEN.payloadType]);

interface PictureIdState {
  last7Bit: number;
  extended: number;
}

/**
 * FFmpeg's VP8 packetizer writes a 7-bit PictureID; browsers write 15 bits. mediasoup's simulcast consumer
 * treats PictureIDs as 15-bit, so FFmpeg's wrap from 127 to 0 looks like old frames and the camera stalls.
 * This rewrites the descriptor (RFC 7741 §4.2, M bit set) with the PictureID unwrapped to 15 bits, one byte longer.
 */
function widenPictureId(packet: Buffer, states: Map<number, PictureIdState>): Buffer {
  const csrcCount = packet[0]! & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (packet[0]! & 0x10) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  const hasExtensions = (packet[offset]! & 0x80) !== 0;
  const hasPictureId = hasExtensions && (packet[offset + 1]! & 0x80) !== 0;
  if (!hasPictureId || packet[offset + 2]! & 0x80) return packet;
  const ssrc = packet.readUInt32BE(8);
  const picture7Bit = packet[offset + 2]! & 0x7f;
  let state = states.get(ssrc);
  if (!state) {
    state = { last7Bit: picture7Bit, extended: picture7Bit };
    states.set(ssrc, state);
  }
  state.extended += (picture7Bit - state.last7Bit) & 0x7f;
  state.last7Bit = picture7Bit;
  const picture15Bit = state.extended & 0x7fff;
  const widened = Buffer.allocUnsafe(packet.length + 1);
  packet.copy(widened, 0, 0, offset + 2);
  widened[offset + 2] = 0x80 | (picture15Bit >> 8);
  widened[offset + 3] = picture15Bit & 0xff;
  packet.copy(widened, offset + 4, offset + 3);
  return widened;
}

/** The teacher's total bitrate is about 2.3 Mbps; a browser's pacer sends at 2.5 times its target. */
const PACING_BYTES_PER_SECOND = (2.5 * 2_300_000) / 8;
const PACING_INTERVAL_MS = 5;

/**
 * Sends packets at most at {@link PACING_BYTES_PER_SECOND}, as a browser's pacer does. FFmpeg writes a whole
 * keyframe (and, where a loop restarts, several frames) at once; unpaced, such a burst overflows the
 * receiving transport's socket buffer while its worker fans the previous packets out to hundreds of consumers.
 */
function startPacer(send: (packet: Buffer) => void): { push(packet: Buffer): void; stop(): void } {
  const queue: Buffer[] = [];
  let budget = 0;
  let last = performance.now();
  const drain = () => {
    const now = performance.now();
    // A late timer may send what it owes, but never more than two intervals' worth at once.
    budget = Math.min(budget + ((now - last) / 1000) * PACING_BYTES_PER_SECOND, (2 * PACING_INTERVAL_MS * PACING_BYTES_PER_SECOND) / 1000);
    last = now;
    while (queue.length > 0 && budget >= queue[0]!.length) {
      const packet = queue.shift()!;
      budget -= packet.length;
      send(packet);
    }
  };
  const timer = setInterval(drain, PACING_INTERVAL_MS);
  return {
    push: (packet) => {
      queue.push(packet);
      drain();
    },
    stop: () => clearInterval(timer),
  };
}

/** Starts the relay on 127.0.0.1:`relayPort` and FFmpeg sending every stream to it. */
export async function startTeacherMedia(relayPort: number): Promise<TeacherMedia> {
  // A big buffer, so a keyframe burst waits here while the benchmark's event loop is busy (2 shared cores).
  const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(relayPort, "127.0.0.1", () => resolve());
  });
  const bySsrc = new Map(
    STREAMS.map((stream) => [stream.ssrc, { stream, packets: 0, bytes: 0, lost: 0, lastSequence: -1, lastTimestamp: 0, lastArrivalMs: 0 }]),
  );
  const pictureIds = new Map<number, PictureIdState>();
  let targetPort: number | null = null;
  socket.on("message", (packet, from) => {
    // The transport's own RTCP (receiver reports, PLIs) comes back here; FFmpeg would ignore it anyway.
    if (from.port === targetPort) return;
    // FFmpeg's RTCP is dropped: its sender reports come every 5 s at best; the relay sends its own (see below).
    if (packet.length < 12 || (packet[1]! >= 192 && packet[1]! <= 223)) return;
    const counters = bySsrc.get(packet.readUInt32BE(8));
    if (!counters) return;
    counters.packets += 1;
    counters.bytes += packet.length;
    const sequence = packet.readUInt16BE(2);
    const ahead = (sequence - counters.lastSequence) & 0xffff;
    if (counters.lastSequence >= 0 && ahead > 1 && ahead < 0x8000) counters.lost += ahead - 1;
    counters.lastSequence = sequence;
    counters.lastTimestamp = packet.readUInt32BE(4);
    counters.lastArrivalMs = Date.now();
    if (targetPort === null) return;
    pacer.push(VP8_PAYLOAD_TYPES.has(packet[1]! & 0x7f) ? widenPictureId(packet, pictureIds) : packet);
  });
  const pacer = startPacer((packet) => {
    if (targetPort !== null) socket.send(packet, targetPort, "127.0.0.1");
  });
  // mediasoup needs a sender report of both layers before a simulcast consumer may switch between them
  // (to align their RTP timestamps), so the relay sends one per stream and second, as a browser does.
  const senderReports = setInterval(() => {
    if (targetPort === null) return;
    for (const [ssrc, counters] of bySsrc) {
      if (counters.lastArrivalMs === 0) continue;
      const now = Date.now();
      const rtpTimestamp = (counters.lastTimestamp + Math.round(((now - counters.lastArrivalMs) * counters.stream.clockRate) / 1000)) >>> 0;
      socket.send(senderReport(ssrc, now, rtpTimestamp, counters.packets, counters.bytes), targetPort, "127.0.0.1");
    }
  }, 1_000);
  const args = ["-hide_banner", "-loglevel", "error"];
  for (const stream of STREAMS) args.push("-re", "-stream_loop", "-1", "-i", path.join(MEDIA_DIR, stream.file));
  STREAMS.forEach((stream, index) => {
    args.push("-map", `${index}:0`, "-c", "copy", "-payload_type", String(stream.payloadType), "-ssrc", String(stream.ssrc));
    args.push("-f", "rtp", `rtp://127.0.0.1:${relayPort}?rtcpport=${relayPort}&pkt_size=1200`);
  });
  const child = spawn("ffmpeg", args, { stdio: ["ignore", "ignore", "inherit"] });
  return {
    ffmpeg: child,
    target: (port) => {
      targetPort = port;
    },
    counters: () => [...bySsrc.values()].map(({ stream, packets, bytes, lost }) => ({ name: stream.name, packets, bytes, lost })),
    close: () => {
      clearInterval(senderReports);
      pacer.stop();
      child.kill("SIGKILL");
      socket.close();
    },
  };
}
