/**
 * Around the class: the teacher records and every student reads the recording notice (also one who enters
 * late); the teacher ends the class, and the students in it — and one who opens the page again — see that it
 * has ended, with its recording, instead of a fresh empty room; the teacher may start a new session. Real
 * Chromium against the whole stack (the sfu-node records).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, openPerson, type Person } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");

async function enter(who: Person, classId: string): Promise<void> {
  await who.page.goto(`/classes/${classId}/live`);
  await who.page.getByTestId("control-bar").waitFor({ timeout: 30_000 });
}

describe("recording notice and the end of the class", () => {
  let browser: Browser;
  let teacher: Person;
  let anna: Person;
  let ben: Person;
  let classId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tess Ender"));
    anna = await openPerson(browser, baseUrl, newPerson("student", "Anna Present"));
    ben = await openPerson(browser, baseUrl, newPerson("student", "Ben Late"));
    classId = await createClassWithStudents(baseUrl, teacher, [anna, ben], { title: "Ending astronomy", startsAt: Date.now() - 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("the teacher starts recording: students read who started it, one who enters late reads it on entering, and everyone learns when it stops", {
    timeout: 120_000,
  }, async () => {
    await enter(teacher, classId);
    await enter(anna, classId);
    // The teacher's camera and microphone go on when they join; the class object must know them to record.
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    const rec = (page: Page) => page.getByTestId("rec-indicator");
    const toggle = teacher.page.getByTestId("recording-toggle");
    await expect
      .poll(
        async () => {
          // Pressed again only when no start is in flight (the button is disabled meanwhile), so it never stops it.
          if ((await rec(teacher.page).count()) === 0 && (await toggle.isEnabled()) && (await toggle.getAttribute("aria-pressed")) === "false")
            await toggle.click();
          return rec(teacher.page).count();
        },
        { timeout: 20_000, interval: 1_000 },
      )
      .toBe(1);

    const annaNotice = anna.page.getByTestId("recording-notice");
    await annaNotice.getByText("This class is being recorded").waitFor();
    await annaNotice.getByText(/^Tess Ender started recording at \d/).waitFor();
    await teacher.page
      .getByTestId("recording-notice")
      .getByText(/^You started recording/)
      .waitFor();

    await enter(ben, classId);
    await ben.page.getByTestId("recording-notice").getByText("This class is being recorded").waitFor();

    await annaNotice.getByRole("button", { name: "Dismiss" }).click();
    await annaNotice.waitFor({ state: "detached" });
    expect(await rec(anna.page).count()).toBe(1);

    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    for (const who of [anna, ben]) {
      await who.page.getByTestId("recording-stopped").getByText("Recording stopped").waitFor();
      expect(await who.page.getByTestId("recording-notice").count()).toBe(0);
    }
  });

  it("the teacher ends the class: students in it and a student who comes back see that it has ended; the teacher may start a new session", {
    timeout: 120_000,
  }, async () => {
    teacher.page.once("dialog", (dialog) => void dialog.accept());
    await teacher.page.getByRole("button", { name: "End class" }).click();

    for (const who of [anna, ben]) {
      const ended = who.page.getByTestId("class-ended");
      await ended.getByRole("heading", { name: "This class has ended" }).waitFor();
      await ended.getByText(/^Ended at /).waitFor();
      expect(await who.page.getByTestId("control-bar").count()).toBe(0);
    }

    // Coming back during the slot: the same page, not a fresh empty class; with the recording made in it.
    await ben.page.goto(`/classes/${classId}/live`);
    const again = ben.page.getByTestId("class-ended");
    await again.getByRole("heading", { name: "This class has ended" }).waitFor();
    await again
      .getByText("The recording is being prepared.", { exact: false })
      .or(again.getByRole("link", { name: "Watch the recording" }))
      .waitFor();
    expect(await again.getByRole("button", { name: "Start a new session" }).count()).toBe(0);
    expect(await ben.page.getByTestId("control-bar").count()).toBe(0);

    const teacherEnded = teacher.page.getByTestId("class-ended");
    await teacherEnded.getByRole("heading", { name: "This class has ended" }).waitFor();
    await teacherEnded.getByRole("button", { name: "Start a new session" }).click();
    await teacher.page.getByTestId("control-bar").waitFor({ timeout: 30_000 });

    // A new session lets students in again.
    await expect
      .poll(
        async () => {
          await ben.page.goto(`/classes/${classId}/live`);
          await ben.page.getByTestId("control-bar").or(ben.page.getByTestId("class-ended")).waitFor({ timeout: 30_000 });
          return ben.page.getByTestId("control-bar").count();
        },
        { timeout: 30_000, interval: 2_000 },
      )
      .toBe(1);
  });
});
