import { sfuNodes } from "../../schema/db";
import { CLASS_LINK_NODE_HEADER, classLinkPath, type ClassLinkNotification, type LinkProducer } from "../../schema/protocol/class-link";
import { app } from "../index";
import { enrolledNode, fleetEnv } from "./fleet-helpers";
import { db } from "./helpers";

type RecordingHeld = Extract<ClassLinkNotification, { notification: "recordings" }>["data"]["recordings"][number];

/** An sfu-node's end of the class link through the Worker; answers commands (or refuses those in `refuse`). */
export class NodeLink {
  readonly commands: { id: number; method: string; data: Record<string, unknown> }[] = [];
  /** Methods answered with an error instead of `ok`. */
  private readonly refusals = new Map<string, { code: string; message: string }>();

  constructor(
    readonly socket: WebSocket,
    refuse: Set<string>,
  ) {
    for (const method of refuse) this.refusals.set(method, { code: "INTERNAL", message: "recorder broke" });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data as string) as { id: number; method: string; data: Record<string, unknown> };
      this.commands.push(frame);
      const error = this.refusals.get(frame.method);
      const answer = error ? { id: frame.id, ok: false, error } : { id: frame.id, ok: true, data: {} };
      socket.send(JSON.stringify(answer));
    });
    socket.accept();
  }

  /**
   * Opens the link and sends `sync`, then, when `recordings` is given, the `recordings` frame a node sends after
   * it (a node from before that frame sends none).
   */
  static async connect(classId: string, nodeId: string, producers: LinkProducer[], refuse: string[] = [], recordings?: RecordingHeld[]): Promise<NodeLink> {
    const now = Date.now();
    await db
      .insert(sfuNodes)
      .values({ id: nodeId, region: "local", publicUrl: `https://${nodeId}.sfu.example`, registeredAt: now, lastHeartbeatAt: now })
      .onConflictDoNothing();
    const key = await enrolledNode(nodeId);
    const authorization = await key.authorization("GET", classLinkPath(classId));
    const response = await app.request(
      classLinkPath(classId),
      { headers: { upgrade: "websocket", authorization, [CLASS_LINK_NODE_HEADER]: nodeId } },
      fleetEnv,
    );
    if (!response.webSocket) throw new Error(`link refused: ${response.status}`);
    const link = new NodeLink(response.webSocket, new Set(refuse));
    link.socket.send(JSON.stringify({ notification: "sync", data: { nodeId, producers, users: producers.map((p) => p.userId) } }));
    if (recordings) link.socket.send(JSON.stringify({ notification: "recordings", data: { recordings } }));
    return link;
  }

  /** From now on, answers `method` with this error (as a node does that cannot do it). */
  refuseWith(method: string, error: { code: string; message: string }): void {
    this.refusals.set(method, error);
  }

  /** From now on, answers `method` with `ok` again. */
  accept(method: string): void {
    this.refusals.delete(method);
  }

  of(method: string) {
    return this.commands.filter((c) => c.method === method);
  }
}
