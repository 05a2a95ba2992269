/**
 * Two or more sfu-nodes in one process with their class links, and the other end of those links: a WebSocket server
 * standing in for the Worker (each link accepted only with its node's key) and, per class, the class object's own
 * pipe directing (durable-objects/cascade.ts) driven by what the nodes report. For the sfu-node tests of pipes
 * (pipes, pipe-delay, recording-pipes) and bench/pipe-cost.ts.
 */
import http from "node:http";
import * as v from "valibot";
import { type WebSocket, WebSocketServer } from "ws";
import { Cascade, type CascadeProducer } from "../../durable-objects/cascade";
import {
  CLASS_LINK_NODE_HEADER,
  CLASS_LINK_RESPONSES,
  type ClassLinkAnswer,
  type ClassLinkCommand,
  type ClassLinkCommandData,
  ClassLinkNotificationSchema,
} from "../../schema/protocol/class-link";
import { ResponseFrameSchema } from "../../schema/protocol/envelope";
import { ClassLinks, type ClassLinkOptions } from "../src/class-link";
import { MediaNode } from "../src/Node";
import { testNodeKey } from "./node-key-helpers";

export type NodeKey = Awaited<ReturnType<typeof testNodeKey>>;

/**
 * One class object's end of the nodes' class links of its class, each accepted only with that node's token; the
 * object's own directing (durable-objects/cascade.ts) drives the pipes from what the nodes report, as the
 * Classroom's media plane does.
 */
export class ClassObject {
  readonly sockets = new Map<string, WebSocket>();
  readonly producers = new Map<string, CascadeProducer>();
  readonly cascade = new Cascade(
    { command: (nodeId, method, data) => this.command(nodeId, method, data), nodes: () => [...this.sockets.keys()] },
    (id) => this.producers.get(id) ?? null,
  );
  readonly #pending = new Map<number, { method: ClassLinkCommand; resolve(data: unknown): void; reject(error: Error): void }>();
  #nextId = 1;

  /** A command to a node; resolves with its (checked) answer or rejects with its refusal code. */
  command<M extends ClassLinkCommand>(nodeId: string, method: M, data: ClassLinkCommandData<M>): Promise<ClassLinkAnswer<M>> {
    const socket = this.sockets.get(nodeId);
    if (!socket) return Promise.reject(new Error(`${nodeId} is not linked`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve: resolve as (data: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, data }));
    });
  }

  accept(nodeId: string, ws: WebSocket): void {
    this.sockets.set(nodeId, ws);
    ws.on("close", () => {
      if (this.sockets.get(nodeId) !== ws) return;
      this.sockets.delete(nodeId);
      void this.cascade.nodeGone(nodeId);
    });
    ws.on("message", (raw) => {
      const text = raw.toString();
      // The node's keep-alive, which Cloudflare's runtime answers for the real object.
      if (text === "ping") {
        ws.send("pong");
        return;
      }
      const json: unknown = JSON.parse(text);
      const response = v.safeParse(ResponseFrameSchema, json);
      if (response.success) {
        const pending = response.output.id === null ? undefined : this.#pending.get(response.output.id);
        if (!pending || response.output.id === null) return;
        this.#pending.delete(response.output.id);
        if (!response.output.ok) pending.reject(new Error(response.output.error.code));
        else {
          const schema = (CLASS_LINK_RESPONSES as Partial<Record<ClassLinkCommand, v.GenericSchema>>)[pending.method];
          pending.resolve(schema ? v.parse(schema, response.output.data) : {});
        }
        return;
      }
      const parsed = v.safeParse(ClassLinkNotificationSchema, json);
      if (!parsed.success) return;
      const report = parsed.output;
      switch (report.notification) {
        case "sync":
          for (const producer of report.data.producers) this.producers.set(producer.producerId, { ...producer, nodeId });
          break;
        case "producerAdded":
          this.producers.set(report.data.producerId, { ...report.data, nodeId });
          break;
        case "producerRemoved":
          this.producers.delete(report.data.producerId);
          void this.cascade.producerRemoved(nodeId, report.data.producerId);
          break;
        case "producerPaused":
          void this.cascade.producerPaused(nodeId, report.data.producerId, report.data.paused);
          break;
        case "pipeWanted":
          void this.cascade.wanted(nodeId, report.data.producerId);
          break;
        case "pipeIdle":
          void this.cascade.idle(nodeId, report.data.producerId);
          break;
      }
    });
  }
}

/** The Worker stand-in on `port`: authenticates each link by its node's key and hands it to its class's object. */
export async function startWorker(keys: NodeKey[], port: number): Promise<{ objectFor(classId: string): ClassObject; close(): Promise<void> }> {
  const objects = new Map<string, ClassObject>();
  const objectFor = (classId: string) => {
    if (!objects.has(classId)) objects.set(classId, new ClassObject());
    return objects.get(classId)!;
  };
  const server = http.createServer((_request, response) => response.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", async (request, socket, head) => {
    let nodeId: string | null = null;
    for (const key of keys) nodeId ??= await key.verify(request);
    const classId = /^\/api\/fleet\/classes\/([^/]+)\/link$/.exec(request.url ?? "")?.[1];
    if (!nodeId || !classId || request.headers[CLASS_LINK_NODE_HEADER] !== nodeId) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => objectFor(decodeURIComponent(classId)).accept(nodeId, ws));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    objectFor,
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A node of its own with one worker and its own port window (`ports` UDP ports from `rtcBase + 10`). */
export function startNode(nodeId: string, rtcBase: number, ports = 190): Promise<MediaNode> {
  return MediaNode.create(
    {
      nodeId,
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: rtcBase,
      rtcPortMin: rtcBase + 10,
      rtcPortMax: rtcBase + 9 + ports,
      workers: 1,
      consumersPerRouter: 400,
    },
    { logLevel: "error" },
  );
}

/** One node of {@link startLinkedNodes}: its id, port window and pipe settings. */
export interface LinkedNodePlan {
  nodeId: string;
  rtcBase: number;
  /** UDP ports of its window (startNode's default when unset). */
  ports?: number;
  pipes: NonNullable<ClassLinkOptions["pipes"]>;
}

/**
 * Nodes of their own ({@link startNode}), each with its class links to one Worker stand-in on `port`
 * ({@link startWorker}) that accepts each link only with that node's key; `close` stops them all.
 */
export async function startLinkedNodes(
  port: number,
  plan: LinkedNodePlan[],
): Promise<{ nodes: Map<string, MediaNode>; worker: Awaited<ReturnType<typeof startWorker>>; close(): Promise<void> }> {
  const workerUrl = `http://127.0.0.1:${port}`;
  const keys = await Promise.all(plan.map(({ nodeId }) => testNodeKey(nodeId, workerUrl)));
  const worker = await startWorker(keys, port);
  const nodes = new Map<string, MediaNode>();
  const links: ClassLinks[] = [];
  for (const [index, { nodeId, rtcBase, ports, pipes }] of plan.entries()) {
    const node = await startNode(nodeId, rtcBase, ports);
    nodes.set(nodeId, node);
    const link = new ClassLinks({ workerUrl, identity: keys[index]!.identity, pipes }, node);
    link.start();
    links.push(link);
  }
  return {
    nodes,
    worker,
    async close() {
      for (const link of links) link.stop();
      await worker.close();
      for (const node of nodes.values()) node.close();
    },
  };
}
