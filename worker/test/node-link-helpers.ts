import { CLASS_LINK_NODE_HEADER, classLinkPath, type LinkProducer } from "../../schema/protocol/class-link";
import { app } from "../index";
import { enrol, fleetEnv, newNodeKey, type TestNodeKey } from "./fleet-helpers";

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
