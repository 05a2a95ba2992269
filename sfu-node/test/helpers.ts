import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { types } from "mediasoup";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import * as v from "valibot";
import WebSocket from "ws";
import {
  type MediaMethod,
  type MediaNotification,
  MediaNotificationSchema,
  type MediaResponseFrame,
  MediaResponseFrameSchema,
} from "../../schema/protocol/media";
import { MEDIA_TOKEN_ISSUER, type MediaTokenGrant } from "../../schema/tokens/media-token";
import { createMediaTokenVerifier } from "../src/media-token";
import { MediaNode } from "../src/Node";
import type { Peer, PeerConnection } from "../src/Peer";
import type { Room } from "../src/Room";
import { type SfuServer, startSfuServer } from "../src/server";

export const NODE_ID = "test-node";

/** A stand-in for the Worker's JWKS endpoint, with its own freshly generated ES256 key. */
export interface TestIssuer {
  url: string;
  /** Signs a media token; `overrides` replace any standard claim (aud, exp, iss…). */
  sign(userId: string, grant: MediaTokenGrant, overrides?: JWTPayload & { alg?: string }): Promise<string>;
  /** Signs with a key the JWKS does not publish. */
  signWithUnknownKey(userId: string, grant: MediaTokenGrant): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(port: number): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const stranger = await generateKeyPair("ES256");
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "ES256", use: "sig" };
  const server = http.createServer((request, response) => {
    if (request.url === "/.well-known/jwks.json") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const build = (userId: string, grant: MediaTokenGrant, overrides: JWTPayload = {}) =>
    new SignJWT({
      ...grant,
      iss: MEDIA_TOKEN_ISSUER,
      aud: NODE_ID,
      sub: userId,
      exp: Math.floor(Date.now() / 1000) + 600,
      iat: Math.floor(Date.now() / 1000),
      ...overrides,
    });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sign: (userId, grant, overrides) => build(userId, grant, overrides).setProtectedHeader({ alg: "ES256", kid: "test-key" }).sign(privateKey),
    signWithUnknownKey: (userId, grant) => build(userId, grant).setProtectedHeader({ alg: "ES256", kid: "someone-else" }).sign(stranger.privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface TestNode {
  node: MediaNode;
  server: SfuServer;
  /** `ws://…/media/<classId>?token=…` */
  mediaUrl(classId: string, token: string): string;
  httpUrl: string;
  close(): Promise<void>;
}

/** A real node: `workers` mediasoup workers with WebRtcServers on `rtcBase…`, HTTP on `httpPort`. */
export async function startTestNode(options: {
  httpPort: number;
  rtcBase: number;
  issuerUrl: string;
  workers?: number;
  consumersPerRouter?: number;
}): Promise<TestNode> {
  const workers = options.workers ?? 2;
  const node = await MediaNode.create(
    {
      nodeId: NODE_ID,
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: options.rtcBase,
      rtcPortMin: options.rtcBase + 10,
      rtcPortMax: options.rtcBase + 199,
      workers,
      consumersPerRouter: options.consumersPerRouter ?? 400,
    },
    { logLevel: "error" },
  );
  const server = await startSfuServer({
    node,
    verifier: createMediaTokenVerifier({ workerUrl: options.issuerUrl, nodeId: NODE_ID }),
    host: "127.0.0.1",
    port: options.httpPort,
    region: "local",
  });
  const httpUrl = `http://127.0.0.1:${server.port}`;
  return {
    node,
    server,
    httpUrl,
    mediaUrl: (classId, token) => `ws://127.0.0.1:${server.port}/media/${classId}?token=${encodeURIComponent(token)}`,
    close: async () => {
      node.close();
      await server.close();
    },
  };
}

/** A signaling client like the web app's: numbered requests, answers matched by id, notifications kept. */
export class MediaClient {
  readonly notifications: MediaNotification[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (frame: MediaResponseFrame) => void>();
  readonly #unmatched: MediaResponseFrame[] = [];
  readonly #waiters = new Set<() => void>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("message", (raw) => {
      const json: unknown = JSON.parse(raw.toString());
      const notification = v.safeParse(MediaNotificationSchema, json);
      if (notification.success) this.notifications.push(notification.output);
      else {
        const frame = v.parse(MediaResponseFrameSchema, json);
        const resolve = frame.id === null ? undefined : this.#pending.get(frame.id);
        if (resolve && frame.id !== null) {
          this.#pending.delete(frame.id);
          resolve(frame);
        } else this.#unmatched.push(frame);
      }
      for (const wake of this.#waiters) wake();
    });
  }

  /** Connects and waits for the `welcome` notification. */
  static async connect(url: string): Promise<MediaClient> {
    const ws = new WebSocket(url);
    const client = new MediaClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_request, response) => reject(new Error(`refused with HTTP ${response.statusCode}`)));
    });
    await client.waitFor((n) => n.notification === "welcome");
    return client;
  }

  /** Sends a request and resolves with the whole response frame (ok or not). */
  request(method: MediaMethod | string, data?: unknown): Promise<MediaResponseFrame> {
    const id = this.#nextId++;
    return this.sendRaw(JSON.stringify({ id, method, data }), id);
  }

  /** Sends a request and resolves with its data; throws with the error code when refused. */
  async call<T = Record<string, unknown>>(method: MediaMethod, data?: unknown): Promise<T> {
    const frame = await this.request(method, data);
    if (!frame.ok) throw new Error(`${method} refused: ${frame.error.code} ${frame.error.message}`);
    return frame.data as T;
  }

  /** Sends `text` as is; resolves with the answer for `id`, or the next answer without an id. */
  sendRaw(text: string | Buffer, id?: number): Promise<MediaResponseFrame> {
    const answer = new Promise<MediaResponseFrame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${String(text).slice(0, 80)}`)), 10_000);
      const done = (frame: MediaResponseFrame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      if (id !== undefined) this.#pending.set(id, done);
      else {
        const check = () => {
          const frame = this.#unmatched.shift();
          if (!frame) return;
          this.#waiters.delete(check);
          done(frame);
        };
        this.#waiters.add(check);
      }
    });
    this.#ws.send(text);
    return answer;
  }

  /** Resolves with the first notification (already received or future) that matches. */
  waitFor(match: (n: MediaNotification) => boolean, timeoutMs = 10_000): Promise<MediaNotification> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.notifications.find(match);
        if (!found) return false;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const wake = () => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error("notification did not arrive"));
      }, timeoutMs);
      if (!check()) this.#waiters.add(wake);
    });
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  close(): Promise<{ code: number; reason: string }> {
    this.#ws.close();
    return this.closed;
  }
}

/** Tries to open a signaling socket that should be refused; resolves with the HTTP status and error body. */
export function refusedUpgrade(url: string): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => {
      ws.close();
      reject(new Error("the socket opened"));
    });
    ws.once("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once("error", () => undefined);
  });
}

/** A peer connection for peers joined straight into a Room (recorder-style), keeping what it is told. */
export function recordingConnection(): PeerConnection & { notifications: MediaNotification[]; closedWith: number | undefined } {
  const connection = {
    notifications: [] as MediaNotification[],
    closedWith: undefined as number | undefined,
    notify: (n: MediaNotification) => void connection.notifications.push(n),
    close: (code: number) => {
      connection.closedWith = code;
    },
  };
  return connection;
}

/** The RTP parameters FFmpeg's VP8 RTP muxer sends with {@link startVp8Sender}. */
export const VP8_SENDER = { payloadType: 101, ssrc: 22_222_222 };

/**
 * FFmpeg sending a test pattern as VP8 over RTP to 127.0.0.1:`rtpPort` and RTCP to `rtcpPort`. FFmpeg sends
 * RTCP from its own socket, so the receiving plain transport must not mux RTCP (comedia learns both sources).
 * A key frame every `keyFrameEvery` frames (15 fps): FFmpeg ignores PLI, where a browser answers it at once.
 */
export function startVp8Sender(rtpPort: number, rtcpPort: number, keyFrameEvery = 15): ChildProcess {
  return spawn(
    "ffmpeg",
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-re",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=15",
      "-c:v",
      "libvpx",
      "-deadline",
      "realtime",
      "-cpu-used",
      "8",
      "-b:v",
      "300k",
      "-g",
      String(keyFrameEvery),
      "-an",
      "-payload_type",
      String(VP8_SENDER.payloadType),
      "-ssrc",
      String(VP8_SENDER.ssrc),
      "-f",
      "rtp",
      `rtp://127.0.0.1:${rtpPort}?rtcpport=${rtcpPort}&pkt_size=1200`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
}

/**
 * A teacher whose camera is FFmpeg sending VP8 over RTP into a plain transport, joined straight into `room`;
 * the FFmpeg process is killed by `cleanups` (the test's afterEach list).
 */
export async function ffmpegTeacher(room: Room, cleanups: (() => void)[]): Promise<{ teacher: Peer; producer: types.Producer; ffmpeg: ChildProcess }> {
  const teacher = room.addPeer({ userId: "teacher", role: "teacher", produce: ["video"], displayName: "Teacher", connection: recordingConnection() });
  const input = await teacher.createPlainTransport("send", { comedia: true, rtcpMux: false });
  const producer = await teacher.producePlain(input, "video", {
    kind: "video",
    rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: VP8_SENDER.payloadType, clockRate: 90000 }], encodings: [{ ssrc: VP8_SENDER.ssrc }] },
  });
  const ffmpeg = startVp8Sender(input.tuple.localPort, input.rtcpTuple!.localPort);
  cleanups.push(() => ffmpeg.kill("SIGKILL"));
  return { teacher, producer, ffmpeg };
}

/** A UDP socket that counts RTP packets of one payload type (RTCP and others are ignored). */
export async function startRtpCounter(payloadType: number): Promise<{ port: number; count(): number; close(): void }> {
  const socket = dgram.createSocket("udp4");
  let packets = 0;
  socket.on("message", (message) => {
    const isRtp = message.length >= 12 && message[0]! >> 6 === 2 && (message[1]! & 0x7f) === payloadType;
    if (isRtp) packets += 1;
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { port: socket.address().port, count: () => packets, close: () => socket.close() };
}

/** Polls `condition` until it holds (or fails the test after `timeoutMs`). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The RTP parameters a browser would send for a VP8 camera (enough for mediasoup to accept the producer). */
export const BROWSER_VP8_PARAMETERS = {
  mid: "0",
  codecs: [{ mimeType: "video/VP8", payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }] }],
  headerExtensions: [{ uri: "urn:ietf:params:rtp-hdrext:sdes:mid", id: 1 }],
  encodings: [{ ssrc: 11_111_111 }],
  rtcp: { cname: "test-camera", reducedSize: true },
};

/** The receive capabilities of a browser that decodes VP8 and Opus. */
export const BROWSER_RTP_CAPABILITIES = {
  codecs: [
    { kind: "audio", mimeType: "audio/opus", preferredPayloadType: 100, clockRate: 48000, channels: 2, rtcpFeedback: [{ type: "transport-cc" }] },
    {
      kind: "video",
      mimeType: "video/VP8",
      preferredPayloadType: 101,
      clockRate: 90000,
      rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "ccm", parameter: "fir" }],
    },
  ],
  headerExtensions: [{ kind: "video", uri: "urn:ietf:params:rtp-hdrext:sdes:mid", preferredId: 1 }],
};

/** Fake but well-formed DTLS parameters of a browser. */
export const BROWSER_DTLS = {
  role: "client",
  fingerprints: [{ algorithm: "sha-256", value: "82:5A:68:3D:36:C3:0A:DE:AF:E7:32:43:D2:88:83:57:1B:FF:E5:3F:15:AE:43:3C:8E:6B:6E:FB:2A:3F:7D:D3" }],
};

/**
 * A student on `room`'s node receiving `producerId` on a plain transport into a counting UDP socket (closed by
 * `cleanups`); `entry` is the peer's record of that consumer (its mediasoup consumer and home router).
 */
export async function countingStudent(room: Room, userId: string, producerId: string, cleanups: (() => void)[]) {
  const student = room.addPeer({ userId, role: "student", produce: [], displayName: userId, connection: recordingConnection() });
  const output = await student.createPlainTransport("recv");
  const consumed = await student.consume({ transportId: output.id, producerId, rtpCapabilities: await room.rtpCapabilities(), paused: false });
  const payloadType = (consumed.rtpParameters as { codecs: { payloadType: number }[] }).codecs[0]!.payloadType;
  const counter = await startRtpCounter(payloadType);
  cleanups.push(() => counter.close());
  await output.connect({ ip: "127.0.0.1", port: counter.port });
  return { student, counter, entry: student.consumers.get(consumed.consumerId)! };
}
