import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MediaTokenGrant } from "../../schema/tokens/media-token";
import {
  BROWSER_DTLS,
  BROWSER_RTP_CAPABILITIES,
  BROWSER_VP8_PARAMETERS,
  eventually,
  ffmpegTeacher,
  MediaClient,
  startIssuer,
  startRtpCounter,
  startTestNode,
  type TestIssuer,
  type TestNode,
} from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  issuer = await startIssuer(8913);
  sfu = await startTestNode({ httpPort: 8912, rtcBase: 49000, issuerUrl: issuer.url });
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
});

const seconds = (ms: number) => Math.floor(ms / 1000);
const studentGrant = (classId: string, produce: MediaTokenGrant["produce"] = []): MediaTokenGrant => ({ classId, role: "student", produce });
const teacherGrant = (classId: string, produce: MediaTokenGrant["produce"] = ["audio", "video", "screen"]): MediaTokenGrant => ({
  classId,
  role: "teacher",
  produce,
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SHORT_LIFETIME_S = 10;

/**
 * A socket-connected student whose token expires in `lifetimeS` seconds (counted from the start of this second).
 * What a test does before the expiry (FFmpeg starting, RTP arriving, a dozen signed renewals) takes seconds on a
 * loaded machine, so the tests give the token {@link SHORT_LIFETIME_S}.
 */
async function shortLivedStudent(classId: string, userId: string, lifetimeS: number, produce: MediaTokenGrant["produce"] = []) {
  const expiresAt = (seconds(Date.now()) + lifetimeS) * 1000;
  const client = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign(userId, studentGrant(classId, produce), { exp: expiresAt / 1000 })));
  return { client, expiresAt };
}

describe("token.renew on the open media socket", () => {
  it("keeps the peer, its consumer and the RTP flowing past the first token's expiry", { timeout: 60_000 }, async () => {
    const classId = "class-renew";
    const { client, expiresAt } = await shortLivedStudent(classId, "student-1", SHORT_LIFETIME_S);
    const room = sfu.node.rooms.get(classId)!;
    const peer = room.peers.get("student-1")!;
    const {
      producer: { id: producerId },
    } = await ffmpegTeacher(room, cleanups);

    // The browser's consumer, negotiated over the socket, and the same peer's RTP counted on a plain transport.
    const recv = await client.call<{ transportId: string }>("createWebRtcTransport", { direction: "recv" });
    const { consumerId } = await client.call<{ consumerId: string }>("consume", {
      transportId: recv.transportId,
      producerId,
      rtpCapabilities: BROWSER_RTP_CAPABILITIES,
    });
    const output = await peer.createPlainTransport("recv");
    const counted = await peer.consume({ transportId: output.id, producerId, rtpCapabilities: await room.rtpCapabilities(), paused: false });
    const counter = await startRtpCounter((counted.rtpParameters as { codecs: { payloadType: number }[] }).codecs[0]!.payloadType);
    cleanups.push(() => counter.close());
    await output.connect({ ip: "127.0.0.1", port: counter.port });
    await eventually(() => counter.count() >= 10, 15_000, "RTP at the student");

    const renewedUntil = (seconds(Date.now()) + 600) * 1000;
    const answer = await client.call<{ expiresAt: number; produce: string[] }>("token.renew", {
      token: await issuer.sign("student-1", studentGrant(classId), { exp: renewedUntil / 1000 }),
    });
    expect(answer).toEqual({ expiresAt: renewedUntil, produce: [] });
    expect(peer.expiresAt).toBe(renewedUntil);

    await sleep(Math.max(0, expiresAt - Date.now()) + 1_000);
    expect(client.isOpen).toBe(true);
    expect(peer.closed).toBe(false);
    expect(room.peers.get("student-1")).toBe(peer);
    expect([...peer.transports.keys()]).toEqual(expect.arrayContaining([recv.transportId, output.id]));
    expect(peer.consumers.has(consumerId)).toBe(true);
    const afterExpiry = counter.count();
    await eventually(() => counter.count() >= afterExpiry + 10, 5_000, "RTP still flowing after the first token's expiry");
    const stats = await client.call<{ stats: unknown[] }>("getStats", { target: "consumer", id: consumerId });
    expect(stats.stats.length).toBeGreaterThan(0);
    // Nothing told the client to rebuild anything.
    expect(client.notifications.filter((n) => n.notification === "reconnect" || n.notification === "consumerClosed")).toEqual([]);
    await client.close();
  });

  it("refuses a token of another user, class, node or role, an expired one and a forged one, and changes nothing", { timeout: 60_000 }, async () => {
    const classId = "class-renew-refused";
    const { client, expiresAt } = await shortLivedStudent(classId, "student-1", SHORT_LIFETIME_S);
    const peer = sfu.node.rooms.get(classId)!.peers.get("student-1")!;
    const onStage = studentGrant(classId, ["audio", "video"]);
    const renew = async (token: string) => client.request("token.renew", { token });

    expect(await renew(await issuer.sign("student-2", onStage))).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN", message: expect.stringMatching(/someone else/) },
    });
    expect(await renew(await issuer.sign("student-1", studentGrant("another-class", ["audio", "video"])))).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    expect(await renew(await issuer.sign("student-1", onStage, { aud: "another-node" }))).toMatchObject({
      ok: false,
      error: { code: "UNAUTHORIZED", message: expect.stringMatching(/"aud"/) },
    });
    expect(await renew(await issuer.sign("student-1", { ...onStage, role: "teacher" }))).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await renew(await issuer.sign("student-1", onStage, { exp: seconds(Date.now()) - 5 }))).toMatchObject({
      ok: false,
      error: { code: "UNAUTHORIZED", message: expect.stringMatching(/expired/) },
    });
    expect(await renew(await issuer.signWithUnknownKey("student-1", onStage))).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
    expect(await renew(await issuer.sign("student-1", onStage, { exp: seconds(Date.now()) + 30 * 24 * 3600 }))).toMatchObject({
      ok: false,
      error: { code: "UNAUTHORIZED" },
    });
    expect(await renew("not-a-token")).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });

    // Still a receive-only student whose connection ends when the first token does.
    expect(peer.expiresAt).toBe(expiresAt);
    expect([...peer.produceGrant]).toEqual([]);
    expect(client.notifications.some((n) => n.notification === "grant")).toBe(false);
    expect(await client.request("createWebRtcTransport", { direction: "send" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    expect(Math.abs(Date.now() - expiresAt)).toBeLessThan(1_000);
    expect(sfu.node.rooms.has(classId)).toBe(false);
  });

  it("applies a renewed grant that drops video: the camera producer closes and producing video is forbidden", async () => {
    const classId = "class-renew-grant";
    const teacher = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("teacher-1", teacherGrant(classId))));
    const student = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("student-1", studentGrant(classId))));
    const send = await teacher.call<{ transportId: string }>("createWebRtcTransport", { direction: "send" });
    await teacher.call("connectTransport", { transportId: send.transportId, dtlsParameters: BROWSER_DTLS });
    const { producerId } = await teacher.call<{ producerId: string }>("produce", {
      transportId: send.transportId,
      kind: "video",
      source: "video",
      rtpParameters: BROWSER_VP8_PARAMETERS,
    });
    await student.waitFor((n) => n.notification === "producerAdded" && n.data.producerId === producerId);

    const answer = await teacher.call<{ produce: string[] }>("token.renew", { token: await issuer.sign("teacher-1", teacherGrant(classId, ["audio"])) });
    expect(answer.produce).toEqual(["audio"]);
    expect((await teacher.waitFor((n) => n.notification === "grant")).data).toEqual({ produce: ["audio"] });
    await student.waitFor((n) => n.notification === "producerRemoved" && n.data.producerId === producerId);
    expect(sfu.node.rooms.get(classId)!.counts().producers).toBe(0);
    const again = await teacher.request("produce", { transportId: send.transportId, kind: "video", source: "video", rtpParameters: BROWSER_VP8_PARAMETERS });
    expect(again).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    // The send transport itself stays: audio is still granted.
    expect(sfu.node.rooms.get(classId)!.peers.get("teacher-1")!.transports.has(send.transportId)).toBe(true);
    await teacher.close();
    await student.close();
  });

  it("does not let a token signed before a stage revoke bring the grant back; a later one applies", async () => {
    const classId = "class-renew-revoke";
    const signedBefore = seconds(Date.now()) - 5;
    const onStage = studentGrant(classId, ["audio", "video"]);
    const client = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("student-1", onStage, { iat: signedBefore })));
    const peer = sfu.node.rooms.get(classId)!.peers.get("student-1")!;
    expect([...peer.produceGrant]).toEqual(["audio", "video"]);

    // The class revokes the stage over its link (what ClassLink.setGrant does).
    sfu.node.overrides.set(classId, "student-1", []);
    peer.setGrant([]);
    await client.waitFor((n) => n.notification === "grant" && n.data.produce.length === 0);

    const stale = await client.call<{ produce: string[] }>("token.renew", { token: await issuer.sign("student-1", onStage, { iat: signedBefore + 1 }) });
    expect(stale.produce).toEqual([]);
    expect([...peer.produceGrant]).toEqual([]);
    expect(await client.request("createWebRtcTransport", { direction: "send" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    // Invited again: the object signs a token after the revoke, and its grant holds.
    await sleep(1_100);
    const fresh = await client.call<{ produce: string[] }>("token.renew", { token: await issuer.sign("student-1", onStage) });
    expect(fresh.produce).toEqual(["audio", "video"]);
    expect((await client.waitFor((n) => n.notification === "grant" && n.data.produce.length === 2)).data).toEqual({ produce: ["audio", "video"] });
    expect(await client.request("createWebRtcTransport", { direction: "send" })).toMatchObject({ ok: true });
    await client.close();
  });

  it("welcomes a reconnect with the grant the class left it, not the stale token's", async () => {
    const classId = "class-welcome-revoked";
    const signedBefore = seconds(Date.now()) - 5;
    const onStage = studentGrant(classId, ["audio", "video"]);
    // The class revoked the stage after this token was signed; the student's reconnect still carries it.
    sfu.node.overrides.set(classId, "student-1", []);
    const client = await MediaClient.connect(sfu.mediaUrl(classId, await issuer.sign("student-1", onStage, { iat: signedBefore })));
    const welcome = client.notifications.find((n) => n.notification === "welcome");
    expect(welcome?.data).toMatchObject({ userId: "student-1", produce: [] });
    expect(await client.request("createWebRtcTransport", { direction: "send" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    await client.close();
  });
});
