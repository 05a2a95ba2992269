import * as v from "valibot";
import type { MediaJoinResponse, MediaRenewResponse } from "../schema/protocol/classroom";
import {
  CLASS_LINK_RESPONSES,
  type ClassLinkAnswer,
  type ClassLinkCommand,
  type ClassLinkCommandData,
  type ClassLinkNotification,
  ClassLinkNotificationSchema,
} from "../schema/protocol/class-link";
import { type ResponseFrame, ResponseFrameSchema } from "../schema/protocol/envelope";
import { PendingRequests } from "../schema/protocol/pending-requests";
import type { JoinerLocation } from "../schema/regions";
import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";
import { MEDIA_SOURCES, type MediaSource } from "../schema/tokens/media-token";
import { ChannelError } from "./errors";
import type { ClassroomBindings } from "./bindings";
import type { Failover } from "./failover";
import { Cascade } from "./cascade";
import type { MediaMap } from "./media-map";
import type { Presence } from "./presence";
import { type CandidateNode, NodeDirectory, pickNode, signalingUrl, signMediaToken } from "./sfu-assign";

/** A node has this long to answer a command before the caller is told it did not. */
const COMMAND_TIMEOUT_MS = 5_000;

/** What students on stage may send; teachers and admins may always send everything. */
const STAGE_SOURCES: readonly MediaSource[] = ["audio", "video"];

/** Who else hears about a node's link coming and going: the recording control (a recording lives on one node). */
export interface NodeWatcher {
  /** The node's last link closed. */
  nodeGone(nodeId: string, now: number): void;
  /** The node's link is back (its `sync` arrived). */
  nodeBack(nodeId: string, now: number): void;
  /** The node's `recordings`: the class's recordings its process holds. */
  nodeHolds(nodeId: string, recordings: readonly RecordingHeld[], now: number): void;
  /** A producer appeared on the node. */
  producerAdded(nodeId: string, producer: { producerId: string; userId: string }, now: number): void;
  /** The node drains: its people are being moved off. */
  nodeDraining(nodeId: string, now: number): void;
}

export type RecordingHeld = Extract<ClassLinkNotification, { notification: "recordings" }>["data"]["recordings"][number];

/** How the media plane reaches the class links the Classroom holds (one socket per node). */
export interface NodeLinks {
  /** Open link sockets by node id. */
  sockets(nodeId?: string): { nodeId: string; socket: WebSocket }[];
}

/**
 * The Classroom's side of the media plane: assigns participants to sfu-nodes and signs their media tokens,
 * keeps the stage, and drives the nodes over their class links (grants, server-side mutes, disconnects).
 */
export class MediaPlane {
  private readonly pending = new PendingRequests<ClassLinkCommand>(COMMAND_TIMEOUT_MS);
  private watcher: NodeWatcher | null = null;
  private readonly nodes: NodeDirectory;
  /** Pipes between the class's nodes, so each participant's own node serves them every stream. */
  private readonly cascade: Cascade;

  constructor(
    private readonly map: MediaMap,
    private readonly presence: Presence,
    private readonly links: NodeLinks,
    private readonly env: ClassroomBindings,
    private readonly failover: Failover,
  ) {
    this.nodes = new NodeDirectory(env.DB);
    this.cascade = new Cascade(
      {
        command: (nodeId, method, data) => {
          const [link] = this.links.sockets(nodeId);
          if (!link) return Promise.reject(new ChannelError("UNAVAILABLE", "That media server is not linked to the class"));
          return this.send(link.socket, method, data);
        },
        nodes: () => [...new Set(this.links.sockets().map((link) => link.nodeId))],
      },
      (producerId) => this.map.producers().find((producer) => producer.producerId === producerId) ?? null,
    );
  }

  /** What `userId` with `role` may send now. */
  grantOf(caller: Pick<ClassIdentity, "userId" | "role">): MediaSource[] {
    if (isModerator(caller.role)) return [...MEDIA_SOURCES];
    return this.map.isOnStage(caller.userId) ? [...STAGE_SOURCES] : [];
  }

  /**
   * `media.join`: the healthy node with room nearest to the caller, and a media token for it. `unreachable`: the
   * caller could not open a media socket on that node (see {@link Failover.unreachable}); believed only while
   * another node could take the caller, so no client can talk the class out of its last node.
   */
  async join(caller: ClassIdentity, location: JoinerLocation, now: number, unreachable?: string): Promise<MediaJoinResponse> {
    // A node whose link was lost or that is draining takes nobody, even while the registry still lists it healthy.
    const healthy = await this.nodes.healthy(now);
    let excluded = this.failover.excluded(now, registrations(healthy));
    const candidates = () => healthy.filter((candidate) => !excluded.has(candidate.id));
    if (
      unreachable !== undefined &&
      pickNode(
        candidates().filter((candidate) => candidate.id !== unreachable),
        location,
      )
    ) {
      this.failover.unreachable(unreachable, now);
      excluded = this.failover.excluded(now, registrations(healthy));
    }
    const node = pickNode(candidates(), location);
    if (!node) throw new ChannelError("UNAVAILABLE", "No media server is available right now; try again in a moment");
    const { token, expiresAt, expiresInMs, produce } = await this.tokenFor(caller, node);
    this.failover.assigned(caller.userId, node.id);
    return { nodeId: node.id, signalingUrl: signalingUrl(node, caller.classId, token), expiresAt, expiresInMs, produce };
  }

  /**
   * `media.renew`: a new media token for the node the caller is connected to, so it can be handed over the open
   * media socket. The node must still be healthy; it need not have headroom (the caller is already counted
   * there, and moving them would cost the media gap this avoids). The grant is the class's current one.
   */
  async renew(caller: ClassIdentity, nodeId: string, now: number): Promise<MediaRenewResponse> {
    const healthy = await this.nodes.healthy(now);
    const node = healthy.find((candidate) => candidate.id === nodeId);
    if (!node || this.failover.excluded(now, registrations(healthy)).has(nodeId))
      throw new ChannelError("NOT_FOUND", "That media server is no longer available; join media again");
    const { token, expiresAt, expiresInMs, produce } = await this.tokenFor(caller, node);
    this.failover.assigned(caller.userId, node.id);
    return { nodeId: node.id, token, expiresAt, expiresInMs, produce };
  }

  /** A media token for `node` carrying the caller's identity and the grant the class gives them now. */
  private async tokenFor(
    caller: ClassIdentity,
    node: CandidateNode,
  ): Promise<{ token: string; expiresAt: number; expiresInMs: number; produce: MediaSource[] }> {
    const produce = this.grantOf(caller);
    const signed = await signMediaToken(this.env.WORKER_SIGNING_KEY, node, caller.userId, {
      classId: caller.classId,
      role: caller.role,
      produce,
      displayName: caller.displayName,
    });
    return { ...signed, produce };
  }

  async invite(userId: string): Promise<void> {
    this.student(userId);
    if (!this.map.setOnStage(userId, true)) return;
    try {
      await this.commandAll("setGrant", { userId, produce: [...STAGE_SOURCES] });
    } catch (error) {
      // The teacher is told it did not work; the stage must not show a student who cannot send.
      this.map.setOnStage(userId, false);
      throw error;
    }
  }

  /** Takes the stage back; the nodes close the student's producers at once. */
  async revoke(userId: string): Promise<void> {
    this.student(userId);
    this.map.setOnStage(userId, false);
    this.map.dropUngranted(userId, []);
    await this.commandAll("setGrant", { userId, produce: [] });
  }

  /** Pauses the user's producer of `source` on its node. */
  async mute(userId: string, source: MediaSource): Promise<void> {
    if (!this.presence.get(userId)) throw new ChannelError("NOT_FOUND", "That person is not in the class");
    const producer = this.map.find(userId, source);
    if (!producer) throw new ChannelError("NOT_FOUND", `They are not sending ${source}`);
    if (producer.paused) return;
    const [link] = this.links.sockets(producer.nodeId);
    if (!link) throw new ChannelError("UNAVAILABLE", "Their media server is not reachable right now");
    await this.command(link.socket, "pauseProducer", { producerId: producer.producerId });
  }

  /** The participant is gone from the class (grace over, kicked, blocked, ended): their media stops now. */
  userLeft(userId: string): void {
    this.map.userLeft(userId);
    this.failover.leftClass(userId);
    for (const { socket } of this.links.sockets()) this.send(socket, "disconnectPeer", { userId }).catch(() => undefined);
  }

  /** A frame from a node's link: an answer to one of our commands, or a report. */
  receive(nodeId: string, raw: unknown): void {
    const response = v.safeParse(ResponseFrameSchema, raw);
    if (response.success) {
      this.settle(response.output);
      return;
    }
    const parsed = v.safeParse(ClassLinkNotificationSchema, raw);
    if (!parsed.success) {
      console.warn(JSON.stringify({ event: "class_link_bad_frame", nodeId, issue: parsed.issues[0]?.message }));
      return;
    }
    this.apply(nodeId, parsed.output);
  }

  /**
   * The node's last link closed: its producers leave the media map at once (nobody waits on them), and unless
   * the node said goodbye (`clean`), its people are moved if the link is not back soon (./failover.ts).
   */
  nodeGone(nodeId: string, clean = false): void {
    this.map.nodeGone(nodeId);
    this.failover.linkClosed(nodeId, clean, Date.now());
    void this.cascade.nodeGone(nodeId);
    this.watcher?.nodeGone(nodeId, Date.now());
  }

  /**
   * Linked nodes whose heartbeats stopped in the fleet registry (a hung process keeps its sockets open, so its
   * link does not close for 90 s): their people move now. Called from the object's alarm.
   */
  async moveOffSilentNodes(now: number): Promise<void> {
    const linked = new Set(this.links.sockets().map((link) => link.nodeId));
    if (linked.size === 0) return;
    const healthy = new Set((await this.nodes.healthy(now)).map((node) => node.id));
    for (const nodeId of linked) if (!healthy.has(nodeId)) this.failover.silent(nodeId, now);
  }

  /**
   * Has `producerId` piped to node `to` for a consumer there that is not a participant (the recorder): the same
   * pipe a participant's consume asks for, kept while the recorder consumes it.
   */
  pipe(to: string, producerId: string): void {
    void this.cascade.wanted(to, producerId);
  }

  /** Sets who hears about nodes' links besides the media map (one watcher: the recording control). */
  watch(watcher: NodeWatcher): void {
    this.watcher = watcher;
  }

  private apply(nodeId: string, notification: ClassLinkNotification): void {
    switch (notification.notification) {
      case "sync": {
        // Only people still in the class keep media; anyone else the node still has is disconnected there.
        const present = (userId: string) => this.presence.get(userId) !== null;
        const reported = new Set(notification.data.producers.map((p) => p.producerId));
        // Producers the node no longer has are gone for the nodes holding copies of them too.
        for (const known of this.map.producers())
          if (known.nodeId === nodeId && !reported.has(known.producerId)) void this.cascade.producerRemoved(nodeId, known.producerId);
        this.map.syncNode(
          nodeId,
          notification.data.producers.filter((p) => present(p.userId)),
        );
        const [link] = this.links.sockets(nodeId);
        for (const userId of notification.data.users) {
          if (!present(userId) && link) this.send(link.socket, "disconnectPeer", { userId }).catch(() => undefined);
          else if (present(userId)) this.failover.seenOn(userId, nodeId);
        }
        this.failover.linkBack(nodeId);
        this.watcher?.nodeBack(nodeId, Date.now());
        return;
      }
      case "recordings":
        this.watcher?.nodeHolds(nodeId, notification.data.recordings, Date.now());
        return;
      case "producerAdded":
        if (!this.presence.get(notification.data.userId)) return;
        this.map.added(nodeId, notification.data);
        this.watcher?.producerAdded(nodeId, notification.data, Date.now());
        return;
      case "producerRemoved":
        this.map.removed(nodeId, notification.data.producerId);
        void this.cascade.producerRemoved(nodeId, notification.data.producerId);
        return;
      case "producerPaused":
        this.map.paused(nodeId, notification.data.producerId, notification.data.paused);
        void this.cascade.producerPaused(nodeId, notification.data.producerId, notification.data.paused);
        return;
      case "pipeWanted":
        void this.cascade.wanted(nodeId, notification.data.producerId);
        return;
      case "pipeIdle":
        void this.cascade.idle(nodeId, notification.data.producerId);
        return;
      case "quality":
        this.map.reportQuality(notification.data.quality);
        return;
      case "peerLeft":
        this.failover.leftNode(notification.data.userId, nodeId);
        return;
      case "draining":
        this.failover.draining(nodeId, Date.now());
        this.watcher?.nodeDraining(nodeId, Date.now());
        return;
    }
  }

  private student(userId: string): void {
    const participant = this.presence.get(userId);
    if (!participant) throw new ChannelError("NOT_FOUND", "That person is not in the class");
    if (isModerator(participant.role)) throw new ChannelError("CONFLICT", "Teachers and admins are always on stage");
  }

  /** Sends a command to every linked node and waits for all of them (a node without that user just agrees). */
  private async commandAll<M extends ClassLinkCommand>(method: M, data: ClassLinkCommandData<M>): Promise<void> {
    await Promise.all(this.links.sockets().map(({ socket }) => this.command(socket, method, data)));
  }

  private async command<M extends ClassLinkCommand>(socket: WebSocket, method: M, data: ClassLinkCommandData<M>): Promise<void> {
    try {
      await this.send(socket, method, data);
    } catch (error) {
      if (error instanceof ChannelError) throw error;
      throw new ChannelError("UNAVAILABLE", "The media server did not take the change; try again");
    }
  }

  /** One command frame; resolves with the node's answer (checked), rejects on its refusal or after a timeout. */
  send<M extends ClassLinkCommand>(socket: WebSocket, method: M, data: ClassLinkCommandData<M>): Promise<ClassLinkAnswer<M>> {
    const answer = this.pending.send(
      method,
      () => new ChannelError("UNAVAILABLE", "The media server did not answer in time"),
      (id) => {
        try {
          socket.send(JSON.stringify({ id, method, data }));
        } catch {
          throw new ChannelError("UNAVAILABLE", "The media server link is closing");
        }
      },
    );
    return answer as Promise<ClassLinkAnswer<M>>;
  }

  private settle(frame: ResponseFrame): void {
    this.pending.settle(
      frame,
      (data, method) => {
        const schema = (CLASS_LINK_RESPONSES as Partial<Record<ClassLinkCommand, v.GenericSchema>>)[method];
        return schema ? v.parse(schema, data) : {};
      },
      (error) => new ChannelError(error.code === "NOT_FOUND" ? "NOT_FOUND" : "UNAVAILABLE", `The media server refused: ${error.message}`),
    );
  }
}

/** When each node's process last registered, for the failover (a restarted node is a new, good one). */
function registrations(nodes: readonly CandidateNode[]): Map<string, number> {
  return new Map(nodes.map((node) => [node.id, node.registeredAt ?? 0]));
}
