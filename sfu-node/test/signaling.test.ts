import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_DTLS,
  BROWSER_RTP_CAPABILITIES,
  BROWSER_VP8_PARAMETERS,
  eventually,
  MediaClient,
  refusedUpgrade,
  startIssuer,
  startTestNode,
  type TestIssuer,
  type TestNode,
} from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;

beforeAll(async () => {
  issuer = await startIssuer(8848);
  sfu = await startTestNode({ httpPort: 8842, rtcBase: 41000, issuerUrl: issuer.url });
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
});

const teacherGrant = (classId: string) => ({ classId, role: "teacher" as const, produce: ["audio" as const, "video" as const, "screen" as const] });
const studentGrant = (classId: string) => ({ classId, role: "student" as const, produce: [] });

describe("media token", () => {
  it("refuses a socket without a token", async () => {
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", "").replace("?token=", ""));
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("UNAUTHORIZED");
  });

  it("refuses a token that is not a JWT", async () => {
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", "not-a-token"));
    expect(refused.status).toBe(401);
  });

  it("refuses an expired token", async () => {
    const token = await issuer.sign("u1", studentGrant("class-a"), { exp: Math.floor(Date.now() / 1000) - 60 });
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/expired/);
  });

  it("refuses a token for another node", async () => {
    const token = await issuer.sign("u1", studentGrant("class-a"), { aud: "some-other-node" });
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/"aud"/);
  });

  it("refuses a token for another class with 403", async () => {
    const token = await issuer.sign("u1", studentGrant("class-b"));
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", token));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("FORBIDDEN");
  });

  it("refuses a token signed by a key the Worker does not publish", async () => {
    const token = await issuer.signWithUnknownKey("u1", studentGrant("class-a"));
    const refused = await refusedUpgrade(sfu.mediaUrl("class-a", token));
    expect(refused.status).toBe(401);
  });

  it("refuses a token from another issuer and one that claims too long a life", async () => {
    const foreign = await issuer.sign("u1", studentGrant("class-a"), { iss: "someone-else" });
    expect((await refusedUpgrade(sfu.mediaUrl("class-a", foreign))).status).toBe(401);
    const forever = await issuer.sign("u1", studentGrant("class-a"), { exp: Math.floor(Date.now() / 1000) + 30 * 24 * 3600 });
    expect((await refusedUpgrade(sfu.mediaUrl("class-a", forever))).status).toBe(401);
  });

  it("closes the socket when the token expires while connected", async () => {
    const token = await issuer.sign("u1", studentGrant("class-expiring"), { exp: Math.floor(Date.now() / 1000) + 2 });
    const client = await MediaClient.connect(sfu.mediaUrl("class-expiring", token));
    await client.call("createWebRtcTransport", { direction: "recv" });
    expect((await client.closed).code).toBe(4001);
    expect(sfu.node.rooms.has("class-expiring")).toBe(false);
  });

  it("accepts a valid token and says who the node thinks you are", async () => {
    const client = await MediaClient.connect(sfu.mediaUrl("class-a", await issuer.sign("u1", studentGrant("class-a"))));
    expect(client.notifications[0]).toEqual({ notification: "welcome", data: { nodeId: "test-node", classId: "class-a", userId: "u1", produce: [] } });
    await client.close();
  });
});

describe("invalid frames", () => {
  it("answers INVALID_MESSAGE and keeps the socket open", async () => {
    const client = await MediaClient.connect(sfu.mediaUrl("class-frames", await issuer.sign("u1", studentGrant("class-frames"))));
    const notJson = await client.sendRaw("{nope");
    expect(notJson).toMatchObject({ id: null, ok: false, error: { code: "INVALID_MESSAGE" } });
    const unknownMethod = await client.request("dropTables", {});
    expect(unknownMethod).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    expect(unknownMethod.id).toBe(1);
    const unknownField = await client.request("createWebRtcTransport", { direction: "recv", userId: "someone-else" });
    expect(unknownField).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    const wrongType = await client.request("connectTransport", { transportId: 42, dtlsParameters: BROWSER_DTLS });
    expect(wrongType).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    const binary = await client.sendRaw(Buffer.from([1, 2, 3]));
    expect(binary).toMatchObject({ id: null, ok: false, error: { code: "INVALID_MESSAGE" } });

    expect(client.isOpen).toBe(true);
    const capabilities = await client.call<{ rtpCapabilities: { codecs: { mimeType: string }[] } }>("getRouterRtpCapabilities");
    const mimeTypes = capabilities.rtpCapabilities.codecs.map((codec) => codec.mimeType);
    expect(mimeTypes).toEqual(expect.arrayContaining(["audio/opus", "video/VP8", "video/VP9", "video/H264"]));
    await client.close();
  });
});

describe("produce and consume over signaling", () => {
  it("keeps students receive-only and lets the teacher send only what the token grants", async () => {
    const student = await MediaClient.connect(sfu.mediaUrl("class-grant", await issuer.sign("student-1", studentGrant("class-grant"))));
    const sendTransport = await student.request("createWebRtcTransport", { direction: "send" });
    expect(sendTransport).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    const audioOnly = { classId: "class-grant", role: "student" as const, produce: ["audio" as const] };
    const onStage = await MediaClient.connect(sfu.mediaUrl("class-grant", await issuer.sign("student-2", audioOnly)));
    const transport = await onStage.call<{ transportId: string }>("createWebRtcTransport", { direction: "send" });
    const video = await onStage.request("produce", {
      transportId: transport.transportId,
      kind: "video",
      source: "video",
      rtpParameters: BROWSER_VP8_PARAMETERS,
    });
    expect(video).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const screen = await onStage.request("produce", {
      transportId: transport.transportId,
      kind: "video",
      source: "screen",
      rtpParameters: BROWSER_VP8_PARAMETERS,
    });
    expect(screen).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(sfu.node.rooms.get("class-grant")?.counts().producers).toBe(0);
    await student.close();
    await onStage.close();
  });

  it("delivers a teacher's producer to a student as a paused consumer that resumes", async () => {
    const teacher = await MediaClient.connect(sfu.mediaUrl("class-flow", await issuer.sign("teacher-1", teacherGrant("class-flow"))));
    const student = await MediaClient.connect(sfu.mediaUrl("class-flow", await issuer.sign("student-1", studentGrant("class-flow"))));

    const send = await teacher.call<{ transportId: string; iceCandidates: { port: number; protocol: string }[] }>("createWebRtcTransport", {
      direction: "send",
    });
    // Every candidate goes through the workers' WebRtcServer ports (one UDP and one TCP port per worker).
    expect(send.iceCandidates.map((candidate) => candidate.port).every((port) => port === 41000 || port === 41001)).toBe(true);
    expect(new Set(send.iceCandidates.map((candidate) => candidate.protocol))).toEqual(new Set(["udp", "tcp"]));
    await teacher.call("connectTransport", { transportId: send.transportId, dtlsParameters: BROWSER_DTLS });
    const again = await teacher.request("connectTransport", { transportId: send.transportId, dtlsParameters: BROWSER_DTLS });
    expect(again).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const { producerId } = await teacher.call<{ producerId: string }>("produce", {
      transportId: send.transportId,
      kind: "video",
      source: "video",
      rtpParameters: BROWSER_VP8_PARAMETERS,
    });
    const twice = await teacher.request("produce", { transportId: send.transportId, kind: "video", source: "video", rtpParameters: BROWSER_VP8_PARAMETERS });
    expect(twice).toMatchObject({ ok: false, error: { code: "CONFLICT" } });

    const added = await student.waitFor((n) => n.notification === "producerAdded");
    expect(added.data).toEqual({ producerId, userId: "teacher-1", kind: "video", source: "video", paused: false });

    const recv = await student.call<{ transportId: string }>("createWebRtcTransport", { direction: "recv" });
    const consumer = await student.call<{
      consumerId: string;
      producerId: string;
      kind: string;
      source: string;
      rtpParameters: { codecs: { mimeType: string }[] };
    }>("consume", {
      transportId: recv.transportId,
      producerId,
      rtpCapabilities: BROWSER_RTP_CAPABILITIES,
    });
    expect(consumer).toMatchObject({ producerId, kind: "video", source: "video" });
    expect(consumer.rtpParameters.codecs[0]?.mimeType).toBe("video/VP8");
    const stats = await student.call<{ stats: unknown[] }>("getStats", { target: "consumer", id: consumer.consumerId });
    expect(stats.stats.length).toBeGreaterThan(0);

    const room = sfu.node.rooms.get("class-flow")!;
    const serverConsumer = room.peers.get("student-1")!.consumers.get(consumer.consumerId)!.consumer;
    expect(serverConsumer.paused).toBe(true);
    await student.call("resumeConsumer", { consumerId: consumer.consumerId });
    expect(serverConsumer.paused).toBe(false);

    // A student cannot touch the teacher's producer, and pausing it reaches the student.
    expect(await student.request("pauseProducer", { producerId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    await teacher.call("pauseProducer", { producerId });
    await student.waitFor((n) => n.notification === "consumerPaused" && n.data.paused);
    expect(
      (await teacher.call<{ iceParameters: { usernameFragment: string } }>("restartIce", { transportId: send.transportId })).iceParameters.usernameFragment,
    ).toBeTruthy();

    await teacher.call("closeProducer", { producerId });
    const closed = await student.waitFor((n) => n.notification === "consumerClosed");
    expect(closed.data).toEqual({ consumerId: consumer.consumerId, reason: "producer-closed" });
    await student.waitFor((n) => n.notification === "producerRemoved");
    await teacher.close();
    await student.close();
  });
});

describe("close cascades", () => {
  it("leaves no transport behind a peer that left, and closes the router when the room empties", async () => {
    const teacher = await MediaClient.connect(sfu.mediaUrl("class-close", await issuer.sign("teacher-1", teacherGrant("class-close"))));
    const student = await MediaClient.connect(sfu.mediaUrl("class-close", await issuer.sign("student-1", studentGrant("class-close"))));
    const room = sfu.node.rooms.get("class-close")!;
    const router = room.routers.values().next().value!.router;

    const send = await teacher.call<{ transportId: string }>("createWebRtcTransport", { direction: "send" });
    const { producerId } = await teacher.call<{ producerId: string }>("produce", {
      transportId: send.transportId,
      kind: "video",
      source: "video",
      rtpParameters: BROWSER_VP8_PARAMETERS,
    });
    const recv = await student.call<{ transportId: string }>("createWebRtcTransport", { direction: "recv" });
    await student.call("consume", { transportId: recv.transportId, producerId, rtpCapabilities: BROWSER_RTP_CAPABILITIES });
    expect((await router.dump()).transportIds).toHaveLength(2);

    await student.close();
    await eventually(async () => (await router.dump()).transportIds.length === 1, 5_000, "student's transport closed");
    expect((await router.dump()).transportIds).toEqual([send.transportId]);
    expect(room.peers.has("student-1")).toBe(false);
    expect(room.closed).toBe(false);

    await teacher.close();
    await eventually(() => router.closed, 5_000, "router closed");
    expect(room.closed).toBe(true);
    expect(sfu.node.rooms.has("class-close")).toBe(false);
  });

  it("closes the older socket when the same user connects again", async () => {
    const token = await issuer.sign("student-9", studentGrant("class-twice"));
    const first = await MediaClient.connect(sfu.mediaUrl("class-twice", token));
    const second = await MediaClient.connect(sfu.mediaUrl("class-twice", token));
    expect((await first.closed).code).toBe(4009);
    expect(second.isOpen).toBe(true);
    expect(sfu.node.rooms.get("class-twice")?.peers.size).toBe(1);
    await second.close();
  });
});

describe("http", () => {
  it("serves /health and Prometheus /metrics with the node's counts", async () => {
    const teacher = await MediaClient.connect(sfu.mediaUrl("class-metrics", await issuer.sign("teacher-1", teacherGrant("class-metrics"))));
    await teacher.call("createWebRtcTransport", { direction: "send" });
    const health = await fetch(`${sfu.httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", nodeId: "test-node", workers: 2 });
    const metrics = await (await fetch(`${sfu.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^sfu_workers 2$/m);
    expect(metrics).toMatch(/^sfu_rooms 1$/m);
    expect(metrics).toMatch(/^sfu_transports 1$/m);
    expect(metrics).toMatch(/^sfu_worker_cpu_seconds_total\{worker="1"\} [0-9.]+$/m);
    expect(metrics).toMatch(/^sfu_recv_bitrate_bps \d+/m);
    await teacher.close();
  });
});
