/**
 * A recording whose node is killed and never comes back: a teacher and a student in real Chromium, placed in
 * ap-southeast, record on that region's node; it is killed (kill -9, not restarted). The recording goes on as its
 * second part on the stack's node, where the class moves them. The first part, failed at first, is then finished
 * by the stack's node from the segments the dead node had put in the store (offered in a heartbeat answer once the
 * dead node is silent): both parts end `ready`, and the first plays the teacher's camera up to the kill. A student
 * watching Part 1 reads why it is short and goes on in Part 2 when it ends.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RESCUED_NOTE } from "../sfu-node/src/recording/recovery";
import { launchBrowser } from "./lib/browser";
import { type ExtraNode, stackStoreEnv, startExtraNode } from "./lib/extra-node";
import { createClassWithStudents, openMediaPerson, startRecording } from "./lib/live-class";
import { cameraAt } from "./lib/media-faults";
import { nodeOf, stackNodeOf, stopForTwoParts } from "./lib/media-nodes";
import { FRAME_HEIGHT, FRAME_WIDTH, type Frame, readRecordingFrames, type Rgb, shareOf } from "./lib/recording-frames";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
const MEDIA_TIMEOUT_MS = 30_000;
/** Two closed segments (10 s each) before the kill: what the store has of the first part. */
const FIRST_PART_MS = 25_000;
const SECOND_PART_MS = 8_000;
/**
 * The dead node silent for FLEET_STALE_AFTER_MS (30 s), the next heartbeat of the stack's node (10 s), then
 * composing, uploading and packaging on a busy 2-core machine.
 */
const RESCUED_WITHIN_MS = 300_000;
const REGION = "ap-southeast";

/** Chromium's fake camera is mostly green. */
const greenish = ([r, g, b]: Rgb) => g > r + 40 && g > b + 40;

/** What the recording page's video element reports. */
function videoState(page: Page): Promise<{ paused: boolean; currentTime: number }> {
  return page.locator("video").evaluate((element) => {
    const { paused, currentTime } = element as unknown as { paused: boolean; currentTime: number };
    return { paused, currentTime };
  });
}

describe("a recording whose node is killed and never comes back", () => {
  let browser: Browser;
  let doomed: ExtraNode;

  beforeAll(async () => {
    browser = await launchBrowser();
    doomed = await startExtraNode(baseUrl, "e2e-doomed-rec-node", REGION, 53_000, stackStoreEnv(baseUrl));
  });

  afterAll(async () => {
    await browser?.close();
    await doomed?.stop();
  });

  it("goes on in a second part, and another node finishes the first part from the store", { timeout: 600_000 }, async () => {
    const title = "Lost node recording";
    const teacher = await openMediaPerson(browser, baseUrl, newPerson("teacher", "Rhea Rescued"));
    const student = await openMediaPerson(browser, baseUrl, newPerson("student", "Sol Student"));
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title, startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, student]) {
      await who.page.goto(`/classes/${classId}/live?region=${REGION}`);
      await who.page.getByRole("heading", { name: title, level: 1 }).waitFor();
    }
    await expect
      .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    expect(await nodeOf(teacher.page)).toBe(doomed.nodeId);

    await startRecording(teacher.page);
    const rec = student.page.getByTestId("rec-indicator");
    await rec.waitFor();
    // The student has read the recording notice and put it away.
    const notice = student.page.getByTestId("recording-notice");
    await notice.getByRole("button", { name: "Dismiss" }).click();
    await notice.waitFor({ state: "detached" });
    await teacher.page.waitForTimeout(FIRST_PART_MS);
    const killedAt = Date.now();
    process.kill(doomed.pid, "SIGKILL");
    await doomed.exited;
    // The class moves the teacher to the stack's node, and the recording goes on there; REC stays on.
    await expect.poll(() => nodeOf(teacher.page), { timeout: MEDIA_TIMEOUT_MS }).toBe(stackNodeOf(baseUrl).nodeId);
    expect(await rec.count()).toBe(1);
    await teacher.page.waitForTimeout(SECOND_PART_MS);
    // The recording went on in its second part: for the student it is the same recording, so the notice they
    // dismissed stays away and nothing said it stopped.
    expect(await notice.count()).toBe(0);
    expect(await student.page.getByTestId("recording-stopped").count()).toBe(0);
    // The second part is published by its node; the first, whose node is gone, by the stack's node.
    const [first, second] = await stopForTwoParts(teacher, classId, rec, RESCUED_WITHIN_MS);
    expect([first.title, second.title]).toEqual([`${title} — Part 1`, `${title} — Part 2`]);
    // Shown above the player: why the first part is shorter than the class was before the kill.
    expect(first.failureReason).toBe(RESCUED_NOTE);
    expect(second.failureReason).toBeNull();
    // It holds what the dead node had closed: at most the segment being written (10 s) is missing.
    expect(first.durationMs!).toBeGreaterThan(FIRST_PART_MS - 12_500);
    expect(first.startedAt + first.durationMs!).toBeLessThanOrEqual(killedAt);

    const main = { x1: FRAME_WIDTH * 0.2, y1: FRAME_HEIGHT * 0.2, x2: FRAME_WIDTH * 0.8, y2: FRAME_HEIGHT * 0.8 };
    const frames: Frame[] = await readRecordingFrames(new URL((first.hlsManifestUrl ?? first.dashManifestUrl)!, baseUrl).toString());
    expect(frames.length).toBeGreaterThanOrEqual(2 * ((first.durationMs! - 2_000) / 1000));
    expect(frames.filter((frame) => shareOf(frame, main, greenish) > 0.3).length / frames.length).toBeGreaterThan(0.6);
    console.log(
      JSON.stringify({
        figure: "recording_rescued_after_kill",
        firstPartMs: first.durationMs,
        readyAfterKillMs: Date.now() - killedAt,
        recordedBeforeKillMs: killedAt - first.startedAt,
      }),
    );

    // The student watches Part 1: the page says why it is short and that the class goes on in Part 2; at its end
    // "Up next" counts down and Part 2 plays by itself.
    const page = student.page;
    await page.goto(`/recordings/${first.id}`);
    await page.getByRole("heading", { name: `${title} — Part 1`, level: 1 }).waitFor();
    expect(await page.getByTestId("recording-note").textContent()).toBe(RESCUED_NOTE);
    expect(await page.getByTestId("recording-next").textContent()).toContain(`${title} — Part 2`);
    await page.getByTestId("player-play").click();
    await expect.poll(() => videoState(page), { timeout: MEDIA_TIMEOUT_MS }).toMatchObject({ paused: false });
    await page.locator("video").evaluate((element) => {
      const video = element as unknown as { currentTime: number; duration: number };
      video.currentTime = video.duration - 1.5;
    });
    await page.getByTestId("up-next").waitFor({ timeout: MEDIA_TIMEOUT_MS });
    expect(await page.getByTestId("up-next").textContent()).toContain(`${title} — Part 2`);
    await page.waitForURL(`**/recordings/${second.id}?autoplay=1`, { timeout: MEDIA_TIMEOUT_MS });
    await page.getByRole("heading", { name: `${title} — Part 2`, level: 1 }).waitFor();
    expect(await page.getByTestId("recording-previous").textContent()).toContain(`${title} — Part 1`);
    await expect.poll(async () => (await videoState(page)).currentTime, { timeout: MEDIA_TIMEOUT_MS }).toBeGreaterThan(1);
    await teacher.context.close();
    await student.context.close();
  });
});
