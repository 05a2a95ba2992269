import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cascade, type CascadeLinks, type CascadeProducer } from "../../durable-objects/cascade";
import type { ClassLinkAnswer, ClassLinkCommand, ClassLinkCommandData } from "../../schema/protocol/class-link";
import type { MediaNode } from "../src/Node";
import { RoomPipes } from "../src/pipes";
import { configureRecorder, startRecording } from "../src/recording/Recorder";
import type { Room } from "../src/Room";
import { startNode } from "./class-object";
import { eventually } from "./helpers";
import { encodeStream, ffmpegPeer, frameAt, PICTURES, plainProducer, sendStream, sleep, tempDir } from "./recording-helpers";

/** A piped producer nobody consumes closes after this (30 s in production): the recording must keep its copy. */
const IDLE_CLOSE_MS = 1_500;
const canvas = { width: 640, height: 360, fps: 15 };

/**
 * The class object's cascade (durable-objects/cascade.ts) driving the two rooms' real pipes directly (the class
 * links that carry its commands in production are tested in pipes.test.ts).
 */
function directCascade(rooms: Map<string, Room>, producers: Map<string, CascadeProducer>): Cascade {
  const pipesOf = new Map([...rooms].map(([nodeId, room]) => [nodeId, room.cascade!]));
  const handlers: { [M in ClassLinkCommand]?: (pipes: RoomPipes, data: never) => unknown } = {
    pipeOpen: (pipes, data: ClassLinkCommandData<"pipeOpen">) => pipes.open(data),
    pipeConnect: (pipes, data: ClassLinkCommandData<"pipeConnect">) => pipes.connect(data),
    pipeConsume: (pipes, data: ClassLinkCommandData<"pipeConsume">) => pipes.consume(data),
    pipeProduce: (pipes, data: ClassLinkCommandData<"pipeProduce">) => pipes.produce(data),
    pipeUnconsume: (pipes, data: ClassLinkCommandData<"pipeUnconsume">) => pipes.unconsume(data),
    pipeUnavailable: (pipes, data: ClassLinkCommandData<"pipeUnavailable">) => pipes.unavailable(data),
    pipeClose: (pipes, data: ClassLinkCommandData<"pipeClose">) => pipes.closePeer(data),
  };
  const links: CascadeLinks = {
    command: async <M extends ClassLinkCommand>(nodeId: string, method: M, data: ClassLinkCommandData<M>) =>
      (await handlers[method]!(pipesOf.get(nodeId)!, data as never)) as ClassLinkAnswer<M>,
    nodes: () => [...rooms.keys()],
  };
  return new Cascade(links, (id) => producers.get(id) ?? null);
}

let guestNode: MediaNode;
let recordingNode: MediaNode;
let files: { blue: string; red: string };
const senders: ChildProcess[] = [];

beforeAll(async () => {
  guestNode = await startNode("node-guest", 51000);
  recordingNode = await startNode("node-rec", 51200);
  configureRecorder({ portMin: 51400, portMax: 51449 });
  files = { blue: await encodeStream("blue", "video", PICTURES.solid("blue")), red: await encodeStream("red", "video", PICTURES.solid("red")) };
}, 120_000);

afterEach(() => {
  for (const sender of senders.splice(0)) sender.kill("SIGKILL");
});

afterAll(() => {
  guestNode?.close();
  recordingNode?.close();
});

describe("a recording of a class on two nodes", () => {
  it("records a stage guest on another node, piped to the recording's node: the composed picture shows the guest's camera", {
    timeout: 90_000,
  }, async () => {
    const classId = "class-recorded-across";
    const roomGuest = await guestNode.openRoom(classId);
    const roomRec = await recordingNode.openRoom(classId);
    for (const room of [roomGuest, roomRec])
      room.cascade = new RoomPipes(room, { announcedAddress: "127.0.0.1", idleCloseMs: IDLE_CLOSE_MS, notify: () => undefined });

    // The teacher (blue camera) on the recording's node; the guest on stage (red camera) on the other node.
    const teacherCamera = await plainProducer(await ffmpegPeer(roomRec, "teacher"), "video");
    senders.push(sendStream(teacherCamera, "video", files.blue));
    const guestCamera = await plainProducer(await ffmpegPeer(roomGuest, "guest"), "video");
    senders.push(sendStream(guestCamera, "video", files.red));
    const producers = new Map<string, CascadeProducer>([
      [guestCamera.producer.id, { producerId: guestCamera.producer.id, nodeId: "node-guest", userId: "guest", source: "video" }],
    ]);
    const cascade = directCascade(
      new Map([
        ["node-guest", roomGuest],
        ["node-rec", roomRec],
      ]),
      producers,
    );

    const recording = await startRecording(roomRec, {
      recordingId: "rec-across",
      classId,
      userIds: ["teacher"],
      workDir: await tempDir("across"),
      canvas,
    });
    // The guest goes on stage while recording (`recording.include`), and the class object has their camera piped
    // to the recording's node, as it does for every recorded user's producer on another node.
    await recording.include(["guest"]);
    await cascade.wanted("node-rec", guestCamera.producer.id);
    await eventually(
      () => recording.tracks().some((track) => track.userId === "guest" && track.firstPacketAt !== undefined),
      15_000,
      "the guest's piped camera being captured",
    );
    // Nobody watches the copy on the recording's node but the recorder: it stays past the idle close.
    await sleep(IDLE_CLOSE_MS * 2 + 1_000);
    expect(roomRec.producer(guestCamera.producer.id).owner).toBeUndefined();
    expect(
      recording
        .tracks()
        .filter((track) => track.userId === "guest")
        .map((track) => track.ended),
    ).toEqual([false]);
    const composed = await recording.stop();

    // The teacher's camera is the main picture; the guest's camera shows picture-in-picture on the right (in the
    // second slot: the first is the main camera's, used while a board or screen is the main picture).
    const frame = await frameAt(composed.file, composed.durationMs / 1000 - 1);
    const [r, g, b] = frame(57, 20);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
    const [mainR, , mainB] = frame(32, 18);
    expect(mainB).toBeGreaterThan(180);
    expect(mainR).toBeLessThan(80);
    roomGuest.close("closed-by-server");
    roomRec.close("closed-by-server");
  });
});
