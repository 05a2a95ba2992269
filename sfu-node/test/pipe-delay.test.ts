/**
 * The test-only delay on pipes between nodes (SFU_PIPE_DELAY_MS, src/delay-relay.ts) that the local multi-region
 * world and the glass-to-glass benchmark use: three real nodes directed by the class object's own `Cascade`; a
 * sender on node A, a receiver on node B (no delay: the production path) and one on node C, which adds 40 ms to
 * what it receives from A (and A to what it receives from C). Each RTP packet carries its send time in its payload,
 * so each receiver's one-way delay is measured on one clock.
 */
import dgram from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import type { MediaNode } from "../src/Node";
import type { Room } from "../src/Room";
import { startLinkedNodes } from "./class-object";
import { eventually, recordingConnection } from "./helpers";

const WORKER_PORT = 8873;
const ADDED_MS = 40;
const OPUS = { payloadType: 100, ssrc: 33_333_333 };
/** Packets measured per receiver (one every 20 ms, as Opus sends). */
const SAMPLES = 150;

const cleanups: (() => void)[] = [];
let nodes: Map<string, MediaNode>;
let world: Awaited<ReturnType<typeof startLinkedNodes>>;

beforeAll(async () => {
  world = await startLinkedNodes(WORKER_PORT, [
    { nodeId: "node-a", rtcBase: 45_000, pipes: { announcedAddress: "127.0.0.1", delays: { defaultMs: 0, byPeer: { "node-c": ADDED_MS } } } },
    { nodeId: "node-b", rtcBase: 45_300, pipes: { announcedAddress: "127.0.0.1" } },
    { nodeId: "node-c", rtcBase: 45_600, pipes: { announcedAddress: "127.0.0.1", delays: { defaultMs: ADDED_MS, byPeer: {} } } },
  ]);
  nodes = world.nodes;
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(async () => {
  await world?.close();
});

/** A sender of Opus-shaped RTP into a plain transport on `room`, each payload holding the packet's index; send times by index. */
async function stampedSender(room: Room): Promise<{ producerId: string; sentAt: Map<number, number> }> {
  const teacher = room.addPeer({ userId: "teacher", role: "teacher", produce: ["audio"], displayName: "Teacher", connection: recordingConnection() });
  const input = await teacher.createPlainTransport("send", { comedia: true });
  const producer = await teacher.producePlain(input, "audio", {
    kind: "audio",
    rtpParameters: { codecs: [{ mimeType: "audio/opus", payloadType: OPUS.payloadType, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: OPUS.ssrc }] },
  });
  const socket = dgram.createSocket("udp4");
  const sentAt = new Map<number, number>();
  let index = 0;
  const timer = setInterval(() => {
    const packet = Buffer.alloc(12 + 40);
    packet[0] = 0x80;
    packet[1] = OPUS.payloadType;
    packet.writeUInt16BE(index & 0xffff, 2);
    packet.writeUInt32BE((index * 960) >>> 0, 4);
    packet.writeUInt32BE(OPUS.ssrc, 8);
    packet.writeUInt32BE(index, 12);
    sentAt.set(index, performance.now());
    socket.send(packet, input.tuple.localPort, "127.0.0.1");
    index += 1;
  }, 20);
  cleanups.push(() => {
    clearInterval(timer);
    socket.close();
  });
  return { producerId: producer.id, sentAt };
}

/** A student on `room` receiving `producerId` on a plain transport into a socket that notes each packet's one-way delay. */
async function timingStudent(room: Room, userId: string, producerId: string, sentAt: Map<number, number>): Promise<number[]> {
  const student = room.addPeer({ userId, role: "student", produce: [], displayName: userId, connection: recordingConnection() });
  const output = await student.createPlainTransport("recv");
  const socket = dgram.createSocket("udp4");
  const delays: number[] = [];
  socket.on("message", (packet) => {
    const now = performance.now();
    // RTCP (packet types 200-204, muxed on this socket) carries no stamp.
    if (packet.length < 16 || packet[0]! >> 6 !== 2 || (packet[1]! >= 200 && packet[1]! <= 204)) return;
    let offset = 12 + 4 * (packet[0]! & 0x0f);
    if (packet[0]! & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
    if (offset + 4 > packet.length) return;
    const sent = sentAt.get(packet.readUInt32BE(offset));
    if (sent !== undefined) delays.push(now - sent);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  cleanups.push(() => socket.close());
  await output.connect({ ip: "127.0.0.1", port: socket.address().port });
  await student.consume({ transportId: output.id, producerId, rtpCapabilities: await room.rtpCapabilities(), paused: false });
  return delays;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe("test-only delay on pipes between nodes", () => {
  it("a pipe with 40 ms added carries the stream 40 ms later than a pipe without; without the setting the pipe is the production one", {
    timeout: 60_000,
  }, async () => {
    const classId = "class-delay";
    const object = world.worker.objectFor(classId);
    const roomA = await nodes.get("node-a")!.openRoom(classId);
    const { producerId, sentAt } = await stampedSender(roomA);
    await eventually(() => object.producers.has(producerId), 10_000, "node A reports the sender");
    const roomB = await nodes.get("node-b")!.openRoom(classId);
    const roomC = await nodes.get("node-c")!.openRoom(classId);
    const direct = await timingStudent(roomB, "student-b", producerId, sentAt);
    const delayed = await timingStudent(roomC, "student-c", producerId, sentAt);
    await eventually(() => direct.length >= SAMPLES && delayed.length >= SAMPLES, 30_000, `${SAMPLES} packets at both receivers`);

    // Nothing lost on the way, and the delayed copy arrives the added time later (on a busy machine the event
    // loops of the sender and of the relay add a few ms of their own).
    const directMs = median(direct.slice(-SAMPLES));
    const delayedMs = median(delayed.slice(-SAMPLES));
    console.log(
      `one-way delay, median of ${SAMPLES} packets: through the plain pipe ${directMs.toFixed(1)} ms, with ${ADDED_MS} ms added ${delayedMs.toFixed(1)} ms`,
    );
    expect(delayedMs).toBeGreaterThanOrEqual(ADDED_MS);
    expect(delayedMs - directMs).toBeGreaterThan(ADDED_MS - 5);
    expect(delayedMs - directMs).toBeLessThan(ADDED_MS + 20);
    expect(directMs).toBeLessThan(20);

    // Without a delay, a node reports its transport's own port (no relay in the path); with one, the relay's.
    const endsOfA = roomA.cascade!.counts().byPeer;
    const toB = await object.command("node-a", "pipeOpen", { peerNodeId: "node-b" });
    expect(toB.port).toBe(endsOfA.get("node-b")!.transport.tuple.localPort);
    const toC = await object.command("node-a", "pipeOpen", { peerNodeId: "node-c" });
    expect(toC.port).not.toBe(endsOfA.get("node-c")!.transport.tuple.localPort);
    roomA.close("closed-by-server");
    roomB.close("closed-by-server");
    roomC.close("closed-by-server");
  });

  it("is refused unless the node listens on loopback, and read as one delay or per peer node", () => {
    const base = { WORKER_URL: "http://127.0.0.1:8787", SFU_LISTEN_HOST: "127.0.0.1" };
    expect(loadConfig(base).pipeDelays).toBeUndefined();
    expect(loadConfig({ ...base, SFU_PIPE_DELAY_MS: "40" }).pipeDelays).toEqual({ defaultMs: 40, byPeer: {} });
    expect(loadConfig({ ...base, SFU_PIPE_DELAY_MS: "10, eu-1=40,sg-1=110" }).pipeDelays).toEqual({ defaultMs: 10, byPeer: { "eu-1": 40, "sg-1": 110 } });
    expect(() => loadConfig({ ...base, SFU_PIPE_DELAY_MS: "40ms" })).toThrow(/^SFU_PIPE_DELAY_MS: must be milliseconds/);
    expect(() => loadConfig({ ...base, SFU_PIPE_DELAY_MS: "5000" })).toThrow(/^SFU_PIPE_DELAY_MS: /);
    const everywhere = { ...base, SFU_LISTEN_HOST: "0.0.0.0", SFU_ANNOUNCED_ADDRESS: "203.0.113.7", SFU_PIPE_DELAY_MS: "40" };
    expect(() => loadConfig(everywhere)).toThrow(ConfigError);
    expect(() => loadConfig(everywhere)).toThrow(/SFU_PIPE_DELAY_MS: test only .* loopback address \(got 0\.0\.0\.0\)/);
  });
});
