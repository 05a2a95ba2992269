import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { countingStudent, eventually, ffmpegTeacher, startIssuer, startTestNode, type TestIssuer, type TestNode } from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  issuer = await startIssuer(8847);
  // A threshold of one consumer per router, so the second receiver lands on the other worker.
  sfu = await startTestNode({ httpPort: 8843, rtcBase: 41200, issuerUrl: issuer.url, consumersPerRouter: 1 });
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
});

describe("media flow with real workers and FFmpeg", () => {
  it("forwards a producer's RTP to a consumer", async () => {
    const room = await sfu.node.openRoom("class-rtp");
    const { producer } = await ffmpegTeacher(room, cleanups);
    const { counter } = await countingStudent(room, "student-1", producer.id, cleanups);
    await eventually(() => counter.count() >= 30, 15_000, "30 RTP packets at the student");
    const stats = await producer.getStats();
    expect(stats[0]?.packetCount ?? 0).toBeGreaterThan(0);
    room.close("closed-by-server");
  });

  it("fans one producer out to consumers on two workers through pipeToRouter", async () => {
    const room = await sfu.node.openRoom("class-pipe");
    const { producer } = await ffmpegTeacher(room, cleanups);
    const first = await countingStudent(room, "student-1", producer.id, cleanups);
    const second = await countingStudent(room, "student-2", producer.id, cleanups);
    expect(first.entry.home.slotIndex).not.toBe(second.entry.home.slotIndex);
    expect(room.routers.size).toBe(2);
    expect(new Set([...room.routers.values()].map((entry) => sfu.node.slots[entry.slotIndex]!.worker.pid)).size).toBe(2);

    await eventually(() => first.counter.count() >= 30 && second.counter.count() >= 30, 15_000, "30 RTP packets at both students");
    // The second router holds a piped copy of the producer (same id) feeding its student's consumer; on the
    // first router the producer has two consumers: the first student's and the pipe's.
    const pipedRouter = await room.routers.get(second.entry.home.slotIndex)!.router.dump();
    expect(pipedRouter.mapProducerIdConsumerIds).toEqual([{ key: producer.id, values: [...second.student.consumers.keys()] }]);
    const homeRouter = await room.routers.get(first.entry.home.slotIndex)!.router.dump();
    expect(homeRouter.mapProducerIdConsumerIds.find((entry) => entry.key === producer.id)?.values).toHaveLength(2);

    room.close("closed-by-server");
    expect(room.routers.size).toBe(0);
    expect(sfu.node.rooms.has("class-pipe")).toBe(false);
  });

  it("stops a consumer's RTP when the producing teacher leaves", async () => {
    const room = await sfu.node.openRoom("class-leave");
    const { teacher, producer } = await ffmpegTeacher(room, cleanups);
    const { student, counter } = await countingStudent(room, "student-1", producer.id, cleanups);
    await eventually(() => counter.count() >= 10, 15_000, "RTP at the student");
    teacher.close();
    await eventually(() => student.consumers.size === 0, 5_000, "the student's consumer closed");
    // Packets already sent when the consumer closed may be read a while later on a busy machine: first the count
    // stands still (a consumer still forwarding this 15 fps video would add packets every 70 ms or so, read late or
    // not), then it stays still.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 300));
    await eventually(
      async () => {
        const before = counter.count();
        await pause();
        return counter.count() === before;
      },
      10_000,
      "RTP stopped at the student",
    );
    const afterLeave = counter.count();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(counter.count() - afterLeave).toBeLessThanOrEqual(2);
    room.close("closed-by-server");
  });
});
