import type { types } from "mediasoup";
import * as v from "valibot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MediaRequestFrameSchema } from "../../schema/protocol/media";
import { CpuSampler, renderMetrics } from "../src/metrics";
import type { MediaNode } from "../src/Node";
import type { Room } from "../src/Room";
import { startLinkedNodes } from "./class-object";
import { countingStudent, eventually, recordingConnection, startVp8Sender, VP8_SENDER } from "./helpers";

/** Idle piped producers close after this (30 s in production). */
const IDLE_CLOSE_MS = 1_500;

/** Where the nodes' class links go: a real WebSocket server standing in for the Worker. */
const WORKER_PORT = 8871;

let nodeA: MediaNode;
let nodeB: MediaNode;
let world: Awaited<ReturnType<typeof startLinkedNodes>>;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  const pipes = { announcedAddress: "127.0.0.1", idleCloseMs: IDLE_CLOSE_MS };
  world = await startLinkedNodes(WORKER_PORT, [
    { nodeId: "node-a", rtcBase: 44000, pipes },
    { nodeId: "node-b", rtcBase: 44400, pipes },
  ]);
  nodeA = world.nodes.get("node-a")!;
  nodeB = world.nodes.get("node-b")!;
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(async () => {
  await world?.close();
});

function pipesOf(room: Room, peerNodeId: string) {
  return room.cascade!.counts().byPeer.get(peerNodeId) ?? { transports: 0, sent: 0, received: 0 };
}

/**
 * A teacher on `room` whose camera is FFmpeg sending VP8, declared as answering PLI (as a browser's camera is),
 * so the node asks it for keyframes; FFmpeg itself ignores them, the producer's `pliCount` shows they were asked.
 */
async function ffmpegCamera(room: Room): Promise<types.Producer> {
  const teacher = room.addPeer({ userId: "teacher", role: "teacher", produce: ["video"], displayName: "Teacher", connection: recordingConnection() });
  const input = await teacher.createPlainTransport("send", { comedia: true, rtcpMux: false });
  const producer = await teacher.producePlain(input, "video", {
    kind: "video",
    rtpParameters: {
      codecs: [{ mimeType: "video/VP8", payloadType: VP8_SENDER.payloadType, clockRate: 90000, rtcpFeedback: [{ type: "nack", parameter: "pli" }] }],
      encodings: [{ ssrc: VP8_SENDER.ssrc }],
    },
  });
  const ffmpeg = startVp8Sender(input.tuple.localPort, input.rtcpTuple!.localPort);
  cleanups.push(() => ffmpeg.kill("SIGKILL"));
  return producer;
}

async function pliCount(producer: types.Producer): Promise<number> {
  return (await producer.getStats()).reduce((sum, stat) => sum + stat.pliCount, 0);
}

describe("pipes between two nodes, directed by the class object", () => {
  it("brings a producer of node A to consumers on node B through one shared pipe, passes pause and keyframe requests, closes it when unused", {
    timeout: 60_000,
  }, async () => {
    const classId = "class-cascade";
    const object = world.worker.objectFor(classId);
    // The teacher on node A (FFmpeg's camera); on node B someone who watches nothing yet keeps the class's room open.
    const roomA = await nodeA.openRoom(classId);
    const producer = await ffmpegCamera(roomA);
    await eventually(() => object.producers.has(producer.id), 10_000, "node A reports the camera");
    const roomB = await nodeB.openRoom(classId);
    roomB.addPeer({ userId: "student-0", role: "student", produce: [], displayName: "student-0", connection: recordingConnection() });

    // A student on B consumes it at once (B's class link is still opening: B asks once it is open), the object
    // pipes it from A, and RTP arrives.
    const first = await countingStudent(roomB, "student-1", producer.id, cleanups);
    await eventually(() => first.counter.count() >= 30, 15_000, "30 RTP packets at the student on node B");
    expect(roomB.producer(producer.id).owner).toBeUndefined();
    expect(pipesOf(roomA, "node-b")).toMatchObject({ transports: 1, sent: 1, received: 0 });
    expect(pipesOf(roomB, "node-a")).toMatchObject({ transports: 1, sent: 0, received: 1 });

    // A second student on B shares the same pipe and the same piped producer.
    const second = await countingStudent(roomB, "student-2", producer.id, cleanups);
    await eventually(() => second.counter.count() >= 30, 15_000, "30 RTP packets at the second student");
    expect(pipesOf(roomA, "node-b")).toMatchObject({ transports: 1, sent: 1 });
    expect(pipesOf(roomB, "node-a")).toMatchObject({ transports: 1, received: 1 });
    // /metrics shows the pipes per remote node, and the bitrate through them.
    const metricsA = await renderMetrics(nodeA, new CpuSampler(nodeA), 0);
    expect(metricsA).toContain('sfu_pipe_transports{peer_node="node-b"} 1\n');
    expect(metricsA).toContain('sfu_piped_producers_sent{peer_node="node-b"} 1\n');
    expect(Number(/sfu_pipe_send_bitrate_bps\{peer_node="node-b"\} (\d+)/.exec(metricsA)?.[1])).toBeGreaterThan(10_000);
    expect(await renderMetrics(nodeB, new CpuSampler(nodeB), 0)).toContain('sfu_piped_producers_received{peer_node="node-a"} 1\n');

    // A keyframe request of a consumer on B reaches the sender on A (as a PLI through the pipe).
    const before = await pliCount(producer);
    await first.entry.consumer.requestKeyFrame();
    await eventually(async () => (await pliCount(producer)) > before, 10_000, "a PLI sent to the camera on node A");

    // Pausing on A pauses the copy on B: its consumers are told, and resumed again.
    await producer.pause();
    await eventually(() => first.entry.consumer.producerPaused && second.entry.consumer.producerPaused, 5_000, "consumers on B see the pause");
    await producer.resume();
    await eventually(() => !first.entry.consumer.producerPaused, 5_000, "consumers on B see the resume");

    // Both leave: a short while later B closes its copy and A stops sending it; the pipe stays for reuse.
    first.student.close();
    second.student.close();
    expect(pipesOf(roomB, "node-a").received).toBe(1);
    await eventually(() => pipesOf(roomA, "node-b").sent === 0 && pipesOf(roomB, "node-a").received === 0, 10_000, "the idle stream closed on both nodes");
    expect(pipesOf(roomA, "node-b").transports).toBe(1);

    // Someone on B watches again: piped once more through the same pipe; when the camera closes on A, their consumer closes on B.
    const third = await countingStudent(roomB, "student-3", producer.id, cleanups);
    await eventually(() => third.counter.count() >= 10, 15_000, "RTP at the third student");
    producer.close();
    await eventually(() => third.student.consumers.size === 0, 5_000, "the consumer on B closed with the camera on A");
    expect(() => roomB.producer(producer.id)).toThrow(/No producer/);

    // Node B's room closes (its last participant left): node A closes its end of their pipe.
    third.student.close();
    roomB.peers.get("student-0")!.close();
    await eventually(() => pipesOf(roomA, "node-b").transports === 0, 10_000, "node A closed the pipe to the room that went");
    roomA.close("closed-by-server");
  });

  it("accepts pipe commands only for a pipe the object opened, and never from a participant", { timeout: 30_000 }, async () => {
    const classId = "class-refusals";
    const object = world.worker.objectFor(classId);
    const roomA = await nodeA.openRoom(classId);
    roomA.addPeer({ userId: "teacher", role: "teacher", produce: ["video"], displayName: "T", connection: recordingConnection() });
    await eventually(() => object.sockets.has("node-a"), 10_000, "node A's class link");
    const stream = { kind: "video" as const, rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: 101, clockRate: 90000 }] }, paused: false };
    // No pipe to node-z was opened: nothing is connected to it, nothing sent to it, nothing taken from it.
    const elsewhere = await object.command("node-a", "pipeOpen", { peerNodeId: "node-y" });
    const remote = { ip: "127.0.0.1", port: 9, srtpParameters: elsewhere.srtpParameters };
    await expect(object.command("node-a", "pipeConnect", { peerNodeId: "node-z", remote })).rejects.toThrow("CONFLICT");
    await expect(object.command("node-a", "pipeConsume", { peerNodeId: "node-z", producerId: "any" })).rejects.toThrow("CONFLICT");
    await expect(object.command("node-a", "pipeProduce", { peerNodeId: "node-z", producerId: "p-x", userId: "u", source: "video", stream })).rejects.toThrow(
      "CONFLICT",
    );
    // An end, once connected to one peer end, takes no other (the object must close it and open a new one).
    const end = await object.command("node-a", "pipeOpen", { peerNodeId: "node-z" });
    expect(end).toMatchObject({ ip: "127.0.0.1", srtpParameters: { cryptoSuite: expect.any(String), keyBase64: expect.any(String) }, connectedTo: null });
    await object.command("node-a", "pipeConnect", { peerNodeId: "node-z", remote });
    expect(await object.command("node-a", "pipeOpen", { peerNodeId: "node-z" })).toEqual({ ...end, connectedTo: { ip: "127.0.0.1", port: 9 } });
    await expect(object.command("node-a", "pipeConnect", { peerNodeId: "node-z", remote: { ...remote, port: 10 } })).rejects.toThrow("CONFLICT");
    // Media signaling (what browsers speak) has no pipe method at all: such a frame is refused before any handler.
    for (const method of ["pipeOpen", "pipeConnect", "pipeProduce"])
      expect(v.safeParse(MediaRequestFrameSchema, { id: 1, method, data: {} }).success).toBe(false);
    roomA.close("closed-by-server");
  });
});
