/**
 * The recording player's own controls, on a real packaged recording (recorded in a live class the way
 * e2e/recording.test.ts does it, played back through shaka-player from the local store): the quality menu lists
 * the ladder and pins a rendition, the speed menu sets the speed and the next visit keeps it, and the keyboard
 * shortcuts work, but not while typing a comment.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, openPerson, type Person, startRecording } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Long enough to switch renditions twice and hold one for a while before the video ends. */
const RECORD_MS = 20_000;
/** Composing, uploading and packaging a 20-second class on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 240_000;

/** The few browser objects the in-page snippets touch (this project is typed for Node, not the DOM). */
interface PageVideo {
  currentTime: number;
  paused: boolean;
  muted: boolean;
  playbackRate: number;
  videoHeight: number;
  ended: boolean;
}
interface PageWindow {
  document: { querySelector(selector: string): PageVideo | null };
}

/** What the player's video element reports. */
function video(page: Page): Promise<PageVideo> {
  return page.evaluate(() => {
    const element = (globalThis as unknown as PageWindow).document.querySelector('[data-testid="recording-video"]');
    if (!element) throw new Error("no video element");
    const { currentTime, paused, muted, playbackRate, videoHeight, ended } = element;
    return { currentTime, paused, muted, playbackRate, videoHeight, ended };
  });
}

async function waitUntilPlayedPast(page: Page, seconds: number): Promise<void> {
  await expect.poll(async () => (await video(page)).currentTime, { timeout: 30_000, interval: 200 }).toBeGreaterThan(seconds);
}

/** expect.poll for the set-up (vitest allows it only inside tests): polls until `done` holds, or fails with `what`. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, intervalMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s (last: ${JSON.stringify(last)})`);
}

/** Chooses an entry of one of the player's menus (the button named `menu…`, then the item). */
async function choose(page: Page, menu: RegExp, item: string | RegExp): Promise<void> {
  await page.getByRole("button", { name: menu }).click();
  await page.getByRole("menuitemradio", { name: item, exact: true }).click();
}

describe("the recording player", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let recordingUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Pia Player"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Kim Keys"));
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Played physics", startsAt: Date.now() - 60_000 });

    await teacher.page.goto(`/classes/${classId}/live`);
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    const rec = teacher.page.getByTestId("rec-indicator");
    await startRecording(teacher.page);
    await teacher.page.waitForTimeout(RECORD_MS);
    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    await rec.waitFor({ state: "detached" });
    await teacher.page.close();

    await student.page.goto(`/classes/${classId}`);
    const card = student.page.getByTestId("recording-card").first();
    await until(
      "the recording was not ready",
      () => card.getAttribute("data-status"),
      (status) => status === "ready",
      PROCESSING_TIMEOUT_MS,
      500,
    );
    recordingUrl = `/recordings/${await card.getAttribute("data-recording-id")}`;
  }, 400_000);

  afterAll(async () => {
    await browser?.close();
  });

  const openPlayer = async () => {
    await student.page.goto(recordingUrl);
    await student.page.getByTestId("recording-video").waitFor();
  };

  it("lists the ladder's renditions and pins the one chosen until Auto is chosen again", { timeout: 120_000 }, async () => {
    const page = student.page;
    await openPlayer();
    const quality = page.getByRole("button", { name: /^Quality:/ });
    // The menu appears once shaka has read the manifest; Auto is the default.
    await expect.poll(() => quality.getAttribute("aria-label"), { timeout: 30_000 }).toMatch(/^Quality: Auto/);
    await page.getByTestId("player-play").click();
    await waitUntilPlayedPast(page, 0.5);
    await expect.poll(() => quality.textContent(), { timeout: 15_000 }).toMatch(/^Auto \((360|720|1080)p\)$/);

    await quality.click();
    const items = page.getByRole("menu", { name: "Quality" }).getByRole("menuitemradio");
    expect(await items.allTextContents()).toEqual([expect.stringMatching(/^Auto \(\d+p\)$/), "1080p", "720p", "360p"]);
    await expect.poll(() => items.first().getAttribute("aria-checked")).toBe("true");
    await page.keyboard.press("Escape");

    // Pinned: the picture switches to that rendition.
    await choose(page, /^Quality:/, "1080p");
    await expect.poll(async () => (await video(page)).videoHeight, { timeout: 15_000, interval: 200 }).toBe(1080);
    await choose(page, /^Quality:/, "360p");
    await expect.poll(async () => (await video(page)).videoHeight, { timeout: 15_000, interval: 200 }).toBe(360);
    expect(await quality.getAttribute("aria-label")).toBe("Quality: 360p");
    // Adaptive switching is off: on loopback it would climb away from 360p within seconds.
    await page.waitForTimeout(3_000);
    expect(await video(page)).toMatchObject({ ended: false, videoHeight: 360 });

    await choose(page, /^Quality:/, /^Auto/);
    await expect.poll(() => quality.getAttribute("aria-label")).toMatch(/^Quality: Auto \(\d+p\)$/);
  });

  it("plays at the chosen speed and keeps it for the next visit", { timeout: 90_000 }, async () => {
    const page = student.page;
    await openPlayer();
    await page.getByTestId("player-play").click();
    await waitUntilPlayedPast(page, 0.5);
    await choose(page, /^Playback speed:/, "1.5x");
    await expect.poll(async () => (await video(page)).playbackRate).toBe(1.5);
    await expect.poll(() => page.getByTestId("player-speed").textContent()).toBe("1.5x");

    await page.reload();
    await page.getByTestId("recording-video").waitFor();
    await expect.poll(() => page.getByTestId("player-speed").getAttribute("aria-label")).toBe("Playback speed: 1.5x");
    await page.getByTestId("player-play").click();
    await waitUntilPlayedPast(page, 0.5);
    await expect.poll(async () => (await video(page)).playbackRate).toBe(1.5);

    // ">" and "<" step through the same speeds.
    await page.keyboard.press(">");
    await expect.poll(async () => (await video(page)).playbackRate).toBe(1.75);
    await expect.poll(() => page.getByTestId("player-notice").textContent()).toBe("Speed 1.75x");
    await page.keyboard.press("<");
    await page.keyboard.press("<");
    await page.keyboard.press("<");
    await expect.poll(async () => (await video(page)).playbackRate).toBe(1);
  });

  it("answers its keyboard shortcuts, but not keys typed into the comment box", { timeout: 90_000 }, async () => {
    const page = student.page;
    await openPlayer();
    await page.keyboard.press("k");
    await waitUntilPlayedPast(page, 1);
    await page.keyboard.press("k");
    await expect.poll(async () => (await video(page)).paused).toBe(true);

    const before = (await video(page)).currentTime;
    await page.keyboard.press("ArrowRight");
    await expect.poll(async () => (await video(page)).currentTime).toBeCloseTo(before + 5, 0);
    await page.keyboard.press("ArrowLeft");
    await expect.poll(async () => (await video(page)).currentTime).toBeCloseTo(before, 0);

    await page.keyboard.press("m");
    await expect.poll(async () => (await video(page)).muted).toBe(true);
    await page.getByRole("button", { name: "Unmute" }).waitFor();

    // "?" lists the shortcuts; Escape closes the list.
    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await help.getByText("Back or forward 5 seconds").waitFor();
    await page.keyboard.press("Escape");
    await help.waitFor({ state: "detached" });

    // Typing a comment is typing: the letters land in the box and the player stays as it was.
    const state = await video(page);
    const comment = page.getByLabel("Comment (optional)");
    await comment.click();
    await page.keyboard.type("k m l j 5 f? ");
    await page.keyboard.press("ArrowRight");
    expect(await comment.inputValue()).toBe("k m l j 5 f? ");
    const after = await video(page);
    expect(after.paused).toBe(true);
    expect(after.muted).toBe(true);
    expect(after.currentTime).toBeCloseTo(state.currentTime, 1);
    expect(await page.getByRole("dialog", { name: "Keyboard shortcuts" }).count()).toBe(0);
  });
});
