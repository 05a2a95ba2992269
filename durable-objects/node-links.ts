import type { Connection, WSMessage } from "partyserver";
import { CLASS_LINK_CLOSE_CODES, CLASS_LINK_MAX_FRAME_BYTES } from "../schema/protocol/class-link";
import { CLASSROOM_CLOSE_CODES } from "../schema/protocol/classroom";
import type { NodeLinks } from "./media-plane";

/** What a class link's socket carries through hibernation: the node id the Worker verified (never a participant). */
export type NodeLinkState = { nodeId: string; connectedAt: number };

export function isNodeLink<S extends object>(state: S): state is Extract<S, { nodeId: string }> {
  return "nodeId" in state;
}

const NODE_TAG = (nodeId: string) => `node:${nodeId}`;
/** Every class link carries this tag (and no audience tag, so class broadcasts never reach a node). */
const NODES_TAG = "nodes";

/** The object's side the links need: its sockets by tag, and where a node's frames and departure go. */
export interface NodeLinkHost {
  connections(tag: string): Iterable<Connection<unknown>>;
  /** How many class-link sockets are open (hibernated ones included), without building their objects. */
  socketCount(tag: string): number;
  /** A parsed frame from a node (the media plane reads it). */
  receive(nodeId: string, frame: unknown): void;
  /** The node's last link closed; `clean` when the node closed it with 1000 (its room closed, or it finished draining). */
  nodeGone(nodeId: string, clean: boolean): void;
}

/**
 * The sfu-nodes' class links of one class object: one socket per node (a newer link replaces an older one),
 * tagged so they are found without looking at participants' sockets, and never reached by class broadcasts.
 */
export class ClassNodeLinks implements NodeLinks {
  constructor(private readonly host: NodeLinkHost) {}

  /** The hibernation tags of a node's link socket. */
  static tags(nodeId: string): string[] {
    return [NODE_TAG(nodeId), NODES_TAG];
  }

  /** A node's class link opened: it replaces an older link of the same node; the node's `sync` comes next. */
  accept(connection: Connection<unknown>, nodeId: string, now: number): void {
    for (const older of this.host.connections(NODE_TAG(nodeId))) {
      if (older.id !== connection.id) older.close(CLASS_LINK_CLOSE_CODES.replaced, "Replaced by a newer link from the same node");
    }
    connection.setState({ nodeId, connectedAt: now } satisfies NodeLinkState);
  }

  /** A frame on a link: over-size closes it, anything that is not JSON text is dropped, the rest goes to the media plane. */
  message(connection: Connection<unknown>, link: NodeLinkState, message: WSMessage): void {
    if (typeof message !== "string") return;
    // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
    if (message.length * 3 > CLASS_LINK_MAX_FRAME_BYTES && new TextEncoder().encode(message).byteLength > CLASS_LINK_MAX_FRAME_BYTES) {
      connection.close(CLASSROOM_CLOSE_CODES.frameTooLarge, `Frame too large: at most ${CLASS_LINK_MAX_FRAME_BYTES} bytes`);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      return;
    }
    this.host.receive(link.nodeId, raw);
  }

  /** A link closed. A replaced link closes after its successor took over; only a node's last link takes its media away. */
  closed(connection: Connection<unknown>, link: NodeLinkState, code?: number): void {
    if (this.sockets(link.nodeId).every((open) => open.socket === connection)) this.host.nodeGone(link.nodeId, code === 1000);
  }

  /** Open class links, by node (all nodes when `nodeId` is not given). */
  sockets(nodeId?: string): { nodeId: string; socket: WebSocket }[] {
    const links: { nodeId: string; socket: WebSocket }[] = [];
    for (const connection of this.host.connections(nodeId ? NODE_TAG(nodeId) : NODES_TAG)) {
      const state = connection.state as NodeLinkState | null;
      if (state?.nodeId && connection.readyState === WebSocket.OPEN) links.push({ nodeId: state.nodeId, socket: connection });
    }
    return links;
  }

  /** Whether any node holds a link (for the heartbeat check). */
  any(): boolean {
    return this.host.socketCount(NODES_TAG) > 0;
  }

  /** Closes every link with `ended`: the nodes drop every peer of the class. */
  endClass(): void {
    for (const { socket } of this.sockets()) socket.close(CLASS_LINK_CLOSE_CODES.ended, "The class has ended");
  }
}
