import http from "node:http";
import type { AddressInfo } from "node:net";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { CLASS_LINK_CLOSE_CODES, CLASS_LINK_NODE_HEADER, type ClassLinkNotification, ClassLinkNotificationSchema } from "../../schema/protocol/class-link";
import { type ResponseFrame, ResponseFrameSchema } from "../../schema/protocol/envelope";
import { ClassLinks } from "../src/class-link";
import { testNodeKey } from "./node-key-helpers";
import { AUDIO_LEVEL_URI, OPUS_PAYLOAD_TYPE, speech, startMicrophone } from "./audio-helpers";
import {
  BROWSER_VP8_PARAMETERS,
  eventually,
  MediaClient,
  NODE_ID,
  refusedUpgrade,
  startIssuer,
  startTestNode,
  type TestIssuer,
  type TestNode,
} from "./helpers";

/** This node's key; the class object's end accepts tokens signed by it only. */
let nodeKey: Awaited<ReturnType<typeof testNodeKey>>;

type ReportData<N extends ClassLinkNotification["notification"]> = Extract<ClassLinkNotification, { notification: N }>["data"];

/**
 * The class object's end of the link, speaking its protocol over a real WebSocket server: it accepts only the
 * node's token (this node's key, this path) naming this node, keeps what the node reports, and sends commands.
 */
class ClassObjectEnd {
  readonly received: ClassLinkNotification[] = [];
  readonly refusals: string[] = [];
  socket: WebSocket | undefined;
  connections = 0;
  readonly #responses = new Map<number, ResponseFrame>();
  #nextId = 1;

  private constructor(
    readonly server: http.Server,
    readonly wss: WebSocketServer,
  ) {}

  static async start(port: number): Promise<ClassObjectEnd> {
    const server = http.createServer((_request, response) => response.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true });
    const end = new ClassObjectEnd(server, wss);
    server.on("upgrade", async (request, socket, head) => {
      const authorized = (await nodeKey.verify(request)) === NODE_ID && request.headers[CLASS_LINK_NODE_HEADER] === NODE_ID;
      const path = /^\/api\/fleet\/classes\/([^/]+)\/link$/.exec(request.url ?? "");
      if (!authorized || !path) {
        end.refusals.push(request.url ?? "");
        socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => end.#accept(ws));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return end;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  #accept(ws: WebSocket): void {
    this.socket = ws;
    this.connections += 1;
    ws.on("message", (raw) => {
      const json: unknown = JSON.parse(raw.toString());
      const notification = v.safeParse(ClassLinkNotificationSchema, json);
      if (notification.success) this.received.push(notification.output);
      else {
        const response = v.parse(ResponseFrameSchema, json);
        if (response.id !== null) this.#responses.set(response.id, response);
      }
    });
  }

  /** Sends a command and waits for the node's answer. */
  async command(method: string, data: unknown): Promise<ResponseFrame> {
    const id = this.#nextId++;
    this.socket!.send(JSON.stringify({ id, method, data }));
    await eventually(() => this.#responses.has(id), 5_000, `answer to ${method}`);
    return this.#responses.get(id)!;
  }

  /** The first report `notification` (from index `after` on) whose data matches. */
  async waitFor<N extends ClassLinkNotification["notification"]>(
    notification: N,
    match: (data: ReportData<N>) => boolean = () => true,
    after = 0,
    timeoutMs = 5_000,
  ): Promise<ReportData<N>> {
    const matches = match as (data: unknown) => boolean;
    let found: unknown;
    await eventually(
      () => {
        found = this.received.slice(after).find((n) => n.notification === notification && matches(n.data))?.data;
        return found !== undefined;
      },
      timeoutMs,
      `${notification} report`,
    );
    return found as ReportData<N>;
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let issuer: TestIssuer;
let sfu: TestNode;
let object: ClassObjectEnd;
let links: ClassLinks;

beforeAll(async () => {
  issuer = await startIssuer(8851);
  sfu = await startTestNode({ httpPort: 8852, rtcBase: 42000, issuerUrl: issuer.url, workers: 1 });
  object = await ClassObjectEnd.start(8853);
  nodeKey = await testNodeKey(NODE_ID, object.url);
  links = new ClassLinks({ workerUrl: object.url, identity: nodeKey.identity }, sfu.node);
  links.start();
});

afterAll(async () => {
  links?.stop();
  await object?.close();
  await sfu?.close();
  await issuer?.close();
});

const CLASS = "class-linked";
const teacherGrant = { classId: CLASS, role: "teacher" as const, produce: ["audio" as const, "video" as const, "screen" as const] };
const studentGrant = { classId: CLASS, role: "student" as const, produce: [] };

async function sendVideo(client: MediaClient, source: "video" | "screen" = "video", ssrc = 11_111_111) {
  const transport = await client.call<{ transportId: string }>("createWebRtcTransport", { direction: "send" });
  return client.request("produce", {
    transportId: transport.transportId,
    kind: "video",
    source,
    rtpParameters: { ...BROWSER_VP8_PARAMETERS, encodings: [{ ssrc }] },
  });
}

describe("class link", () => {
  it("opens with the room, reports producers with their owner and source, and follows the class's commands", async () => {
    const teacher = await MediaClient.connect(sfu.mediaUrl(CLASS, await issuer.sign("teacher-1", teacherGrant)));
    const sync = await object.waitFor("sync");
    expect(sync).toEqual({ nodeId: NODE_ID, producers: [], users: ["teacher-1"] });

    const camera = await sendVideo(teacher);
    if (!camera.ok) throw new Error(camera.error.message);
    const { producerId } = camera.data as { producerId: string };
    expect(await object.waitFor("producerAdded")).toEqual({ producerId, userId: "teacher-1", kind: "video", source: "video", paused: false });

    // A muted producer is paused on the node; its owner is told, and the class object hears it back.
    expect(await object.command("pauseProducer", { producerId })).toMatchObject({ ok: true });
    await teacher.waitFor((n) => n.notification === "producerPaused" && n.data.producerId === producerId && n.data.paused);
    expect(await object.waitFor("producerPaused")).toEqual({ producerId, paused: true });
    expect(await object.command("pauseProducer", { producerId: "no-such-producer" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await object.command("setGrant", { userId: "x", produce: ["audio"], extra: 1 })).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    expect(await object.command("dropTables", {})).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });

    // A student on stage may send; once the stage is revoked their producer closes and sending is refused.
    const studentToken = await issuer.sign("student-1", studentGrant);
    const student = await MediaClient.connect(sfu.mediaUrl(CLASS, studentToken));
    expect(await student.request("createWebRtcTransport", { direction: "send" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await object.command("setGrant", { userId: "student-1", produce: ["audio", "video"] })).toMatchObject({ ok: true });
    await student.waitFor((n) => n.notification === "grant" && n.data.produce.includes("video"));
    const studentCamera = await sendVideo(student, "video", 44_444_444);
    expect(studentCamera.ok).toBe(true);
    const studentProducerId = (studentCamera as { data: { producerId: string } }).data.producerId;
    expect(await object.waitFor("producerAdded", (p) => p.userId === "student-1")).toMatchObject({ producerId: studentProducerId, source: "video" });
    expect((await sendVideo(student, "screen", 55_555_555)).ok).toBe(false);

    expect(await object.command("setGrant", { userId: "student-1", produce: [] })).toMatchObject({ ok: true });
    await student.waitFor((n) => n.notification === "grant" && n.data.produce.length === 0);
    expect(await object.waitFor("producerRemoved", (p) => p.producerId === studentProducerId)).toEqual({ producerId: studentProducerId });
    expect(sfu.node.rooms.get(CLASS)!.peers.get("student-1")!.producers.size).toBe(0);
    expect((await student.request("createWebRtcTransport", { direction: "send" })).ok).toBe(false);

    // Kicked: the student's media socket closes now, the node reports it, and the old token no longer gets in.
    expect(await object.command("disconnectPeer", { userId: "student-1" })).toMatchObject({ ok: true });
    expect((await student.closed).code).toBe(4003);
    expect(await object.waitFor("peerLeft")).toEqual({ userId: "student-1" });
    expect((await refusedUpgrade(sfu.mediaUrl(CLASS, studentToken))).status).toBe(403);
    // A token signed after the kick (they joined the class again) gets in.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const back = await MediaClient.connect(sfu.mediaUrl(CLASS, await issuer.sign("student-1", studentGrant)));
    await back.close();

    // Recording commands need the recorder; this node has none wired.
    expect(await object.command("recording.stop", { recordingId: "r1" })).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    await teacher.close();
  });

  it("reconnects after the link drops and reports everything again", async () => {
    const classId = "class-relinked";
    const teacher = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("teacher-2", { ...teacherGrant, classId })));
    await object.waitFor("sync", (s) => s.users.includes("teacher-2"));
    const before = object.connections;
    const camera = await sendVideo(teacher, "screen", 66_666_666);
    const { producerId } = (camera as { data: { producerId: string } }).data;
    await object.waitFor("producerAdded", (p) => p.producerId === producerId);

    const seen = object.received.length;
    object.socket!.terminate();
    const resync = await object.waitFor("sync", (s) => s.users.includes("teacher-2"), seen);
    expect(object.connections).toBe(before + 1);
    expect(resync.producers).toEqual([{ producerId, userId: "teacher-2", kind: "video", source: "screen", paused: false }]);

    // The class ends: the object closes the link with `ended`, and everyone's media in the class stops.
    object.socket!.close(CLASS_LINK_CLOSE_CODES.ended, "ended");
    expect((await teacher.closed).code).toBe(4003);
    await eventually(() => !sfu.node.rooms.has(classId), 5_000, "room closed");
  });

  it("reports a sender's network quality from how well their producers arrive", async () => {
    const classId = "class-quality";
    const teacher = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("teacher-4", { ...teacherGrant, classId })));
    await object.waitFor("sync", (s) => s.users.includes("teacher-4"));
    // Their microphone, as RTP into a plain transport of their peer (a browser's would come over WebRTC).
    const peer = sfu.node.rooms.get(classId)!.peers.get("teacher-4")!;
    const input = await peer.createPlainTransport("send", { comedia: true });
    await peer.producePlain(input, "audio", {
      kind: "audio",
      rtpParameters: {
        codecs: [{ mimeType: "audio/opus", payloadType: OPUS_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }],
        headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: 1 }],
        encodings: [{ ssrc: 7777 }],
      },
    });
    const stop = startMicrophone(input.tuple.localPort, 7777, speech);
    try {
      const report = await object.waitFor("quality", (q) => q.quality["teacher-4"] !== undefined, 0, 15_000);
      expect(report.quality["teacher-4"]).toBe(10);
    } finally {
      stop();
      await teacher.close();
    }
  });
});
