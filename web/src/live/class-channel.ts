import PartySocket from "partysocket";
import { createStore, produce, reconcile, type SetStoreFunction } from "solid-js/store";
import * as v from "valibot";
import { describeFrameIssues, type ErrorCode } from "../../../schema/errors";
import {
  type ChatMessage,
  CLASSROOM_CLOSE_CODES,
  CLASSROOM_RESPONSES,
  type ClassroomEvent,
  type ClassroomMethod,
  ClassroomNotificationSchema,
  type ClassroomRequestData,
  type ClassroomResponses,
  FINAL_CLOSE_CODES,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  type JoinResponse,
  type MediaMoveReason,
  type MediaProducerInfo,
  type MediaState,
  type Participant,
  type Poll,
  type SessionState,
  type Snapshot,
} from "../../../schema/protocol/classroom";
import { type BoardInk, type BoardOpEntry, type BoardState, surfaceKey } from "../../../schema/protocol/board";
import { ResponseFrameSchema } from "../../../schema/protocol/envelope";
import { PendingRequests } from "../../../schema/protocol/pending-requests";
import { api, ApiError } from "../api";
import { joinRefusal } from "./lobby/class-entry";
import { JoinResponseSchema } from "../../../schema/api/join";

/** How long a request may wait for its answer before it fails. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Heartbeat interval; the object closes sockets that stay silent for 90 seconds. */
const HEARTBEAT_MS = 20_000;
/** How long a burst of reactions stays on screen. */
const REACTION_SHOW_MS = 3_000;

export type ChannelStatus = "connecting" | "open" | "reconnecting" | "closed";

/** Everything the classroom page shows, kept in a Solid store. */
export interface ChannelState {
  status: ChannelStatus;
  /** Why the channel closed for good (removed, blocked, ended, refused), or null. */
  closedMessage: string | null;
  /** It closed because a teacher ended the class (the page then shows that the class has ended). */
  ended: boolean;
  you: Snapshot["you"] | null;
  session: SessionState | null;
  /**
   * Moderators: everyone in the class. Students: the people they see (teachers and admins, the stage, raised
   * hands, themselves); everyone else is counted in `headCount` and listed on demand (`people.list`).
   */
  participants: Participant[];
  /** How many are in the class now. */
  headCount: number;
  chat: ChatMessage[];
  polls: Poll[];
  myVotes: Record<string, string[]>;
  /** Reaction bursts currently shown. */
  reactions: { id: number; emoji: string; count: number }[];
  /** The class's media map (who sends what on which node, the stage, recording) and network quality by user. */
  media: MediaState & { quality: Record<string, number> };
  /** The board: the presenter's surface with its shapes, the pens, the blank pages. */
  board: BoardState;
}

/** A request the object refused, with its code from the closed set. */
export class ChannelRequestError extends Error {
  override readonly name = "ChannelRequestError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For `RATE_LIMITED`: how long until the same request would pass (the message says it in seconds too). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The browser side of the class channel: a partysocket that fetches a fresh class token for every (re)connect,
 * requests with ids and timeouts, a store fed by the snapshot and the coalesced events, a heartbeat, and chat
 * messages that are resent after a reconnect until the object acknowledged them (the client message id makes
 * the resend harmless).
 */
export class ClassChannel {
  readonly state: ChannelState;
  private readonly setState: SetStoreFunction<ChannelState>;
  private readonly inkListeners = new Set<(userId: string, ink: BoardInk) => void>();
  private readonly moveListeners = new Set<(nodeId: string, reason: MediaMoveReason) => void>();
  private readonly boardOpListeners = new Set<(entry: BoardOpEntry) => void>();
  private readonly socket: PartySocket;
  private readonly pending = new PendingRequests<ClassroomMethod>(REQUEST_TIMEOUT_MS);
  private readonly unacknowledgedChat = new Map<string, ClassroomRequestData<"chat.send">>();
  private snapshotSeq = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private reactionId = 0;
  private closedForGood = false;
  /** Ops for the presenter's surface that arrive while its shapes are being fetched (applied after the answer). */
  private heldBoardOps: BoardOpEntry[] = [];
  private boardFetch: Promise<void> | null = null;

  /**
   * @param firstJoin the join answer the page already has (it asked to decide between lobby and class): its
   * token opens the first connection, so entering costs no second join.
   */
  constructor(
    readonly classId: string,
    private firstJoin: JoinResponse | null = null,
  ) {
    [this.state, this.setState] = createStore<ChannelState>({
      status: "connecting",
      closedMessage: null,
      ended: false,
      you: null,
      session: null,
      participants: [],
      headCount: 0,
      chat: [],
      polls: [],
      myVotes: {},
      reactions: [],
      media: { producers: [], stage: [], recording: null, quality: {} },
      board: { presenter: null, pens: [], blankPages: 0, current: null },
    });
    this.socket = new PartySocket({
      host: window.location.host,
      party: "classroom",
      room: classId,
      query: () => this.freshToken(),
      maxRetries: Number.POSITIVE_INFINITY,
    });
    this.socket.addEventListener("message", (event) => this.onFrame(event.data));
    this.socket.addEventListener("open", () => this.startHeartbeat());
    this.socket.addEventListener("close", (event) => this.onClose(event.code, event.reason));
  }

  /**
   * Sends a request and resolves with the object's answer (checked against the method's response schema), or
   * rejects with a {@link ChannelRequestError}.
   */
  request<M extends ClassroomMethod>(method: M, data: ClassroomRequestData<M>): Promise<ClassroomResponses[M]> {
    if (this.state.status !== "open") return Promise.reject(new ChannelRequestError("UNAVAILABLE", "Not connected to the class right now"));
    const answer = this.pending.send(
      method,
      () => new ChannelRequestError("UNAVAILABLE", "The class did not answer in time"),
      (id) => this.socket.send(JSON.stringify({ id, method, data })),
    );
    return answer as Promise<ClassroomResponses[M]>;
  }

  /**
   * Posts a chat message (with a file already uploaded to the class, if `fileId` is given); if the connection
   * drops first, it is sent again after the reconnect.
   */
  async sendChat(body: string, fileId?: string): Promise<void> {
    const clientMessageId = crypto.randomUUID();
    const data: ClassroomRequestData<"chat.send"> = fileId ? { clientMessageId, body, attachment: { fileId } } : { clientMessageId, body };
    this.unacknowledgedChat.set(clientMessageId, data);
    try {
      await this.request("chat.send", data);
      this.unacknowledgedChat.delete(clientMessageId);
    } catch (error) {
      // A refusal is final; a lost connection keeps the message for the resend after the reconnect.
      if (error instanceof ChannelRequestError && error.code !== "UNAVAILABLE") this.unacknowledgedChat.delete(clientMessageId);
      throw error;
    }
  }

  /** Leaves the class (the page is closing). */
  close(): void {
    this.closedForGood = true;
    this.stopHeartbeat();
    this.socket.close(1000, "Left the class");
    this.failPending("You left the class");
  }

  private async freshToken(): Promise<Record<string, string>> {
    const first = this.firstJoin;
    this.firstJoin = null;
    // Still good for a while: a connection takes a moment, and the token is checked at the upgrade.
    if (first && first.expiresAt - Date.now() > 30_000) return { token: first.token, ...testRegion() };
    try {
      const join = await api(`/api/classes/${this.classId}/join`, JoinResponseSchema, { method: "POST" });
      return { token: join.token, ...testRegion() };
    } catch (error) {
      const refusedForGood = error instanceof ApiError && error.status >= 400 && error.status < 500;
      if (joinRefusal(error)?.reason === "ended") this.setState("ended", true);
      if (refusedForGood) this.finish(error.message);
      // A network failure: let partysocket try again with backoff (the edge refuses the empty token).
      return { token: "" };
    }
  }

  private finish(message: string): void {
    this.closedForGood = true;
    this.setState({ status: "closed", closedMessage: message });
    this.stopHeartbeat();
    this.socket.close(1000, "Closed for good");
    this.failPending(message);
  }

  private onClose(code: number, reason: string): void {
    this.stopHeartbeat();
    this.failPending("The connection to the class was lost");
    if (this.closedForGood) return;
    if (FINAL_CLOSE_CODES.includes(code)) {
      if (code === CLASSROOM_CLOSE_CODES.ended) this.setState("ended", true);
      this.finish(this.state.closedMessage ?? (reason || "The class channel closed"));
      return;
    }
    if (code === CLASSROOM_CLOSE_CODES.frameTooLarge) this.setState("closedMessage", null);
    this.setState("status", "reconnecting");
  }

  private onFrame(raw: unknown): void {
    if (typeof raw !== "string" || raw === HEARTBEAT_PONG) return;
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
          const parsed = v.safeParse(CLASSROOM_RESPONSES[method], data);
          if (parsed.success) return parsed.output;
          console.error(`The class's answer to ${method} does not match its schema: ${describeFrameIssues(parsed.issues)}`);
          throw new ChannelRequestError("INVALID_MESSAGE", "The class answered in a form this page does not understand. Reload the page and try again.");
        },
        (error) => new ChannelRequestError(error.code, error.message, error.retryAfterMs),
      );
      return;
    }
    const notification = v.safeParse(ClassroomNotificationSchema, frame);
    if (!notification.success) return;
    const message = notification.output;
    switch (message.notification) {
      case "snapshot":
        this.applySnapshot(message.data);
        break;
      case "events":
        for (const event of message.data.events) if (event.seq > this.snapshotSeq) this.applyEvent(event);
        break;
      case "board.ink":
        for (const listener of this.inkListeners) listener(message.data.userId, message.data.ink);
        break;
      case "media.move":
        for (const listener of this.moveListeners) listener(message.data.nodeId, message.data.reason);
        break;
      case "closing":
        this.setState("closedMessage", message.data.message);
        break;
      default:
        assertNever(message);
    }
  }

  private applySnapshot(snapshot: Snapshot): void {
    this.snapshotSeq = snapshot.seq;
    this.setState(
      reconcile({
        ...this.state,
        status: "open",
        closedMessage: null,
        you: snapshot.you,
        session: snapshot.session,
        participants: snapshot.participants,
        headCount: snapshot.headCount,
        chat: snapshot.chat,
        polls: snapshot.polls,
        myVotes: snapshot.myVotes,
        media: { ...snapshot.media, quality: this.state.media.quality },
        board: snapshot.board,
      }),
    );
    for (const [clientMessageId, data] of this.unacknowledgedChat) {
      this.request("chat.send", data).then(
        () => this.unacknowledgedChat.delete(clientMessageId),
        () => undefined,
      );
    }
  }

  private applyEvent(event: ClassroomEvent): void {
    switch (event.type) {
      case "participants":
        this.setState(
          "participants",
          produce((list) => {
            for (const removed of event.removed) {
              // A student is "removed" from other students' view when their hand goes down; they stay in their own
              // (when they really leave, the socket closes).
              if (removed === this.state.you?.userId) continue;
              const index = list.findIndex((p) => p.userId === removed);
              if (index >= 0) list.splice(index, 1);
            }
            for (const upsert of event.upserts) {
              const index = list.findIndex((p) => p.userId === upsert.userId);
              if (index >= 0) list[index] = upsert;
              else list.push(upsert);
            }
          }),
        );
        break;
      case "headcount":
        this.setState("headCount", event.count);
        break;
      case "chat.message":
        if (!this.state.chat.some((m) => m.id === event.message.id)) this.setState("chat", this.state.chat.length, event.message);
        break;
      case "chat.deleted":
        this.setState("chat", (chat) => chat.filter((m) => m.id !== event.messageId));
        break;
      case "chat.locked":
        if (this.state.session) this.setState("session", "chatLocked", event.locked);
        break;
      case "files.allowed":
        if (this.state.session) this.setState("session", "filesAllowed", event.allowed);
        break;
      case "poll": {
        const index = this.state.polls.findIndex((p) => p.id === event.poll.id);
        this.setState("polls", index >= 0 ? index : this.state.polls.length, reconcile(event.poll));
        break;
      }
      case "reactions":
        for (const [emoji, count] of Object.entries(event.counts)) {
          const id = ++this.reactionId;
          this.setState("reactions", this.state.reactions.length, { id, emoji, count });
          setTimeout(() => this.setState("reactions", (list) => list.filter((r) => r.id !== id)), REACTION_SHOW_MS);
        }
        break;
      case "media.producers":
        this.setState(
          "media",
          "producers",
          produce((list: MediaProducerInfo[]) => {
            for (const removed of event.removed) {
              const index = list.findIndex((p) => p.producerId === removed);
              if (index >= 0) list.splice(index, 1);
            }
            for (const upsert of event.upserts) {
              const index = list.findIndex((p) => p.producerId === upsert.producerId);
              if (index >= 0) list[index] = upsert;
              else list.push(upsert);
            }
          }),
        );
        break;
      case "media.stage":
        this.setState("media", "stage", event.stage);
        break;
      case "media.quality":
        this.setState("media", "quality", event.quality);
        break;
      case "recording":
        this.setState("media", "recording", event.recording);
        break;
      case "board.presenter":
        this.setState("board", { presenter: event.presenter, blankPages: event.blankPages });
        // The shapes of a newly shown surface come from `board.fetch`; until then none are known.
        if (!event.presenter || this.state.board.current?.surface !== surfaceKey(event.presenter.surface)) this.setState("board", "current", null);
        break;
      case "board.pens":
        this.setState("board", "pens", event.pens);
        break;
      case "board.op":
        for (const listener of this.boardOpListeners) listener(event.entry);
        this.applyBoardOp(event.entry);
        break;
      default:
        assertNever(event);
    }
  }

  /** Calls `listener` with every stroke in progress others draw (the board component draws them). */
  /** The class tells this browser to move its media off `nodeId` (gone or draining: `reason`) now. */
  onMediaMove(listener: (nodeId: string, reason: MediaMoveReason) => void): () => void {
    this.moveListeners.add(listener);
    return () => this.moveListeners.delete(listener);
  }

  onInk(listener: (userId: string, ink: BoardInk) => void): () => void {
    this.inkListeners.add(listener);
    return () => this.inkListeners.delete(listener);
  }

  /** Calls `listener` with every accepted board op, on any surface (a page browsed alone keeps up with them). */
  onBoardOp(listener: (entry: BoardOpEntry) => void): () => void {
    this.boardOpListeners.add(listener);
    return () => this.boardOpListeners.delete(listener);
  }

  /**
   * Fetches the shapes of the presenter's surface when they are not known (it changed surface). Ops that arrive
   * before the answer are held and applied on top of it, so none is lost between the read and the answer.
   */
  loadBoardSurface(): Promise<void> {
    const presenter = this.state.board.presenter;
    if (!presenter || this.state.board.current || this.boardFetch) return this.boardFetch ?? Promise.resolve();
    const key = surfaceKey(presenter.surface);
    this.heldBoardOps = [];
    let moved = false;
    this.boardFetch = this.request("board.fetch", { surface: presenter.surface })
      .then((fetched) => {
        const now = this.state.board.presenter;
        if (this.state.board.current) return;
        // The presenter moved on while this was read: read the surface shown now instead.
        if (!now || surfaceKey(now.surface) !== key) moved = now !== null;
        else {
          this.setState("board", "current", fetched);
          for (const entry of this.heldBoardOps) this.applyBoardOp(entry);
        }
      })
      .finally(() => {
        this.heldBoardOps = [];
        this.boardFetch = null;
        if (moved) void this.loadBoardSurface().catch(() => undefined);
      });
    return this.boardFetch;
  }

  private applyBoardOp(entry: BoardOpEntry): void {
    const current = this.state.board.current;
    if (!current && this.boardFetch) this.heldBoardOps.push(entry);
    if (!current || current.surface !== entry.surface || entry.opSeq <= current.opSeq) return;
    this.setState(
      "board",
      "current",
      produce((surface) => {
        if (!surface) return;
        surface.opSeq = entry.opSeq;
        const op = entry.op;
        if (op.type === "add") surface.shapes.push({ shape: op.shape, userId: entry.userId });
        else if (op.type === "update") {
          const index = surface.shapes.findIndex((s) => s.shape.id === op.shape.id);
          if (index >= 0) surface.shapes[index] = { shape: op.shape, userId: surface.shapes[index]!.userId };
        } else if (op.type === "delete") surface.shapes = surface.shapes.filter((s) => !op.shapeIds.includes(s.shape.id));
        else surface.shapes = [];
      }),
    );
  }

  /** Remembers the caller's own vote (the object confirmed it). */
  recordVote(pollId: string, optionIds: string[]): void {
    this.setState("myVotes", pollId, optionIds);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send(HEARTBEAT_PING);
    }, HEARTBEAT_MS);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private failPending(message: string): void {
    this.pending.failAll(() => new ChannelRequestError("UNAVAILABLE", message));
  }
}

function assertNever(value: never): never {
  throw new Error(`Unexpected message ${JSON.stringify(value)}`);
}

/**
 * The page's `?region=` passed on to the class channel: in local development the Worker places the participant
 * in that region, so tests and benchmarks on one machine get nodes of several "regions"; production ignores it.
 */
function testRegion(): Record<string, string> {
  const region = new URLSearchParams(window.location.search).get("region");
  return region ? { region } : {};
}
