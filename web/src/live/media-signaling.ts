import * as v from "valibot";
import type { ErrorCode } from "../../../schema/errors";
import { ResponseFrameSchema } from "../../../schema/protocol/envelope";
import { PendingRequests } from "../../../schema/protocol/pending-requests";
import {
  MEDIA_METHODS,
  type MediaMethod,
  type MediaNotification,
  MediaNotificationSchema,
  type MediaRequestData,
  type MediaResponseData,
} from "../../../schema/protocol/media";

/** How long a signaling request may wait for the node's answer. */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long opening the socket may take before the join counts as failed. */
const OPEN_TIMEOUT_MS = 10_000;

/** A request the sfu-node refused or could not answer, with its code from the closed set. */
export class MediaSignalingError extends Error {
  override readonly name = "MediaSignalingError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MediaSocketHandlers {
  onNotification(notification: MediaNotification): void;
  /** The socket closed without {@link MediaSocket.close} being called (node restart, token expiry, kick…). */
  onClose(code: number, reason: string): void;
}

/**
 * The browser end of media signaling with one sfu-node: requests with ids, a timeout per request, every
 * inbound frame checked against schema/protocol/media.ts, and every pending request rejected when the socket
 * closes (so no caller waits forever).
 */
export class MediaSocket {
  private readonly pending = new PendingRequests<MediaMethod>(REQUEST_TIMEOUT_MS);
  private closedByUs = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly handlers: MediaSocketHandlers,
  ) {
    ws.addEventListener("message", (event) => this.onFrame(event.data));
    ws.addEventListener("close", (event) => {
      this.failPending("The connection to the media server closed");
      if (!this.closedByUs) handlers.onClose(event.code, event.reason);
    });
  }

  /**
   * Opens the socket at `url` (the `signalingUrl` from `media.join`). Resolves once it is open; rejects when
   * the node refuses the upgrade or does not answer in time.
   */
  static open(url: string, handlers: MediaSocketHandlers): Promise<MediaSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.close();
        reject(new MediaSignalingError("UNAVAILABLE", "The media server did not answer"));
      }, OPEN_TIMEOUT_MS);
      // Notifications may arrive right after `open` (the node's `welcome`): the socket object must exist first.
      const socket = new MediaSocket(ws, handlers);
      // A socket that never opened is this promise's failure, not a lost connection for `onClose`.
      socket.closedByUs = true;
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        socket.closedByUs = false;
        resolve(socket);
      });
      ws.addEventListener("close", () => {
        clearTimeout(timer);
        reject(new MediaSignalingError("UNAVAILABLE", "The media server refused the connection"));
      });
    });
  }

  /** Sends a request; resolves with the node's answer (checked against the method's schema). */
  request<M extends MediaMethod>(method: M, data: MediaRequestData<M>): Promise<MediaResponseData<M>> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new MediaSignalingError("UNAVAILABLE", "Not connected to the media server"));
    const answer = this.pending.send(
      method,
      () => new MediaSignalingError("UNAVAILABLE", `The media server did not answer ${method} in time`),
      (id) => this.ws.send(JSON.stringify({ id, method, data })),
    );
    return answer as Promise<MediaResponseData<M>>;
  }

  /** Closes the socket on purpose (no `onClose` callback). */
  close(): void {
    this.closedByUs = true;
    this.failPending("Left the media server");
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, "bye");
  }

  private onFrame(raw: unknown): void {
    if (typeof raw !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    const response = v.safeParse(ResponseFrameSchema, frame);
    if (response.success) {
      this.pending.settle(
        response.output,
        (data, method) => {
          const parsed = v.safeParse(MEDIA_METHODS[method].response, data);
          if (!parsed.success) throw new MediaSignalingError("INVALID_MESSAGE", `The media server's answer to ${method} did not parse`);
          return parsed.output;
        },
        (error) => new MediaSignalingError(error.code, error.message),
      );
      return;
    }
    const notification = v.safeParse(MediaNotificationSchema, frame);
    if (notification.success) this.handlers.onNotification(notification.output);
  }

  private failPending(message: string): void {
    this.pending.failAll(() => new MediaSignalingError("UNAVAILABLE", message));
  }
}
