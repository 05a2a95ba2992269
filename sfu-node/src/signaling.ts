import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { errors as mediasoupErrors } from "mediasoup";
import type { types } from "mediasoup";
import * as v from "valibot";
import { describeFrameIssues, type ErrorBody, HTTP_STATUS } from "../../schema/errors";
import { readRequestId } from "../../schema/protocol/envelope";
import {
  MEDIA_CLOSE_CODES,
  MEDIA_METHODS,
  type MediaMethod,
  type MediaNotification,
  type MediaRequestData,
  MediaRequestFrameSchema,
  type MediaResponseData,
  type MediaResponseFrame,
} from "../../schema/protocol/media";
import type { MediaTokenClaims } from "../../schema/tokens/media-token";
import { WebSocket, WebSocketServer } from "ws";
import { MediaError } from "./errors";
import { log } from "./log";
import type { MediaTokenVerifier } from "./media-token";
import type { MediaNode } from "./Node";
import type { Peer } from "./Peer";

/** Largest frame a client may send (RTP capabilities of a browser are a few KiB). */
const MAX_FRAME_BYTES = 128 * 1024;
/** Sockets that do not answer a ping within this interval are dropped (their peer closes). */
const PING_INTERVAL_MS = 30_000;
/** Why a draining node closes a new media socket. */
export const DRAINING_REASON = "This media server is shutting down; join media again";
/** The signaling path: `/media/<classId>?token=<media token>`. */
const MEDIA_PATH = /^\/media\/([A-Za-z0-9._~-]{1,128})$/;

/** What handlers use besides the peer: the server's token checks, for renewing on the open socket. */
interface HandlerContext {
  renewToken(peer: Peer, token: string): Promise<MediaResponseData<"token.renew">>;
}

type Handler<M extends MediaMethod> = (peer: Peer, data: MediaRequestData<M>, context: HandlerContext) => Promise<MediaResponseData<M>>;

const ok = {};

/** One small handler per method; identity and grants come from the peer (the verified token), never from `data`. */
const HANDLERS: { [M in MediaMethod]: Handler<M> } = {
  getRouterRtpCapabilities: async (peer) => ({ rtpCapabilities: { ...(await peer.room.rtpCapabilities()) } }),
  createWebRtcTransport: (peer, data) => peer.createWebRtcTransport(data),
  connectTransport: async (peer, data) => {
    await peer.connectTransport(data);
    return ok;
  },
  produce: (peer, data) => peer.produce(data),
  consume: (peer, data) => peer.consume({ ...data, rtpCapabilities: data.rtpCapabilities as types.RtpCapabilities }),
  resumeConsumer: async (peer, data) => {
    await peer.resumeConsumer(data.consumerId);
    return ok;
  },
  pauseProducer: async (peer, data) => {
    await peer.pauseProducer(data.producerId);
    return ok;
  },
  resumeProducer: async (peer, data) => {
    await peer.resumeProducer(data.producerId);
    return ok;
  },
  closeProducer: async (peer, data) => {
    peer.closeProducer(data.producerId);
    return ok;
  },
  setPreferredLayers: async (peer, data) => {
    await peer.setPreferredLayers(data);
    return ok;
  },
  restartIce: (peer, data) => peer.restartIce(data.transportId),
  "token.renew": (peer, data, context) => context.renewToken(peer, data.token),
  getStats: (peer, data) => peer.getStats(data),
};

export interface SignalingOptions {
  node: MediaNode;
  verifier: MediaTokenVerifier;
}

/**
 * The media signaling WebSocket server. Upgrades on `/media/<classId>` are authorized before the socket
 * opens: a missing, bad, expired or wrong-audience token gets HTTP 401, a token for another class 403.
 * The token travels in the URL because browsers cannot set headers on a WebSocket; it is never logged.
 */
export class SignalingServer {
  readonly #node: MediaNode;
  readonly #verifier: MediaTokenVerifier;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  readonly #pingTimer: NodeJS.Timeout;
  readonly #alive = new WeakSet<WebSocket>();
  readonly #context: HandlerContext = { renewToken: (peer, token) => this.#renewToken(peer, token) };
  #refusingJoins = false;

  constructor(options: SignalingOptions) {
    this.#node = options.node;
    this.#verifier = options.verifier;
    this.#pingTimer = setInterval(() => this.#pingAll(), PING_INTERVAL_MS);
    this.#pingTimer.unref();
  }

  /** Whether `request` is for this server (the HTTP server routes upgrades by path). */
  static handles(request: IncomingMessage): boolean {
    return MEDIA_PATH.test(new URL(request.url ?? "/", "http://node").pathname);
  }

  /** Handles an HTTP upgrade request for `/media/<classId>`. */
  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? "/", "http://node");
    const classId = MEDIA_PATH.exec(url.pathname)?.[1];
    const token = url.searchParams.get("token");
    let claims: MediaTokenClaims;
    try {
      if (!classId) throw new MediaError("NOT_FOUND", "Media signaling is at /media/<classId>");
      if (!token) throw new MediaError("UNAUTHORIZED", "A media token is required (?token=…)");
      claims = await this.#verifier.verify(token, classId);
      // A participant the class removed after this token was signed is refused before the socket opens.
      this.#node.overrides.admit(classId, claims.sub, claims.iat === undefined ? undefined : claims.iat * 1000, claims.produce);
    } catch (error) {
      const body = errorBody(error);
      log("info", "media_socket_refused", { classId, code: body.code, reason: body.message });
      refuseUpgrade(socket, body);
      return;
    }
    if (this.#refusingJoins) {
      // Opened only to be closed with a reason the browser can read (an HTTP refusal's body is hidden from it).
      this.#wss.handleUpgrade(request, socket, head, (ws) => ws.close(MEDIA_CLOSE_CODES.draining, DRAINING_REASON));
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => void this.#accept(ws, claims));
  }

  /** The node drains (src/drain.ts): sockets already open stay; new ones are closed with {@link MEDIA_CLOSE_CODES.draining}. */
  refuseJoins(): void {
    this.#refusingJoins = true;
  }

  /** Closes every socket (their peers close with them). */
  close(): void {
    clearInterval(this.#pingTimer);
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
  }

  async #accept(ws: WebSocket, claims: MediaTokenClaims): Promise<void> {
    this.#alive.add(ws);
    ws.on("pong", () => this.#alive.add(ws));
    const send = (frame: MediaResponseFrame | MediaNotification) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    };
    let peer: Peer | undefined;
    // Frames that arrive while the room opens are handled once the peer exists, in order.
    const early: { raw: WebSocket.RawData; isBinary: boolean }[] = [];
    ws.on("message", (raw, isBinary) => {
      if (peer) void handleFrame(peer, raw, isBinary, send, this.#context);
      else early.push({ raw, isBinary });
    });
    ws.on("close", () => peer?.close());
    ws.on("error", (error) => log("warn", "media_socket_error", { classId: claims.classId, userId: claims.sub, error: error.message }));

    try {
      peer = await this.#join(ws, claims, send);
    } catch (error) {
      log("warn", "media_join_failed", { classId: claims.classId, userId: claims.sub, error: String(error) });
      ws.close(1013, "media node busy; try again");
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) {
      peer.close();
      return;
    }
    // The peer ends at the token's expiry unless `token.renew` moves the deadline.
    peer.expireAt(claims.exp * 1000);
    // The grant the room admitted: a class decision after the token was signed (stage revoke) outranks the token.
    send({ notification: "welcome", data: { nodeId: this.#node.nodeId, classId: claims.classId, userId: claims.sub, produce: [...peer.produceGrant] } });
    for (const frame of early.splice(0)) void handleFrame(peer, frame.raw, frame.isBinary, send, this.#context);
  }

  /**
   * `token.renew`: the new token is checked exactly like at connect (signature, issuer, audience = this node,
   * expiry, lifetime, class), and must name the connection's user and role. Nothing changes unless every check
   * passes. Its grant goes through the class's later decisions like a connecting token's does, so a stage
   * revoke that happened after the token was signed is not undone by it.
   */
  async #renewToken(peer: Peer, token: string): Promise<MediaResponseData<"token.renew">> {
    const classId = peer.room.classId;
    const claims = await this.#verifier.verify(token, classId);
    if (claims.sub !== peer.userId) throw new MediaError("FORBIDDEN", "The media token is for someone else");
    if (claims.role !== peer.role) throw new MediaError("FORBIDDEN", "The media token is for another role in this class");
    const produce = this.#node.overrides.admit(classId, claims.sub, claims.iat === undefined ? undefined : claims.iat * 1000, claims.produce);
    peer.renew(claims.exp * 1000, produce);
    log("debug", "media_token_renewed", { classId, userId: peer.userId, expiresAt: peer.expiresAt });
    return { expiresAt: peer.expiresAt, produce: [...peer.produceGrant] };
  }

  async #join(ws: WebSocket, claims: MediaTokenClaims, send: (frame: MediaNotification) => void): Promise<Peer> {
    // A room can close between being opened and this peer joining (its last peer just left): open it again.
    for (let attempt = 0; ; attempt++) {
      const room = await this.#node.openRoom(claims.classId);
      if (room.closed && attempt < 2) continue;
      return room.addPeer({
        userId: claims.sub,
        role: claims.role,
        produce: claims.produce,
        displayName: claims.displayName,
        issuedAt: claims.iat === undefined ? undefined : claims.iat * 1000,
        connection: {
          notify: send,
          close: (code, reason) => {
            if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
          },
        },
      });
    }
  }

  #pingAll(): void {
    for (const ws of this.#wss.clients) {
      if (!this.#alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }
}

/** Parses one frame, runs its handler, and always answers (an unanswered request would hang the client). */
async function handleFrame(
  peer: Peer,
  raw: WebSocket.RawData,
  isBinary: boolean,
  send: (frame: MediaResponseFrame) => void,
  context: HandlerContext,
): Promise<void> {
  if (isBinary) return send({ id: null, ok: false, error: { code: "INVALID_MESSAGE", message: "Frames are JSON text" } });
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    return send({ id: null, ok: false, error: { code: "INVALID_MESSAGE", message: "The frame is not valid JSON" } });
  }
  const frame = v.safeParse(MediaRequestFrameSchema, json);
  if (!frame.success) {
    const id = readRequestId(json);
    return send({ id, ok: false, error: { code: "INVALID_MESSAGE", message: describeFrameIssues(frame.issues) } });
  }
  const { id, method } = frame.output;
  const data = v.safeParse(MEDIA_METHODS[method].request, frame.output.data ?? {});
  if (!data.success) return send({ id, ok: false, error: { code: "INVALID_MESSAGE", message: `data: ${describeFrameIssues(data.issues)}` } });
  try {
    const handler = HANDLERS[method] as Handler<MediaMethod>;
    const result = await handler(peer, data.output as MediaRequestData<MediaMethod>, context);
    send({ id, ok: true, data: result });
  } catch (error) {
    const body = errorBody(error);
    if (body.code === "INTERNAL")
      log("error", "media_request_failed", {
        method,
        classId: peer.room.classId,
        userId: peer.userId,
        error: String(error instanceof Error ? error.stack : error),
      });
    send({ id, ok: false, error: body });
  }
}

/** What the client is told about a failure: our own errors as they are, mediasoup's refusals as bad input. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof MediaError) return { code: error.code, message: error.message };
  // mediasoup checks parameters (ORTC) and throws TypeError / UnsupportedError with a readable reason.
  if (error instanceof TypeError || error instanceof mediasoupErrors.UnsupportedError) return { code: "INVALID_MESSAGE", message: error.message };
  if (error instanceof mediasoupErrors.NotFoundError) return { code: "NOT_FOUND", message: "That media object no longer exists" };
  if (error instanceof mediasoupErrors.WorkerClosedError) return { code: "UNAVAILABLE", message: "The media worker restarted; reconnect" };
  return { code: "INTERNAL", message: "Something went wrong on the media node" };
}

function refuseUpgrade(socket: Duplex, body: ErrorBody): void {
  const status = HTTP_STATUS[body.code];
  const payload = JSON.stringify({ error: body });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : status === 404 ? "Not Found" : status === 503 ? "Service Unavailable" : "Bad Request"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n` +
      "Connection: close\r\n\r\n" +
      payload,
  );
}
