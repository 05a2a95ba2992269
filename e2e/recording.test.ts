/**
 * Recording a class in the browser, end to end: a teacher with a (fake) camera and microphone records ten
 * seconds of a live class from the web app, a student in the class sees the REC badge; after the stop the class
 * page shows the recording's progress until it is ready; then it plays in the app's player (time advances and
 * frames are decoded), shows thumbnail previews while seeking, and the student rates it. The whole stack runs
 * as `npm start` starts it: Worker, class object, sfu-node with the recorder, local S3 and FFmpeg packaging.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person, startRecording } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
const RECORD_MS = 10_000;
/** Composing, uploading and packaging a 10-second class on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 180_000;

/** The few browser objects the in-page snippet touches (this project is typed for Node, not the DOM). */
interface PageVideo {
  currentTime: number;
  paused: boolean;
  readyState: number;
  videoHeight: number;
  buffered: { length: number; start(index: number): number; end(index: number): number };
  getVideoPlaybackQuality(): { totalVideoFrames: number };
}
interface PageWindow {
  document: { querySelector(selector: string): (PageVideo & { textContent: string | null }) | null };
}

/** What the player's video element reports: its position, decoded frames, and enough state to tell why it stalls. */
function playback(page: Page) {
  return page.evaluate(() => {
    const { document } = globalThis as unknown as PageWindow;
    const video = document.querySelector('[data-testid="recording-video"]');
    if (!video) return null;
    const buffered = Array.from({ length: video.buffered.length }, (_, i) => `${video.buffered.start(i).toFixed(1)}-${video.buffered.end(i).toFixed(1)}`).join(
      ",",
    );
    return {
      currentTime: video.currentTime,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
      paused: video.paused,
      readyState: video.readyState,
      height: video.videoHeight,
      buffered,
      message: document.querySelector(".player [role=alert]")?.textContent ?? null,
    };
  });
}

/** Waits until the video has played past `seconds`; fails with what the player showed last. */
async function waitForPlayback(page: Page, seconds: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Awaited<ReturnType<typeof playback>> = null;
  while (Date.now() < deadline) {
    last = await playback(page);
    if (last && last.currentTime > seconds) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`the recording did not play past ${seconds} s within ${timeoutMs / 1000} s; the player showed ${JSON.stringify(last)}`);
}

describe("recording a class", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Rita Recorder"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Sam Viewer"));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Recorded physics", startsAt: Date.now() - 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("records 10 seconds, shows progress until ready, and plays back with thumbnails and a rating", { timeout: 360_000 }, async () => {
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Recorded physics");
    // The teacher's camera and microphone go on when they join.
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    await student.page.locator('[data-testid="media-tile"][data-source="video"]').first().waitFor({ timeout: 30_000 });

    const rec = (page: Page) => page.getByTestId("rec-indicator");
    await startRecording(teacher.page);
    await rec(student.page).waitFor();
    expect(await student.page.getByTestId("recording-toggle").count()).toBe(0);

    await teacher.page.waitForTimeout(RECORD_MS);
    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    await rec(teacher.page).waitFor({ state: "detached" });
    await rec(student.page).waitFor({ state: "detached" });

    // The class page shows the recording's progress live, then the finished recording.
    await student.page.goto(`/classes/${classId}`);
    const card = student.page.getByTestId("recording-card").first();
    await card.waitFor();
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          const status = (await card.getAttribute("data-status")) ?? "";
          seen.add(status);
          return status;
        },
        { timeout: PROCESSING_TIMEOUT_MS, interval: 300 },
      )
      .toBe("ready");
    expect([...seen].some((status) => ["composing", "uploading", "packaging"].includes(status))).toBe(true);
    await expect.poll(() => card.locator("img").getAttribute("src")).toMatch(/poster/);
    const duration = (await card.locator(".recording-card__duration").textContent()) ?? "";
    const [minutes, seconds] = duration.split(":").map(Number);
    expect(minutes! * 60 + seconds!).toBeGreaterThanOrEqual(9);
    expect(minutes! * 60 + seconds!).toBeLessThanOrEqual(14);

    // It plays: time advances and frames are decoded.
    await card.getByRole("link").click();
    await student.page.getByTestId("recording-video").waitFor();
    await student.page.getByTestId("player-play").click();
    await waitForPlayback(student.page, 2, 30_000);
    expect((await playback(student.page))!.frames).toBeGreaterThan(0);

    // Hovering the seek bar previews that moment from the thumbnail sprite.
    const seek = student.page.getByRole("slider", { name: "Seek" });
    const box = (await seek.boundingBox())!;
    await student.page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const preview = student.page.getByTestId("thumbnail-preview");
    await preview.waitFor();
    await expect.poll(() => preview.locator(".player__preview-image").getAttribute("style")).toMatch(/background-image: url\(".*sprite[^"]*"\)/);
    // Another moment shows another region of the sprite.
    const regionAt = () =>
      preview.locator(".player__preview-image").evaluate((element) => (element as { style: { backgroundPosition: string } }).style.backgroundPosition);
    const later = await regionAt();
    await student.page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
    await expect.poll(regionAt).not.toBe(later);

    // The student rates it; the rating shows on the page.
    await student.page.getByRole("radio", { name: "4 stars" }).check({ force: true });
    await student.page.getByRole("button", { name: "Submit rating" }).click();
    await student.page.getByText("Thank you — your rating is saved.").waitFor();

    // Recorded lectures appear in the catalog.
    await student.page.goto("/classes");
    await student.page.getByRole("list", { name: "Recorded lectures" }).getByText("Recorded physics").first().waitFor();
  });
});
