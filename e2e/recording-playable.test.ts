/**
 * A recording is watchable seconds after the stop, before its ladder is ready: the recording page plays the
 * playlist of the pieces composed while the class was recorded (sfu-node/src/recording/pieces.ts), with a note
 * that the other qualities are still being prepared.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, openPerson, type Person, startRecording } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
const RECORD_MS = 12_000;

interface PageVideo {
  currentTime: number;
  videoHeight: number;
}
interface PageWindow {
  document: { querySelector(selector: string): PageVideo | null };
}

describe("a recording before its ladder is ready", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Rita Ready"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Sam Soon"));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Quick chemistry", startsAt: Date.now() - 60_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("plays on the recording page seconds after the stop, saying other qualities are being prepared, then hands over to the ladder where the viewer is", {
    timeout: 300_000,
  }, async () => {
    await teacher.page.goto(`/classes/${classId}/live`);
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    await startRecording(teacher.page);
    await teacher.page.waitForTimeout(RECORD_MS);
    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    await teacher.page.getByTestId("rec-indicator").waitFor({ state: "detached" });
    const stoppedAt = Date.now();

    await student.page.goto(`/classes/${classId}`);
    const card = student.page.getByTestId("recording-card").first();
    await card.waitFor({ timeout: 30_000 });
    await student.page.goto(`/recordings/${await card.getAttribute("data-recording-id")}`);
    const page = student.page;
    // The page polls while the recording is processed: the note and the player come with the playable form.
    await page.getByTestId("recording-playable-note").waitFor({ timeout: 120_000 });
    const playableAfterMs = Date.now() - stoppedAt;
    expect(await page.getByTestId("recording-playable-note").textContent()).toContain("Playing the recording while other qualities are prepared");
    await page.getByTestId("player-play").click();
    const playing = () =>
      page.evaluate(() => {
        const element = (globalThis as unknown as PageWindow).document.querySelector('[data-testid="recording-video"]');
        return element ? { currentTime: element.currentTime, videoHeight: element.videoHeight } : null;
      });
    await expect.poll(async () => (await playing())?.currentTime ?? 0, { timeout: 30_000, interval: 200 }).toBeGreaterThan(2);
    expect((await playing())?.videoHeight).toBe(720);
    process.stdout.write(`playable on the page ${(playableAfterMs / 1000).toFixed(1)} s after the stop\n`);

    // The viewer pauses; when the ladder is ready the player takes it over at the same moment, with its qualities.
    await page.getByTestId("player-play").click();
    const pausedAt = (await playing())!.currentTime;
    await page.getByTestId("recording-playable-note").waitFor({ state: "detached", timeout: 240_000 });
    const quality = page.getByRole("button", { name: /^Quality:/ });
    await expect.poll(() => quality.getAttribute("aria-label"), { timeout: 30_000 }).toMatch(/^Quality: Auto/);
    await quality.click();
    const items = page.getByRole("menu", { name: "Quality" }).getByRole("menuitemradio");
    // The playable form has one quality (720p); the ladder has its three.
    await expect
      .poll(async () => (await items.allTextContents()).filter((label) => /^\d+p$/.test(label.trim())).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(3);
    await page.keyboard.press("Escape");
    expect(Math.abs((await playing())!.currentTime - pausedAt)).toBeLessThan(0.5);
  });
});
