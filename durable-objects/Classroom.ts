import { type Connection, type ConnectionContext, Server, type WSMessage } from "partyserver";
import * as v from "valibot";
import { describeFrameIssues } from "../schema/errors";
import { errorFrame, okFrame, readRequestId } from "../schema/protocol/envelope";
import {
  CLASSROOM_CLOSE_CODES,
  CLASSROOM_LIMITS,
  CLASSROOM_METHODS,
  ClassroomRequestFrameSchema,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  type ChatAttachment,
  type Participant,
  type Snapshot,
} from "../schema/protocol/classroom";
import type { ClassMediaView } from "../schema/api/class-media";
import { CLASS_LINK_VERIFIED_NODE_HEADER } from "../schema/protocol/class-link";
import { classOfFanOut } from "../schema/protocol/fan-out";
import { SfuNodeIdSchema } from "../schema/protocol/fleet";
import { JOINER_LOCATION_HEADER, type JoinerLocation, JoinerLocationSchema } from "../schema/regions";
import { CLASS_IDENTITY_HEADER, type ClassIdentity, decodeIdentityHeader, isModerator } from "../schema/tokens/class-token";
import type { ClassroomEnv } from "./bindings";
import { Broadcaster, participantTags, USER_TAG } from "./broadcaster";
import { Board } from "./board";
import { ClassMarks } from "./marks";
import { Chat } from "./chat";
import { EndedSlots } from "./ended-slot";
import { Engagement } from "./engagement";
import { Failover } from "./failover";
import { ChannelError } from "./errors";
import { FanOut, type RelayedConnection } from "./fan-out";
import { type Caller, HANDLERS, type RoomServices } from "./handlers";
import { Hands } from "./hands";
import { MediaPlane } from "./media-plane";
import { ClassNodeLinks, isNodeLink, type NodeLinkState } from "./node-links";
import { MediaMap } from "./media-map";
import { Moderation } from "./moderation";
import { Outbox } from "./outbox";
import { Polls } from "./polls";
import { Presence } from "./presence";
import { RateLimiter } from "./rate-limit";
import { LiveSession } from "./session";
import { RecordingControl } from "./recording";
import { RoomStorage } from "./storage";

/**
 * What each socket carries through hibernation. A participant: the identity the Worker verified, where they
 * connect from, and when. An sfu-node's class link: the node id the Worker verified (never a participant).
 */
type ParticipantState = ClassIdentity & { connectedAt: number; location: JoinerLocation };
type SocketState = ParticipantState | NodeLinkState;
/**
 * A participant's socket, direct or held by a fan-out object ({@link RelayedConnection}): the class object uses
 * only these of either.
 */
type ParticipantSocket = Pick<Connection<ParticipantState>, "id" | "state" | "send" | "close" | "readyState">;

/** A socket that neither pinged nor sent anything for this long is considered dead and closed. */
const HEARTBEAT_TIMEOUT_MS = 90_000;
/** How often the alarm looks for dead sockets while anyone is connected. */
const HEARTBEAT_CHECK_MS = 30_000;
/** A session nobody is in ends after this long. */
const EMPTY_SESSION_MS = 10 * 60_000;
/** Backstop for the outbox: if the object is evicted before its flush timer fires, the alarm ships the rest. */
const OUTBOX_BACKSTOP_MS = 2_000;

/**
 * One Durable Object per class: the single authority of a live session — presence and attendance, chat,
 * polls, raised hands, reactions and moderation. Built on partyserver with hibernation; everything that must
 * survive lives in the object's SQLite storage (see storage.ts) and is shipped to D1 through the outbox.
 *
 * Sockets arrive only through the Worker, which verified the class token and put the identity in a header
 * ({@link CLASS_IDENTITY_HEADER}); the object is not reachable from outside any other way.
 */
export class Classroom extends Server<ClassroomEnv> {
  static override options = { hibernate: true };

  private readonly store: RoomStorage;
  private readonly outbox: Outbox;
  private readonly session: LiveSession;
  private readonly broadcaster: Broadcaster;
  private readonly fanOut: FanOut;
  private readonly presence: Presence;
  private readonly mediaMap: MediaMap;
  private readonly engagement: Engagement;
  private readonly links: ClassNodeLinks;
  private readonly failover: Failover;
  private readonly endedSlots: EndedSlots;
  private readonly services: RoomServices;
  private readonly rateLimiter = new RateLimiter();
  private readonly lastMessageAt = new Map<string, number>();
  private alarmAt: number | null = null;
  /** When the alarm last looked for dead sockets (in memory: after a wake-up the first alarm looks). */
  private lastHeartbeatCheckAt = 0;
  /**
   * The participant list as JSON for snapshots. A class of 1,000 joining at once would otherwise read and
   * serialize the whole list for every join; it is rebuilt at most once per presence flush instead. A cached
   * list may miss changes still waiting in the broadcaster, but those reach the new socket in the next events
   * frame with a sequence number above the snapshot's, so the client ends up with the same list.
   */
  private participantsJson: string | null = null;
  /** The people every student sees (teachers, stage, hands), cached like {@link participantsJson}. */
  private seenByStudents: Participant[] | null = null;

  constructor(ctx: DurableObjectState, env: ClassroomEnv) {
    super(ctx, env);
    this.store = new RoomStorage(ctx.storage.sql);
    this.outbox = new Outbox(this.store, env.DB, () => this.scheduleAlarm(Date.now() + OUTBOX_BACKSTOP_MS));
    this.session = new LiveSession(this.store, this.outbox);
    this.endedSlots = new EndedSlots(env.DB, () => this.name);
    this.fanOut = new FanOut(
      this.store,
      (shard) => env.CLASSROOM_SHARD.get(env.CLASSROOM_SHARD.idFromName(shard)),
      (connection) => this.onClose(asConnection(connection), 1006),
    );
    this.broadcaster = new Broadcaster(
      (tag) => [...ctx.getWebSockets(tag), ...this.fanOut.relays(tag)],
      (pollId, audience) => this.services.polls.render(pollId, audience),
      () => {
        this.participantsJson = null;
        this.seenByStudents = null;
      },
      () => this.presence.headCount(),
      () => this.fanOut.busiest(),
    );
    this.presence = new Presence(this.store, this.outbox, this.session, this.broadcaster, (userId) => {
      this.services.media.userLeft(userId);
      this.services.board.userLeft(userId);
    });
    this.engagement = new Engagement(
      this.store,
      this.outbox,
      () => this.session.current()?.id ?? null,
      (shipBy) => this.scheduleAlarm(shipBy + OUTBOX_BACKSTOP_MS),
    );
    const marks = new ClassMarks(
      () => this.name,
      this.store,
      this.outbox,
      () => this.session.current()?.id ?? null,
    );
    this.mediaMap = new MediaMap(
      this.store,
      this.broadcaster,
      () => {
        this.services.board.screenShareEnded(Date.now());
        marks.screenShareEnded(Date.now());
      },
      (userId) => marks.screenShareStarted(userId, this.presence.get(userId)?.displayName ?? "someone", Date.now()),
      (userId, onStage) => {
        this.engagement.stageChanged(userId, onStage, Date.now());
        this.presence.stageChanged(userId, onStage);
        if (!onStage) marks.stageLeft(userId, Date.now());
        else void this.services.recording.stageJoined(userId);
      },
    );
    const polls = new Polls(this.store, this.outbox, this.session, this.broadcaster);
    const links = new ClassNodeLinks({
      connections: (tag) => this.getConnections(tag),
      socketCount: (tag) => this.ctx.getWebSockets(tag).length,
      receive: (nodeId, frame) => this.services.media.receive(nodeId, frame),
      nodeGone: (nodeId, clean) => this.services.media.nodeGone(nodeId, clean),
    });
    this.links = links;
    this.failover = new Failover(this.store, {
      linked: (nodeId) => links.sockets(nodeId).length > 0,
      sendTo: (userId, frame) => {
        for (const connection of this.openParticipantSockets(userId)) connection.send(frame);
      },
      present: (userId) => this.presence.isPresent(userId),
      displayName: (userId) => this.presence.get(userId)?.displayName ?? null,
    });
    const media = new MediaPlane(this.mediaMap, this.presence, links, env, this.failover);
    this.services = {
      chat: new Chat(this.store, this.outbox, this.session, this.presence, this.broadcaster, (userId, fileId) => sharedFile(env.DB, this.name, userId, fileId)),
      polls,
      presence: this.presence,
      hands: new Hands(this.presence, this.broadcaster, this.engagement),
      moderation: new Moderation(
        this.store,
        this.outbox,
        this.presence,
        (userId, code, reason, message) => this.disconnectUser(userId, code, reason, message),
        (userId) => this.openParticipantSockets(userId)[0]?.state?.role ?? null,
      ),
      media,
      marks,
      recording: new RecordingControl(this.store, this.session, this.outbox, this.presence, this.mediaMap, links, media, this.broadcaster, env.DB, (at) =>
        this.scheduleAlarm(at),
      ),
      board: new Board(
        () => this.name,
        this.store,
        this.outbox,
        this.broadcaster,
        (deckId) => deckPagesAndTitle(env.DB, this.name, deckId),
        (_fromUserId, frame) => this.broadcaster.sendNow(frame),
        marks,
      ),
      endSession: (caller, now) => this.endSession(caller.userId, "ended-by-teacher", now),
    };
    // The heartbeat is answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
    // Know the stored alarm after a wake-up, so a later wish never postpones an earlier duty (a grace end).
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  override getConnectionTags(_connection: Connection, context: ConnectionContext): string[] {
    const nodeId = readNodeId(context.request);
    if (nodeId) return ClassNodeLinks.tags(nodeId);
    const identity = readIdentity(context.request);
    if (!identity) return [];
    return participantTags(identity.userId, isModerator(identity.role));
  }

  /**
   * A socket the edge let through: it verified the class token and checked D1 for an active block and the
   * student's enrolment (worker/routes/join.ts), and the identity header is trusted. What is left is what only the
   * object knows: a block made in this class moments ago, the user's other sockets, and whether a student's slot
   * has been ended by a teacher (asked only while no session runs).
   */
  override async onConnect(connection: Connection<SocketState>, context: ConnectionContext): Promise<void> {
    const nodeId = readNodeId(context.request);
    if (nodeId) {
      this.links.accept(connection, nodeId, Date.now());
      this.scheduleAlarm(Date.now() + HEARTBEAT_CHECK_MS);
      return;
    }
    const identity = readIdentity(context.request);
    if (!identity || identity.classId !== this.name) {
      connection.close(CLASSROOM_CLOSE_CODES.unauthorized, "Join the class through the app");
      return;
    }
    if (identity.role === "student" && identity.occurrenceId && !this.session.current()) {
      if (!(await this.studentSlotOpen(connection, identity.occurrenceId))) return;
      // Closed while D1 answered: its close found no state to clean up, so nothing may be set up for it now.
      if (connection.readyState !== WebSocket.OPEN) return;
    }
    const now = Date.now();
    const others = this.openParticipantSockets(identity.userId).filter((other) => other !== connection);
    // The Worker gives every socket a fresh id; two open sockets sharing one would let the close of either make
    // the user "gone" while the other stays in the class.
    if (others.some((other) => other.id === connection.id)) {
      connection.close(CLASSROOM_CLOSE_CODES.unauthorized, "Join the class through the app");
      return;
    }
    if (others.length >= CLASSROOM_LIMITS.maxSocketsPerUser) {
      this.sendClosing(connection, "too-many-sockets", `You have the class open in ${others.length} places already; close one of them`);
      connection.close(CLASSROOM_CLOSE_CODES.tooManySockets, "Too many open connections");
      return;
    }
    if (this.services.moderation.isRecentlyBlocked(identity.userId, now)) {
      this.sendClosing(connection, "blocked", "You have been blocked from this class");
      connection.close(CLASSROOM_CLOSE_CODES.blocked, "Blocked from this class");
      return;
    }
    const session = this.session.ensure(identity, now);
    connection.setState({ ...identity, connectedAt: now, location: readLocation(context.request) });
    this.presence.connected(identity, session.id, now);
    connection.send(this.snapshotFrame(identity));
    this.scheduleAlarm(now + HEARTBEAT_CHECK_MS);
  }

  override async onMessage(connection: Connection<SocketState>, message: WSMessage): Promise<void> {
    const identity = connection.state;
    if (!identity) return;
    if (isNodeLink(identity)) {
      this.lastMessageAt.set(connection.id, Date.now());
      this.links.message(connection, identity, message);
      return;
    }
    const size = typeof message === "string" ? utf8Length(message) : message.byteLength;
    if (size > CLASSROOM_LIMITS.maxFrameBytes) {
      connection.close(CLASSROOM_CLOSE_CODES.frameTooLarge, `Frame too large: at most ${CLASSROOM_LIMITS.maxFrameBytes} bytes`);
      return;
    }
    this.lastMessageAt.set(connection.id, Date.now());
    if (typeof message !== "string") {
      connection.send(errorFrame(null, "INVALID_MESSAGE", "Send JSON text frames"));
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      connection.send(errorFrame(null, "INVALID_MESSAGE", "The frame is not valid JSON"));
      return;
    }
    connection.send(await this.dispatch(identity, raw));
  }

  override onClose(connection: Connection<SocketState>, code?: number): void {
    this.lastMessageAt.delete(connection.id);
    const identity = connection.state;
    if (identity && isNodeLink(identity)) {
      this.links.closed(connection, identity, code);
      return;
    }
    if (!identity || !this.presence.get(identity.userId)) return;
    const stillOpen = this.openParticipantSockets(identity.userId).some((other) => other !== connection && other.id !== connection.id);
    if (stillOpen) return;
    this.scheduleAlarm(this.presence.lastSocketClosed(identity.userId, Date.now()));
  }

  override onError(connection: Connection<SocketState>): void {
    this.onClose(connection);
  }

  /**
   * RPC for the Worker: a block written elsewhere (the blocks API: class-scoped, or global for every class the
   * user is in) takes effect in the live class at once. Call through `getServerByName(env.CLASSROOM, classId)`.
   */
  async applyBlock(userId: string): Promise<void> {
    this.services.moderation.applyBlock(userId, Date.now());
    await this.outbox.flush();
  }

  /** RPC for the Worker: a block was lifted; the user may come in again at once. */
  async liftBlock(userId: string): Promise<void> {
    this.services.moderation.liftBlock(userId);
  }

  /**
   * RPC for the Worker: the user is no longer enrolled (they left or the teacher removed them). Their open
   * sockets are closed and their attendance ends; they cannot come back in, since the edge checks enrolment at
   * every upgrade. Teachers and admins are never enrolled and are not touched.
   */
  async revokeEnrollment(userId: string): Promise<void> {
    const role = this.presence.get(userId)?.role ?? this.openParticipantSockets(userId)[0]?.state?.role ?? null;
    if (role !== "student") return;
    this.disconnectUser(userId, CLASSROOM_CLOSE_CODES.kicked, "kicked", "You are no longer enrolled in this class");
    this.presence.remove(userId, "kicked", Date.now());
    await this.outbox.flush();
  }

  /**
   * RPC for the Worker: may students share files into this class now (`files.allow`)? The upload route asks
   * before it lets a student start a shared upload, and again before it completes one.
   */
  async studentsMayShareFiles(): Promise<boolean> {
    return this.services.chat.filesAllowed();
  }

  /** RPC for the Worker (admins' `GET /api/admin/classes/:id/media`): which nodes carry the class's media, who is on each. */
  async mediaView(): Promise<ClassMediaView> {
    const regions = await this.env.DB.prepare(`SELECT id, region FROM sfu_nodes`).all<{ id: string; region: string }>();
    const linked = [...new Set(this.links.sockets().map((link) => link.nodeId))];
    const nodes = this.failover.view(linked, new Map(regions.results.map((row) => [row.id, row.region])), Date.now());
    return { classId: this.name, nodes };
  }

  /**
   * RPC for a fan-out object (durable-objects/ClassroomShard.ts): it took a socket the edge verified. The socket is
   * admitted or refused here by the same code as a direct one; its snapshot or refusal goes back to the fan-out object.
   */
  async relayConnect(shard: string, socketId: string, identityHeader: string, location: string | null): Promise<void> {
    const identity = decodeIdentityHeader(identityHeader);
    if (classOfFanOut(shard) !== this.name || !identity) throw new Error(`${shard} is not a fan-out object of ${this.name}`);
    const connection = this.fanOut.opened(socketId, shard, identity.userId, isModerator(identity.role));
    const headers = new Headers({ [CLASS_IDENTITY_HEADER]: identityHeader });
    if (location) headers.set(JOINER_LOCATION_HEADER, location);
    await this.onConnect(asConnection(connection), { request: new Request("https://fan-out.invalid/", { headers }) });
  }

  /** RPC for a fan-out object: a frame from one of its sockets, handled as if it came on a direct socket. */
  async relayMessage(shard: string, socketId: string, message: string | ArrayBuffer): Promise<void> {
    const connection = this.fanOut.get(socketId);
    if (connection?.shard !== shard) return;
    await this.onMessage(asConnection(connection), message);
  }

  /** RPC for a fan-out object: one of its sockets closed. */
  async relayClose(shard: string, socketId: string, code: number): Promise<void> {
    if (this.fanOut.get(socketId)?.shard !== shard) return;
    const connection = this.fanOut.closed(socketId);
    if (connection) this.onClose(asConnection(connection), code);
  }

  override async onRequest(): Promise<Response> {
    return Response.json({ error: { code: "NOT_FOUND", message: "The class channel only speaks WebSocket" } }, { status: 404 });
  }

  override async onAlarm(): Promise<void> {
    this.alarmAt = null;
    // The alarm's decisions (end an empty session) rest on the stored row, not on the join path's copy of it.
    this.session.forget();
    this.presence.forgetHeadCount();
    const now = Date.now();
    this.services.polls.closeExpired(now);
    this.presence.expireGraces(now, (userId) => this.openParticipantSockets(userId).length > 0);
    this.closeDeadSockets(now);
    await this.services.media
      .moveOffSilentNodes(now)
      .catch((error: unknown) => console.warn(JSON.stringify({ event: "silent_node_check_failed", classId: this.name, error: String(error) })));
    await this.services.recording.endDue(now);
    const session = this.session.current();
    if (session?.empty_since != null && now - session.empty_since >= EMPTY_SESSION_MS && this.presence.count() === 0) {
      await this.endSession(null, "empty", now);
    }
    this.engagement.ship();
    await this.outbox.flush();
    this.scheduleNextAlarm(now);
  }

  /**
   * Whether a student may open a session in their token's slot; if not, the socket is told and closed: the class
   * has ended (final), or D1 could not say (the browser reconnects).
   */
  private async studentSlotOpen(connection: Connection<SocketState>, occurrenceId: string): Promise<boolean> {
    try {
      if (!(await this.endedSlots.ended(occurrenceId))) return true;
      this.sendClosing(connection, "ended", "This class has ended");
      connection.close(CLASSROOM_CLOSE_CODES.ended, "This class has ended");
    } catch (error) {
      console.error(JSON.stringify({ event: "classroom_slot_check_failed", classId: this.name, error: String(error) }));
      connection.close(CLASSROOM_CLOSE_CODES.tryAgain, "The class could not be reached; trying again");
    }
    return false;
  }

  /** The user's open participant sockets (never a node's class link). */
  private openParticipantSockets(userId: string): ParticipantSocket[] {
    const open: ParticipantSocket[] = [];
    for (const connection of this.participantSockets(USER_TAG(userId))) {
      const state = connection.state;
      if (state && !isNodeLink(state) && connection.readyState === WebSocket.OPEN) open.push(connection as ParticipantSocket);
    }
    return open;
  }

  /** The sockets with `tag` (every one without), this object's own and those its fan-out objects hold. */
  private participantSockets(tag?: string): (Connection<SocketState> | RelayedConnection<SocketState>)[] {
    return [...this.getConnections<SocketState>(tag), ...(this.fanOut.sockets(tag) as RelayedConnection<SocketState>[])];
  }

  /** Parses and runs one request; every outcome is a response frame (the socket stays open). */
  private async dispatch(identity: Caller, raw: unknown): Promise<string> {
    const id = readRequestId(raw);
    const frame = v.safeParse(ClassroomRequestFrameSchema, raw);
    if (!frame.success) return errorFrame(id, "INVALID_MESSAGE", describeFrameIssues(frame.issues));
    // Only a present participant acts in the class: a socket the class no longer counts (removed, blocked,
    // session ended) is refused rather than allowed to chat, vote or take media tokens unseen.
    if (!this.presence.isPresent(identity.userId)) return errorFrame(id, "FORBIDDEN", "You are not in the class any more; join it again");
    const method = frame.output.method;
    const spec = CLASSROOM_METHODS[method];
    if (!(spec.roles as readonly string[]).includes(identity.role)) return errorFrame(id, "FORBIDDEN", `A ${identity.role} may not use ${method}`);
    const data = v.safeParse(spec.request, frame.output.data ?? {});
    if (!data.success) return errorFrame(id, "INVALID_MESSAGE", describeFrameIssues(data.issues));
    const now = Date.now();
    // After the refusals that cost nothing (shape, role) and before the handler, so a refused call writes and
    // sends nothing; a malformed flood is answered without spending anyone's allowance.
    const refusal = this.rateLimiter.admit(spec.rateLimit, identity, now);
    if (refusal) return errorFrame(id, "RATE_LIMITED", refusal.message, refusal.retryAfterMs);
    try {
      const handler = HANDLERS[method] as (room: RoomServices, caller: Caller, data: unknown, now: number) => unknown;
      const result = await handler(this.services, identity, data.output, now);
      return okFrame(frame.output.id, result);
    } catch (error) {
      if (error instanceof ChannelError) return errorFrame(id, error.code, error.message);
      console.error(
        JSON.stringify({ event: "classroom_handler_failed", classId: this.name, method, error: String(error instanceof Error ? error.stack : error) }),
      );
      return errorFrame(id, "INTERNAL", "Something went wrong on our side");
    }
  }

  /**
   * The `snapshot` notification for a new socket (see {@link Snapshot}): a moderator gets everyone, a student
   * the few people students see and themselves, so a student's snapshot does not grow with the class.
   */
  private snapshotFrame(identity: ClassIdentity): string {
    const audience = isModerator(identity.role) ? "moderators" : "students";
    const rest: Omit<Snapshot, "participants"> = {
      seq: this.broadcaster.currentSeq,
      headCount: this.presence.headCount(),
      you: { userId: identity.userId, displayName: identity.displayName, role: identity.role },
      session: this.session.state()!,
      chat: this.services.chat.tail(),
      polls: this.services.polls.all(audience),
      myVotes: this.services.polls.votesOf(identity.userId),
      media: { producers: this.mediaMap.producers(), stage: this.mediaMap.stage(), recording: this.services.recording.state() },
      board: this.services.board.state(),
    };
    const head = JSON.stringify({ notification: "snapshot", data: rest });
    // Splice the list into the data object: `…}}` → `…,"participants":[…]}}`.
    return `${head.slice(0, -2)},"participants":${this.participantsFor(identity)}}}`;
  }

  /** The snapshot's participant list as JSON: everyone for a moderator; for a student, whom students see and themselves. */
  private participantsFor(identity: ClassIdentity): string {
    if (isModerator(identity.role)) {
      this.participantsJson ??= JSON.stringify(this.presence.list());
      return this.participantsJson;
    }
    this.seenByStudents ??= this.presence.seenByStudents();
    const self = this.presence.get(identity.userId);
    const seen = this.seenByStudents;
    return JSON.stringify(!self || seen.some((p) => p.userId === self.userId) ? seen : [...seen, self]);
  }

  private sendClosing(connection: Pick<WebSocket, "send">, reason: "kicked" | "blocked" | "ended" | "too-many-sockets", message: string): void {
    try {
      connection.send(JSON.stringify({ notification: "closing", data: { reason, message } }));
    } catch {
      // Already closing.
    }
  }

  private disconnectUser(userId: string, code: number, reason: "kicked" | "blocked", message: string): void {
    for (const connection of this.participantSockets(USER_TAG(userId))) {
      this.sendClosing(connection, reason, message);
      connection.close(code, message);
    }
  }

  /** Ends the session for everyone: attendance closed, D1 updated, every socket told and closed. */
  private async endSession(endedBy: string | null, reason: "ended-by-teacher" | "empty", now: number): Promise<void> {
    // The recording ends with the class; the node composes it before its link closes with `ended`.
    await this.services.recording.stop(now);
    const session = this.session.current();
    if (!session) return;
    this.broadcaster.flush();
    // Before everyone leaves: whoever is still on stage was there until the session's end.
    this.engagement.endSession(now);
    this.presence.removeAll("ended", now);
    this.outbox.add("session.end", { id: session.id, endedAt: now, endedBy, reason });
    this.store.clearSession();
    this.services.board.endSession();
    this.session.forget();
    this.mediaMap.clear();
    this.broadcaster.stop();
    this.links.endClass();
    // The end reaches D1 before anyone is told: a student's page then asks the join route, which reads D1 to
    // answer "this class has ended" rather than let them into a fresh, empty session.
    await this.outbox.flush();
    const connections = this.participantSockets().filter((connection) => !connection.state || !isNodeLink(connection.state));
    for (const connection of connections) this.sendClosing(connection, "ended", "The class has ended");
    // Close after the current request's reply went out, so the moderator who ended it gets an answer.
    setTimeout(() => {
      for (const connection of connections) connection.close(CLASSROOM_CLOSE_CODES.ended, "The class has ended");
    }, 0);
  }

  private closeDeadSockets(now: number): void {
    // The alarm comes every 2 s while the outbox is busy (a class joining); a look at every socket is only
    // needed once per check period.
    if (now - this.lastHeartbeatCheckAt < HEARTBEAT_CHECK_MS) return;
    this.lastHeartbeatCheckAt = now;
    for (const connection of this.getConnections<SocketState>()) {
      const lastPing = this.ctx.getWebSocketAutoResponseTimestamp(connection)?.getTime() ?? 0;
      const lastSeen = Math.max(connection.state?.connectedAt ?? 0, lastPing, this.lastMessageAt.get(connection.id) ?? 0);
      if (now - lastSeen > HEARTBEAT_TIMEOUT_MS) connection.close(CLASSROOM_CLOSE_CODES.heartbeatTimeout, "No heartbeat");
    }
  }

  /** Sets the alarm to the earliest thing the object must do on its own. */
  private scheduleNextAlarm(now: number): void {
    const session = this.session.current();
    const candidates = [
      this.presence.nextGraceEnd(),
      this.services.polls.nextTimerEnd(),
      // While D1 is failing, not before the outbox's next attempt: an alarm every 2 s would only find it waiting.
      this.outbox.pending > 0 ? Math.max(now + OUTBOX_BACKSTOP_MS, this.outbox.nextAttemptAt ?? 0) : null,
      session?.empty_since != null ? session.empty_since + EMPTY_SESSION_MS : null,
      this.services.recording.nextEndDue(),
    ].filter((at): at is number => at !== null);
    // Someone to check the heartbeat of: any participant, or a node's class link. Not ctx.getWebSockets(): that
    // builds every socket's object (~75 ms at 1,000, bench/classroom.ts profile) and the alarm runs every 2 s
    // while a class is joining. A participant in their grace has no socket; the extra check finds nothing.
    if (this.presence.count() > 0 || this.links.any()) candidates.push(now + HEARTBEAT_CHECK_MS);
    if (candidates.length > 0) this.scheduleAlarm(Math.min(...candidates));
  }

  /** Makes sure the alarm fires no later than `at`. */
  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}

/**
 * A socket held by a fan-out object, passed to the handlers written for partyserver's connections: they use only
 * what {@link ParticipantSocket} names, which a {@link RelayedConnection} has.
 */
function asConnection(connection: RelayedConnection): Connection<SocketState> {
  return connection as unknown as Connection<SocketState>;
}

function readIdentity(request: Request): ClassIdentity | null {
  const header = request.headers.get(CLASS_IDENTITY_HEADER);
  return header ? decodeIdentityHeader(header) : null;
}

/** The node id the Worker verified for a class link upgrade, or null for a participant's socket. */
function readNodeId(request: Request): string | null {
  const header = request.headers.get(CLASS_LINK_VERIFIED_NODE_HEADER);
  if (!header) return null;
  return v.is(SfuNodeIdSchema, header) ? header : null;
}

function readLocation(request: Request): JoinerLocation {
  const header = request.headers.get(JOINER_LOCATION_HEADER);
  if (!header) return {};
  try {
    const parsed = v.safeParse(JoinerLocationSchema, JSON.parse(header));
    return parsed.success ? parsed.output : {};
  } catch {
    return {};
  }
}

/** A frame's size in UTF-8 bytes, exact when it could exceed the frame limit (else its length, a lower bound). */
function utf8Length(text: string): number {
  // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= CLASSROOM_LIMITS.maxFrameBytes) return text.length;
  return new TextEncoder().encode(text).byteLength;
}

/** The page count of a deck of this class, from D1 (null when the deck is not this class's). */
async function deckPagesAndTitle(db: D1Database, classId: string, deckId: string): Promise<{ pages: number; title: string } | null> {
  return db
    .prepare(`SELECT page_count AS pages, title FROM slide_decks WHERE id = ?1 AND class_id = ?2`)
    .bind(deckId, classId)
    .first<{ pages: number; title: string }>();
}

/** A file for a chat message: only an upload of this class by this user (see {@link SharedFileLookup}). */
async function sharedFile(db: D1Database, classId: string, userId: string, fileId: string): Promise<ChatAttachment | null> {
  const row = await db
    .prepare(
      `SELECT file_name AS fileName, kind, content_type AS contentType, size_bytes AS sizeBytes FROM media_uploads WHERE id = ?1 AND class_id = ?2 AND owner_id = ?3`,
    )
    .bind(fileId, classId, userId)
    .first<Omit<ChatAttachment, "fileId">>();
  return row && { fileId, ...row };
}
