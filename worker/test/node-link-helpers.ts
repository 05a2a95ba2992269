import { sfuNodes } from "../../schema/db";
import { CLASS_LINK_NODE_HEADER, classLinkPath, type LinkProducer } from "../../schema/protocol/class-link";
import { app } from "../index";
import { enrol, fleetEnv, newNodeKey, type TestNodeKey } from "./fleet-helpers";
import { db } from "./helpers";

/** Each node's key, made on first use and enrolled again per test (a no-op when the row is still there). */
const nodeKeys = new Map<string, Promise<TestNodeKey>>();
async function nodeKey(nodeId: string): Promise<TestNodeKey> {
  if (!nodeKeys.has(nodeId)) nodeKeys.set(nodeId, newNodeKey(nodeId));
  return enrol(await nodeKeys.get(nodeId)!);
}

export interface LinkCommand {
  id: number;
  method: string;
  data: Record<string, unknown>;
}

/** What a test node answers to a command: the data of an ok answer, or a refusal. */
export type Answer = { ok: true; data: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

/**
 * An sfu-node's end of the class link: a real WebSocket through the Worker, with the node's own token. It
 * records every command and answers it with what `answer` says (ok with `{}` unless told otherwise).
 */
export class NodeLink {
  readonly commands: LinkCommand[] = [];
  closed: number | null = null;

  constructor(
    readonly socket: WebSocket,
    readonly answer: (command: LinkCommand) => Answer = () => ({ ok: true, data: {} }),
  ) {
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data as string) as LinkCommand;
      this.commands.push(frame);
      socket.send(JSON.stringify({ id: frame.id, ...this.answer(frame) }));
    });
    socket.addEventListener("close", (event) => {
      this.closed = event.code;
    });
    socket.accept();
  }

  static async connect(
    classId: string,
    nodeId: string,
    producers: LinkProducer[] = [],
    users: string[] = [],
    answer?: (command: LinkCommand) => Answer,
  ): Promise<NodeLink> {
    const authorization = await (await nodeKey(nodeId)).authorization("GET", classLinkPath(classId));
    const response = await app.request(
      classLinkPath(classId),
      { headers: { upgrade: "websocket", [CLASS_LINK_NODE_HEADER]: nodeId, authorization } },
      fleetEnv,
    );
    if (!response.webSocket) throw new Error(`link refused: ${response.status} ${await response.text()}`);
    const link = new NodeLink(response.webSocket, answer);
    link.notify("sync", { nodeId, producers, users });
    return link;
  }

  notify(notification: string, data: unknown): void {
    this.socket.send(JSON.stringify({ notification, data }));
  }

  /** The first command `method` whose data matches, waiting up to 5 s for it. */
  async command(method: string, match: (data: Record<string, unknown>) => boolean = () => true): Promise<LinkCommand> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = this.commands.find((c) => c.method === method && match(c.data));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${method} command arrived (got ${this.commands.map((c) => c.method).join(", ") || "none"})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The commands' methods in arrival order. */
  methods(): string[] {
    return this.commands.map((c) => c.method);
  }
}

/**
 * A node's side of the cascade's commands, keeping what a real node keeps: its pipe end per peer node (port
 * `port`, a new port for each new end) and which peer end it is connected to, and the stream it pipes.
 */
export class PipingNode {
  readonly connected = new Map<string, { ip: string; port: number }>();
  readonly ends = new Map<string, number>();
  refuseConsume = false;

  constructor(
    readonly ip: string,
    private port: number,
  ) {}

  /** The end towards `peerNodeId` is lost (the node's room for the class closed and opened again). */
  loseEnd(peerNodeId: string): void {
    this.ends.delete(peerNodeId);
    this.connected.delete(peerNodeId);
  }

  answer = (command: LinkCommand): Answer => {
    const peer = command.data.peerNodeId as string;
    switch (command.method) {
      case "pipeOpen": {
        if (!this.ends.has(peer)) this.ends.set(peer, this.port++);
        const srtpParameters = { cryptoSuite: "AEAD_AES_256_GCM", keyBase64: `key-of-${this.ip}-${this.ends.get(peer)}` };
        return { ok: true, data: { ip: this.ip, port: this.ends.get(peer)!, srtpParameters, connectedTo: this.connected.get(peer) ?? null } };
      }
      case "pipeConnect": {
        const remote = command.data.remote as { ip: string; port: number };
        this.connected.set(peer, { ip: remote.ip, port: remote.port });
        return { ok: true, data: {} };
      }
      case "pipeClose":
        this.loseEnd(peer);
        return { ok: true, data: {} };
      case "pipeConsume":
        if (this.refuseConsume || !this.connected.has(peer)) return { ok: false, error: { code: "CONFLICT", message: `No connected pipe to ${peer}` } };
        return {
          ok: true,
          data: {
            kind: "video",
            rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1234 }] },
            paused: false,
          },
        };
      default:
        return { ok: true, data: {} };
    }
  };
}

/** Registers a node straight in the registry, heard from just now. */
export async function addNode(id: string, region: string) {
  const now = Date.now();
  await db.insert(sfuNodes).values({
    id,
    region,
    publicUrl: `https://${id}.sfu.example`,
    consumers: 0,
    maxConsumers: 1000,
    registeredAt: now,
    lastHeartbeatAt: now,
  });
}
