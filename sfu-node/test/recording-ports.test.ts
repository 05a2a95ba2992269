import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MediaNode } from "../src/Node";
import { PortPool, PortPoolExhaustedError } from "../src/recording/port-pool";
import { TrackCapture } from "../src/recording/TrackCapture";
import { ffmpegPeer, plainProducer, startRecorderTestNode, tempDir } from "./recording-helpers";

let node: MediaNode;

beforeAll(async () => {
  node = await startRecorderTestNode(45200);
});

afterAll(() => node?.close());

describe("recording ports", () => {
  it("hands out aligned blocks, skips ports another process holds, and refuses when none is left", async () => {
    const squatter = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => squatter.bind(45905, "0.0.0.0", resolve));
    const pool = new PortPool(45901, 45915);
    const first = await pool.acquire();
    const second = await pool.acquire();
    // 45904-45907 holds the squatted 45905, so the first block is the next one.
    expect(first).toEqual({ rtp: 45908, rtcp: 45909, reports: 45910 });
    expect(second).toEqual({ rtp: 45912, rtcp: 45913, reports: 45914 });
    await expect(pool.acquire()).rejects.toBeInstanceOf(PortPoolExhaustedError);
    pool.release(first);
    pool.release(first);
    expect(pool.inUse).toBe(1);
    expect(await pool.acquire()).toEqual(first);
    squatter.close();
  });

  it("gives a capture's ports back when it cannot start", async () => {
    const room = await node.openRoom("class-ports");
    const teacher = await ffmpegPeer(room, "teacher");
    const { producer } = await plainProducer(teacher, "video");
    producer.close();
    const pool = new PortPool(45920, 45939);
    const starting = TrackCapture.start({ room, producer, userId: "teacher", source: "video", dir: await tempDir("ports"), ports: pool });
    await expect(starting).rejects.toThrow();
    expect(pool.inUse).toBe(0);
    room.close("closed-by-server");
  });
});
