/**
 * A recording across the teacher's move: a teacher and a student in real Chromium record a class with a second
 * sfu-node in the fleet; the node carrying the class drains (SIGTERM), both move to the other node, and the
 * recording goes on there as its next part. After the stop both parts are published: the drained node composed and
 * published its part before it exited, the other node the rest; each plays and shows the teacher's camera, the first
 * from before the move, the second from after it. The time from the SIGTERM to the next part's start is printed.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { type ExtraNode, stackStoreEnv, startExtraNode } from "./lib/extra-node";
import { startRecording } from "./lib/live-class";
import { classWithMedia, nodeOf, running, stackNodeOf, stackNodePid, stopForTwoParts } from "./lib/media-nodes";
import { FRAME_HEIGHT, FRAME_WIDTH, type Frame, readRecordingFrames, type Rgb, shareOf } from "./lib/recording-frames";

const baseUrl = inject("baseUrl");
const MEDIA_TIMEOUT_MS = 30_000;
/** How long each part records. */
const PART_MS = 8_000;
/** Composing, uploading and packaging two short parts on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 240_000;
/** The target: the recording goes on within 10 s of its node going. */
const CONTINUES_WITHIN_MS = 10_000;
/** At most this much of a drained node's part overlaps the next one (the next part's start-up on a busy machine). */
const PARTS_OVERLAP_MS = 3_000;

const stackNodeId = stackNodeOf(baseUrl).nodeId;

/** Chromium's fake camera is mostly green. */
const greenish = ([r, g, b]: Rgb) => g > r + 40 && g > b + 40;

describe("a recording across the teacher's move", () => {
  let browser: Browser;
  let nodeB: ExtraNode;

  beforeAll(async () => {
    browser = await launchBrowser();
    // It records too (the recording may be on it, or go on on it): it stores into the stack's local store.
    nodeB = await startExtraNode(baseUrl, "e2e-rec-node-b", "local", 52_000, stackStoreEnv(baseUrl));
  });

  afterAll(async () => {
    await browser?.close();
    await nodeB?.stop();
  });

  /** The sfu-node process carrying `nodeId`: the extra node's, or the stack's (the parent of its workers). */
  function pidOf(nodeId: string): number {
    return nodeId === nodeB.nodeId ? nodeB.pid : stackNodePid(nodeB);
  }

  it("SIGTERM of the recording's node: the recording goes on where the teacher moved, and both parts are published and play", {
    timeout: 480_000,
  }, async () => {
    const title = "Moved recording";
    const { classId, teacher, student, nodeId } = await classWithMedia(browser, baseUrl, title, [stackNodeId, nodeB.nodeId]);
    const survivor = nodeId === nodeB.nodeId ? stackNodeId : nodeB.nodeId;

    await startRecording(teacher.page);
    const rec = student.page.getByTestId("rec-indicator");
    await rec.waitFor();
    await teacher.page.waitForTimeout(PART_MS);

    const drained = pidOf(nodeId);
    const termAt = Date.now();
    process.kill(drained, "SIGTERM");
    await expect.poll(() => nodeOf(teacher.page), { timeout: MEDIA_TIMEOUT_MS }).toBe(survivor);
    // REC stayed on for the student throughout the move.
    expect(await rec.count()).toBe(1);
    await expect.poll(() => running(drained), { timeout: MEDIA_TIMEOUT_MS, interval: 100 }).toBe(false);
    await teacher.page.waitForTimeout(PART_MS);
    const [first, second] = await stopForTwoParts(teacher, classId, rec, PROCESSING_TIMEOUT_MS);
    expect([first.title, second.title]).toEqual([`${title} — Part 1`, `${title} — Part 2`]);
    expect(first.failureReason).toBeNull();
    // The second part begins within the target of the SIGTERM. The teacher moves make-before-break (the drained
    // node keeps their camera until the new one is shown), so the first part records on until the class object
    // has the second one running and stops it: the two overlap by that start-up, never more than a few seconds.
    expect(second.startedAt - termAt).toBeLessThan(CONTINUES_WITHIN_MS);
    expect(first.endedAt!).toBeLessThanOrEqual(second.startedAt + PARTS_OVERLAP_MS);
    expect(first.durationMs!).toBeGreaterThan(PART_MS - 1_000);
    expect(second.durationMs!).toBeGreaterThan(PART_MS - 2_000);

    // Each part plays: its frames show the teacher's camera (before the move in the first, after it in the second).
    const main = { x1: FRAME_WIDTH * 0.2, y1: FRAME_HEIGHT * 0.2, x2: FRAME_WIDTH * 0.8, y2: FRAME_HEIGHT * 0.8 };
    for (const part of [first, second]) {
      const frames: Frame[] = await readRecordingFrames(new URL((part.hlsManifestUrl ?? part.dashManifestUrl)!, baseUrl).toString());
      expect(frames.length).toBeGreaterThanOrEqual(2 * ((part.durationMs! - 2_000) / 1000));
      const withCamera = frames.filter((frame) => shareOf(frame, main, greenish) > 0.3).length;
      expect(withCamera / frames.length).toBeGreaterThan(0.6);
    }
    console.log(
      JSON.stringify({
        figure: "recording_continued_after_drain",
        nextPartAfterMs: second.startedAt - termAt,
        firstPartMs: first.durationMs,
        secondPartMs: second.durationMs,
        from: nodeId,
        to: survivor,
      }),
    );
    await teacher.context.close();
    await student.context.close();
  });
});

describe("a recording across the teacher's move, its node killed", () => {
  let browser: Browser;
  let spare: ExtraNode;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await spare?.stop();
  });

  it("kill -9 of the recording's node: the recording goes on where the teacher moved; the restarted node finishes the first part", {
    timeout: 480_000,
  }, async () => {
    const title = "Killed recording";
    const { classId, teacher, student } = await classWithMedia(browser, baseUrl, title, [stackNodeId]);
    // The spare comes only now, so the class is on the stack's node whatever the tie-break between equally placed
    // nodes: the stack's supervisor starts that node again after the kill, and a node that comes back finishes its
    // part from its disk.
    spare = await startExtraNode(baseUrl, "spare-rec-node", "local", 52_000, stackStoreEnv(baseUrl));

    await startRecording(teacher.page);
    const rec = student.page.getByTestId("rec-indicator");
    await rec.waitFor();
    await teacher.page.waitForTimeout(PART_MS);
    const victim = stackNodePid(spare);
    const killedAt = Date.now();
    process.kill(victim, "SIGKILL");
    // The teacher is back on a node (the spare, or the stack's restarted one); REC stayed on for the student.
    await expect.poll(async () => (await nodeOf(teacher.page)) !== null && Date.now() - killedAt > 1_000, { timeout: MEDIA_TIMEOUT_MS }).toBe(true);
    expect(await rec.count()).toBe(1);
    await teacher.page.waitForTimeout(PART_MS);
    const [first, second] = await stopForTwoParts(teacher, classId, rec, PROCESSING_TIMEOUT_MS);
    expect([first.title, second.title]).toEqual([`${title} — Part 1`, `${title} — Part 2`]);
    // The restarted node's note (sfu-node/src/recording/recovery.ts), shown above the player.
    expect(first.failureReason).toBe("Recording ended early: the media server restarted");
    expect(second.startedAt - killedAt).toBeLessThan(CONTINUES_WITHIN_MS);
    expect(first.durationMs!).toBeGreaterThan(PART_MS - 3_000);
    expect(second.durationMs!).toBeGreaterThan(PART_MS - 2_000);
    const main = { x1: FRAME_WIDTH * 0.2, y1: FRAME_HEIGHT * 0.2, x2: FRAME_WIDTH * 0.8, y2: FRAME_HEIGHT * 0.8 };
    for (const part of [first, second]) {
      const frames: Frame[] = await readRecordingFrames(new URL((part.hlsManifestUrl ?? part.dashManifestUrl)!, baseUrl).toString());
      const withCamera = frames.filter((frame) => shareOf(frame, main, greenish) > 0.3).length;
      expect(withCamera / frames.length).toBeGreaterThan(0.6);
    }
    console.log(
      JSON.stringify({
        figure: "recording_continued_after_kill",
        nextPartAfterMs: second.startedAt - killedAt,
        firstPartMs: first.durationMs,
        secondPartMs: second.durationMs,
        to: await nodeOf(teacher.page),
      }),
    );
    await teacher.context.close();
    await student.context.close();
  });
});
