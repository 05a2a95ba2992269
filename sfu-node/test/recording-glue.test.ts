import type { ChildProcess } from "node:child_process";
import http from "node:http";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetRecordingUpdate, FleetRecordingUpdateSchema } from "../../schema/api/recordings";
import { MediaError } from "../src/errors";
import type { MediaNode } from "../src/Node";
import { configureRecorder } from "../src/recording/Recorder";
import { createRecordingGlue } from "../src/recording-glue";
import { testNodeKey } from "./node-key-helpers";
import { PICTURES, SOUNDS, encodeStream, ffmpegPeer, plainProducer, sendStream, sleep, startRecorderTestNode, tempDir } from "./recording-helpers";

const WORKER_PORT = 8892;

/**
 * The Worker's `POST /api/fleet/recordings/:id`, scripted: the n-th request gets `answers[n]` (200 after the
 * script ends). Every request is kept with what it carried.
 */
function fakeWorker(answers: number[]) {
  const requests: { path: string; signedBy: string | null; update: FleetRecordingUpdate; answered: number }[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", async () => {
      const signedBy = await nodeKey.verify(request);
      const answered = answers[requests.length] ?? 200;
      requests.push({ path: request.url ?? "", signedBy, update: v.parse(FleetRecordingUpdateSchema, JSON.parse(body)), answered });
      response.writeHead(answered, { "content-type": "application/json" }).end(answered === 200 ? "{}" : '{"error":{"code":"CONFLICT","message":"no"}}');
    });
  });
  return { requests, server };
}

let node: MediaNode;
let nodeKey: Awaited<ReturnType<typeof testNodeKey>>;
const senders: ChildProcess[] = [];

beforeAll(async () => {
  node = await startRecorderTestNode(46200);
  nodeKey = await testNodeKey("glue-node", `http://127.0.0.1:${WORKER_PORT}`);
  configureRecorder({ portMin: 46600, portMax: 46649 });
});

afterAll(() => {
  for (const sender of senders) sender.kill("SIGKILL");
  node?.close();
});

describe("recording glue (class link → recorder → Worker reports)", () => {
  it("reports each step in order, retries while the Worker is unavailable, drops what it refuses, and fails without storage", { timeout: 90_000 }, async () => {
    // composing 0: first answered 503, then taken; composing 100: refused (409), not retried; failed: taken.
    const worker = fakeWorker([503, 200, 409, 200]);
    await new Promise<void>((resolve) => worker.server.listen(WORKER_PORT, "127.0.0.1", resolve));
    try {
      const glue = createRecordingGlue({
        workerUrl: `http://127.0.0.1:${WORKER_PORT}/`,
        identity: nodeKey.identity,
        workRoot: await tempDir("glue"),
        publisher: undefined,
        retryDelayMs: () => 50,
      });
      const room = await node.openRoom("class-glue");
      const teacher = await ffmpegPeer(room, "teacher");
      const camera = await plainProducer(teacher, "video");
      const microphone = await plainProducer(teacher, "audio");
      senders.push(sendStream(camera, "video", await encodeStream("pattern", "video", PICTURES.testPattern())));
      senders.push(sendStream(microphone, "audio", await encodeStream("tone", "audio", SOUNDS.tone())));
      await sleep(1_500);

      await glue.start(room, { recordingId: "rec-glue", userIds: ["teacher"] });
      await glue.start(room, { recordingId: "rec-glue", userIds: ["teacher"] });
      expect([...glue.running.keys()]).toEqual(["rec-glue"]);
      await sleep(3_000);
      await glue.stop(room, { recordingId: "rec-glue" });
      await expect(glue.stop(room, { recordingId: "rec-glue-unknown" })).rejects.toBeInstanceOf(MediaError);

      await expect.poll(() => glue.running.size, { timeout: 60_000, interval: 200 }).toBe(0);
      await glue.reportsFlushed();

      expect(worker.requests.every((r) => r.path === "/api/fleet/recordings/rec-glue" && r.signedBy === "glue-node")).toBe(true);
      expect(worker.requests.map((r) => [r.update.status, r.update.progress, r.answered])).toEqual([
        ["composing", 0, 503],
        ["composing", 0, 200],
        ["composing", 100, 409],
        ["failed", 0, 200],
      ]);
      const [stopped, , composed, failed] = worker.requests.map((r) => r.update);
      expect(stopped!.durationMs).toBeGreaterThanOrEqual(2_900);
      expect(stopped!.endedAt).toBeGreaterThan(Date.now() - 120_000);
      expect(composed!.durationMs).toBeGreaterThanOrEqual(2_900);
      expect(failed!.failureReason).toMatch(/no recording storage/);
      room.close("closed-by-server");
    } finally {
      worker.server.close();
    }
  });
});
