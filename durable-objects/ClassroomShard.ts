import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import { CLASSROOM_CLOSE_CODES, HEARTBEAT_PING, HEARTBEAT_PONG } from "../schema/protocol/classroom";
import { classOfFanOut, FanOutDeliverySchema, type FanOutItem, type FanOutReceipt, SOCKET_TAG } from "../schema/protocol/fan-out";
import { JOINER_LOCATION_HEADER } from "../schema/regions";
import { CLASS_IDENTITY_HEADER, decodeIdentityHeader, isModerator } from "../schema/tokens/class-token";
import type { ClassroomEnv } from "./bindings";
import { participantTags } from "./broadcaster";

/** What each browser socket carries through hibernation. */
interface HeldSocket {
  socketId: string;
  connectedAt: number;
  /** The class object's snapshot reached it: from then on it gets everything relayed to its tags. */
  ready: boolean;
}

/** A socket that neither pinged nor sent anything for this long is closed (as the class object does). */
const HEARTBEAT_TIMEOUT_MS = 90_000;
const HEARTBEAT_CHECK_MS = 30_000;
/** The last batch taken, in the object's key-value storage (a retried batch is not relayed twice). */
const LAST_TAKEN_KEY = "lastTaken";

/**
 * A fan-out object of a large class (schema/protocol/fan-out.ts): it holds a share of the class's browser sockets
 * and nothing of the class's state. The edge sends it sockets it verified, with the identity in a header; it tells
 * the class object (`Classroom.relayConnect`), which admits or refuses the socket exactly as a direct one and sends
 * the snapshot back through {@link deliver}. What a browser sends goes up as is (`relayMessage`); what the class
 * object sends comes down in ordered batches and is relayed to the sockets with the tag it names (an audience, a
 * user, one socket), so each socket gets what it would get straight from the class object, in the same order.
 *
 * Sockets are hibernatable: an eviction keeps them, and the next batch wakes the object, which tells the class
 * object which sockets it still holds.
 */
export class ClassroomShard extends DurableObject<ClassroomEnv> {
  /** Sockets that wait for their snapshot: nothing else is relayed to them before it. */
  private pending: Set<WebSocket> | null = null;
  /** Until the first batch after a (re)start has been answered: that answer lists the sockets held. */
  private fresh = true;
  private lastTaken: { epoch: number; batch: number } | null | undefined;
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: ClassroomEnv) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    const classId = this.classId();
    const identityHeader = request.headers.get(CLASS_IDENTITY_HEADER);
    const identity = identityHeader ? decodeIdentityHeader(identityHeader) : null;
    const socketId = new URL(request.url).searchParams.get("_pk");
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !identity || !identityHeader || !socketId || identity.classId !== classId)
      return Response.json({ error: { code: "NOT_FOUND", message: "The class channel only speaks WebSocket" } }, { status: 404 });
    const { 0: browser, 1: socket } = new WebSocketPair();
    this.ctx.acceptWebSocket(socket, [...participantTags(identity.userId, isModerator(identity.role)), SOCKET_TAG(socketId)]);
    const held: HeldSocket = { socketId, connectedAt: Date.now(), ready: false };
    socket.serializeAttachment(held);
    this.pendingSockets().add(socket);
    this.scheduleAlarm(Date.now() + HEARTBEAT_CHECK_MS);
    const location = request.headers.get(JOINER_LOCATION_HEADER);
    this.ctx.waitUntil(
      this.parent()
        .relayConnect(this.ctx.id.name!, socketId, identityHeader, location)
        .catch((error: unknown) => {
          console.error(JSON.stringify({ event: "fan_out_connect_failed", classId, error: String(error) }));
          this.close(socket, socketId, CLASSROOM_CLOSE_CODES.tryAgain, "The class could not be reached; trying again");
        }),
    );
    return new Response(null, { status: 101, webSocket: browser });
  }

  /** RPC for the class object: one batch, taken once and in order (see schema/protocol/fan-out.ts). */
  async deliver(delivery: unknown): Promise<FanOutReceipt> {
    const parsed = v.parse(FanOutDeliverySchema, delivery);
    this.lastTaken ??= this.ctx.storage.kv.get<{ epoch: number; batch: number }>(LAST_TAKEN_KEY) ?? null;
    const taken = this.lastTaken;
    if (!taken || taken.epoch !== parsed.epoch || parsed.batch > taken.batch) {
      for (const item of parsed.items) this.apply(item);
      this.lastTaken = { epoch: parsed.epoch, batch: parsed.batch };
      this.ctx.storage.kv.put(LAST_TAKEN_KEY, this.lastTaken);
    }
    const sockets = this.fresh ? this.ctx.getWebSockets().map((socket) => (socket.deserializeAttachment() as HeldSocket).socketId) : null;
    this.fresh = false;
    return { sockets };
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const { socketId } = socket.deserializeAttachment() as HeldSocket;
    try {
      await this.parent().relayMessage(this.ctx.id.name!, socketId, message);
    } catch (error) {
      console.error(JSON.stringify({ event: "fan_out_message_failed", classId: this.classId(), error: String(error) }));
      this.close(socket, socketId, CLASSROOM_CLOSE_CODES.tryAgain, "The class could not be reached; trying again");
    }
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    await this.gone(socket, code);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    await this.gone(socket, 1006);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    const sockets = this.ctx.getWebSockets();
    for (const socket of sockets) {
      const { socketId, connectedAt } = socket.deserializeAttachment() as HeldSocket;
      const lastSeen = Math.max(connectedAt, this.ctx.getWebSocketAutoResponseTimestamp(socket)?.getTime() ?? 0);
      if (now - lastSeen > HEARTBEAT_TIMEOUT_MS) this.close(socket, socketId, CLASSROOM_CLOSE_CODES.heartbeatTimeout, "No heartbeat");
    }
    if (sockets.length > 0) this.scheduleAlarm(now + HEARTBEAT_CHECK_MS);
  }

  private apply(item: FanOutItem): void {
    switch (item.kind) {
      case "send":
        this.relay(item.to, item.frame);
        return;
      case "close":
        for (const socket of this.ctx.getWebSockets(SOCKET_TAG(item.socketId))) this.close(socket, item.socketId, item.code, item.reason);
        return;
      default:
        assertNever(item);
    }
  }

  /** Sends `frame` to the ready sockets with `tag`; a socket's snapshot (addressed to it alone) makes it ready. */
  private relay(tag: string, frame: string): void {
    const pending = this.pendingSockets();
    const toOne = tag.startsWith(SOCKET_TAG(""));
    for (const socket of this.ctx.getWebSockets(tag)) {
      if (pending.has(socket)) {
        if (!toOne) continue;
        if (frame.startsWith(`{"notification":"snapshot"`)) {
          pending.delete(socket);
          socket.serializeAttachment({ ...(socket.deserializeAttachment() as HeldSocket), ready: true });
        }
      }
      try {
        socket.send(frame);
      } catch {
        // Closing; its close handler tells the class object.
      }
    }
  }

  /** Closes a socket for the class object (or because it cannot be reached) and tells the class object it is gone. */
  private close(socket: WebSocket, socketId: string, code: number, reason: string): void {
    this.pendingSockets().delete(socket);
    try {
      socket.close(code, reason);
    } catch {
      // Already closed.
    }
    this.ctx.waitUntil(this.tellGone(socketId, code));
  }

  private async gone(socket: WebSocket, code: number): Promise<void> {
    this.pendingSockets().delete(socket);
    const { socketId } = socket.deserializeAttachment() as HeldSocket;
    await this.tellGone(socketId, code);
  }

  private async tellGone(socketId: string, code: number): Promise<void> {
    try {
      await this.parent().relayClose(this.ctx.id.name!, socketId, code);
    } catch (error) {
      // The class object finds out when it next delivers here: this object's answer lists the sockets it holds.
      this.fresh = true;
      console.warn(JSON.stringify({ event: "fan_out_close_unreported", classId: this.classId(), error: String(error) }));
    }
  }

  /** The sockets still waiting for their snapshot; after a wake-up, read once from the sockets' attachments. */
  private pendingSockets(): Set<WebSocket> {
    this.pending ??= new Set(this.ctx.getWebSockets().filter((socket) => !(socket.deserializeAttachment() as HeldSocket).ready));
    return this.pending;
  }

  private parent() {
    return this.env.CLASSROOM.get(this.env.CLASSROOM.idFromName(this.classId()));
  }

  private classId(): string {
    const classId = classOfFanOut(this.ctx.id.name ?? "");
    if (!classId) throw new Error("A fan-out object must be addressed by its name (schema/protocol/fan-out.ts fanOutName)");
    return classId;
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}

function assertNever(value: never): never {
  throw new Error(`Unexpected fan-out item ${JSON.stringify(value)}`);
}
