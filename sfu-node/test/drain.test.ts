import http from "node:http";
import type { AddressInfo } from "node:net";
import * as v from "valibot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type ClassLinkNotification, ClassLinkNotificationSchema } from "../../schema/protocol/class-link";
import { FleetHeartbeatSchema, FleetRegisterSchema } from "../../schema/protocol/fleet";
import { MEDIA_CLOSE_CODES } from "../../schema/protocol/media";
import { ClassLinks } from "../src/class-link";
import { drain, peerCount } from "../src/drain";
import { FleetLink } from "../src/fleet-link";
import { DRAINING_REASON } from "../src/signaling";
import { eventually, MediaClient, NODE_ID, startIssuer, startTestNode, type TestIssuer, type TestNode } from "./helpers";
import { testNodeKey } from "./node-key-helpers";

/**
 * SIGTERM's drain on a real node (real mediasoup worker, real signaling server, real class links and fleet link)
 * against a stand-in for the Worker: one HTTP server answering the fleet registry and accepting class links,
 * checking the node's signed tokens as the Worker does.
 */

let nodeKey: Awaited<ReturnType<typeof testNodeKey>>;

class WorkerStandIn {
  readonly linkFrames: ClassLinkNotification[] = [];
  readonly heartbeats: v.InferOutput<typeof FleetHeartbeatSchema>[] = [];
  readonly server: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true });

  constructor() {
    this.server = http.createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", async () => {
        const reply = (status: number, body: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
        if ((await nodeKey.verify(request)) !== NODE_ID) return reply(401, { error: { code: "UNAUTHORIZED", message: "not this node's key" } });
        const body: unknown = JSON.parse(text);
        if (request.url === "/api/fleet/register") v.parse(FleetRegisterSchema, body);
        else this.heartbeats.push(v.parse(FleetHeartbeatSchema, body));
        const view = { id: NODE_ID, region: "local", publicUrl: "http://127.0.0.1:1", load: { cpu: 0, transports: 0, consumers: 0, maxConsumers: 1 } };
        // A slow pace: a heartbeat the test sees soon after the drain starts was sent because of it.
        return reply(200, { node: { ...view, registeredAt: 1, lastHeartbeatAt: 1, healthy: true }, heartbeatIntervalMs: 60_000 });
      });
    });
    this.server.on("upgrade", async (request, socket, head) => {
      if ((await nodeKey.verify(request)) !== NODE_ID) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
        return;
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on("message", (raw) => {
          const frame = v.safeParse(ClassLinkNotificationSchema, JSON.parse(raw.toString()));
          if (frame.success) this.linkFrames.push(frame.output);
        });
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  draining(): Extract<ClassLinkNotification, { notification: "draining" }>["data"][] {
    return this.linkFrames.flatMap((frame) => (frame.notification === "draining" ? [frame.data] : []));
  }

  close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Opens a media socket and resolves with how the node closed it (it opens only to be closed when draining). */
function closedWith(url: string): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.once("unexpected-response", (_request, response) => reject(new Error(`refused with HTTP ${response.statusCode}`)));
    ws.once("error", () => undefined);
  });
}

const CLASS = "class-draining";
const grant = { classId: CLASS, role: "student" as const, produce: [] };

let issuer: TestIssuer;
let worker: WorkerStandIn;
let sfu: TestNode | undefined;
let links: ClassLinks | undefined;
let fleet: FleetLink | undefined;

beforeAll(async () => {
  issuer = await startIssuer(8871);
  worker = new WorkerStandIn();
  await new Promise<void>((resolve) => worker.server.listen(8872, "127.0.0.1", resolve));
  nodeKey = await testNodeKey(NODE_ID, worker.url);
});

afterEach(async () => {
  links?.stop();
  fleet?.stop();
  await sfu?.close();
  sfu = undefined;
});

afterAll(async () => {
  await worker?.close();
  await issuer?.close();
});

/** A fresh node with its class links and fleet link to the stand-in, and `people` connected to one class. */
async function nodeWithPeople(people: number) {
  sfu = await startTestNode({ httpPort: 8873, rtcBase: 43500, issuerUrl: issuer.url, workers: 1 });
  links = new ClassLinks({ workerUrl: worker.url, identity: nodeKey.identity }, sfu.node);
  links.start();
  fleet = new FleetLink({ workerUrl: worker.url, region: "local", publicUrl: sfu.httpUrl, maxConsumers: 500 }, nodeKey.identity, sfu.node);
  fleet.start();
  const clients: MediaClient[] = [];
  for (let i = 0; i < people; i++) clients.push(await MediaClient.connect(sfu.mediaUrl(CLASS, await issuer.sign(`student-${i}`, grant))));
  await eventually(() => worker.linkFrames.some((frame) => frame.notification === "sync"), 10_000, "the class link's sync");
  return { sfu, clients };
}

describe("drain (SIGTERM)", () => {
  it("refuses new joins with a clear reason, tells the class and the registry, and ends when the last peer left", { timeout: 60_000 }, async () => {
    const { sfu, clients } = await nodeWithPeople(2);
    const beatsBefore = worker.heartbeats.length;
    const startedAt = Date.now();
    const drained = drain({ node: sfu.node, signaling: sfu.server.signaling, fleetLink: fleet, classLinks: links }, 30_000);

    // The class object hears it, with the time the node gives its people.
    await eventually(() => worker.draining().length > 0, 5_000, "draining on the class link");
    const [notice] = worker.draining();
    expect(notice!.exitsInMs).toBeGreaterThan(25_000);
    expect(notice!.exitsInMs).toBeLessThanOrEqual(30_000);
    // The registry hears it at once (not at the next beat, a minute away), and the node reports itself full.
    await eventually(() => worker.heartbeats.length > beatsBefore, 5_000, "a draining heartbeat");
    expect(worker.heartbeats.at(-1)).toMatchObject({ draining: true, load: { maxConsumers: 0 } });

    // A newcomer with a good token is turned away with a reason the browser can read.
    const refused = await closedWith(sfu.mediaUrl(CLASS, await issuer.sign("late-student", grant)));
    expect(refused).toEqual({ code: MEDIA_CLOSE_CODES.draining, reason: DRAINING_REASON });
    expect(peerCount(sfu.node)).toBe(2);

    // The people already there stay until they move; the drain ends with the last of them.
    let settled = false;
    void drained.then(() => (settled = true));
    await clients[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(settled).toBe(false);
    await clients[1]!.close();
    expect(await drained).toBe("empty");
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it("ends at the deadline when people stay", { timeout: 60_000 }, async () => {
    const { sfu } = await nodeWithPeople(1);
    const startedAt = Date.now();
    expect(await drain({ node: sfu.node, signaling: sfu.server.signaling, fleetLink: fleet, classLinks: links }, 1_500)).toBe("deadline");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_500);
    expect(peerCount(sfu.node)).toBe(1);
  });
});
