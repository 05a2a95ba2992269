/**
 * Before the class: a student who opens the live page early waits in the lobby (the class, its start, a
 * countdown) and is let in by itself when the room opens, without a reload; a teacher may start early from the
 * lobby; the device check shows the camera and a moving microphone level. Real Chromium with a fake camera and
 * microphone against the whole stack.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, openPerson, type Person } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Students may enter 15 minutes before the start. */
const OPENS_BEFORE_MS = 15 * 60_000;
/** How far away the opening is when the test starts: long enough to see the lobby, short enough to wait for. */
const OPENS_IN_MS = 25_000;

/** The in-page objects the checks read (this project is typed for Node, not the DOM). */
interface PageVideo {
  paused: boolean;
  readyState: number;
  videoWidth: number;
}
interface PageWindow {
  document: { querySelector(selector: string): PageVideo | null };
  __lobbyPageMarker?: number;
}

describe("the lobby and the device check", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;
  let opensAt: number;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Lena Lobby"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Otto Early"));
    opensAt = Date.now() + OPENS_IN_MS;
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Early geology", startsAt: opensAt + OPENS_BEFORE_MS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("a student who comes early sees the class, its start and a countdown, and is let in when the room opens", { timeout: 90_000 }, async () => {
    const page = student.page;
    await page.goto(`/classes/${classId}/live`);
    const lobby = page.getByTestId("lobby");
    await lobby.getByRole("heading", { name: "Early geology", level: 1 }).waitFor();
    // Its start, in the student's zone (UTC in these contexts) and the browser's locale.
    await lobby.getByText("UTC (UTC)").waitFor();
    const countdown = page.getByTestId("lobby-countdown");
    expect(await countdown.textContent()).toMatch(/^Opens in 0:[0-2]\d$/);
    const first = await countdown.textContent();
    await expect.poll(() => countdown.textContent(), { timeout: 5_000 }).not.toBe(first);
    expect(await page.getByTestId("control-bar").count()).toBe(0);
    await page.evaluate(() => {
      (globalThis as unknown as PageWindow).__lobbyPageMarker = 1;
    });

    // The room opens: the page joins by itself (a few seconds of jitter after the opening at most).
    await page.getByTestId("control-bar").waitFor({ timeout: OPENS_IN_MS + 20_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(opensAt);
    await page.getByRole("heading", { name: "Early geology", level: 1 }).waitFor();
    expect(await page.getByTestId("lobby").count()).toBe(0);
    // Same page, no reload.
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__lobbyPageMarker)).toBe(1);
  });

  it("the device check shows the camera playing and a microphone level that moves", { timeout: 60_000 }, async () => {
    const page = student.page;
    await page.getByRole("button", { name: "Check devices" }).click();
    const dialog = page.getByRole("dialog", { name: "Check your devices" });
    await dialog.waitFor();
    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const video = (globalThis as unknown as PageWindow).document.querySelector('[data-testid="camera-preview"]');
            return video !== null && !video.paused && video.readyState >= 2 && video.videoWidth > 0;
          }),
        { timeout: 15_000 },
      )
      .toBe(true);
    await dialog.getByRole("combobox", { name: "Camera" }).waitFor();
    await dialog.getByRole("combobox", { name: "Microphone" }).waitFor();

    // Chromium's fake microphone beeps: the level rises and falls.
    const meter = dialog.getByRole("meter", { name: "Microphone level" });
    const levels = new Set<number>();
    for (let i = 0; i < 30; i += 1) {
      levels.add(Number(await meter.getAttribute("aria-valuenow")));
      await page.waitForTimeout(100);
    }
    expect(Math.max(...levels)).toBeGreaterThan(20);
    expect(levels.size).toBeGreaterThan(2);

    await dialog.getByRole("button", { name: "Play a test sound" }).click();
    await dialog.getByRole("button", { name: "Playing…" }).waitFor();
    await dialog.getByRole("button", { name: "Play a test sound" }).waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    // The camera the check held is released with it.
    expect(await page.getByTestId("camera-preview").count()).toBe(0);
  });

  it("the teacher, in the lobby before students may come, can start the class now", async () => {
    const other = await createClassWithStudents(baseUrl, teacher, [], { title: "Later geology", startsAt: Date.now() + 2 * 3_600_000 });
    const page = teacher.page;
    await page.goto(`/classes/${other}/live`);
    const lobby = page.getByTestId("lobby");
    await lobby.getByText(/^Opens for students in 1:4\d:\d\d$/).waitFor();
    await lobby.getByText("You can open the room any time.", { exact: false }).waitFor();
    await lobby.getByRole("button", { name: "Start class now" }).click();
    await page.getByTestId("control-bar").waitFor();
  });
});
