/**
 * The live classroom as one screen: a teacher and a student, two real Chromium contexts (fake camera and
 * microphone) against the whole stack started as `npm start` starts it. What is checked is what a person sees:
 * the picture, the chat box and the controls in the window without scrolling, the picture first on a phone, a
 * panel that folds away and comes back, the keyboard shortcuts, and the camera picker.
 */
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, type IdentifiedPerson, openIdentifiedPerson } from "./lib/live-class";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 20_000;
const DESKTOP = { width: 1280, height: 720 };
const PHONE = { width: 390, height: 844 };

/** How far the page itself could scroll, and the window's height. */
function pageScroll(page: Page): Promise<{ scrollHeight: number; innerHeight: number }> {
  return page.evaluate(() => {
    const window = globalThis as unknown as { innerHeight: number; document: { scrollingElement: { scrollHeight: number } } };
    return { scrollHeight: window.document.scrollingElement.scrollHeight, innerHeight: window.innerHeight };
  });
}

/** Whether the element lies wholly inside the window (as it is scrolled now). */
async function inViewport(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const size = page.viewportSize()!;
  return (
    box !== null && box.width > 0 && box.height > 0 && box.x >= 0 && box.y >= 0 && box.x + box.width <= size.width + 1 && box.y + box.height <= size.height + 1
  );
}

describe("the live classroom fits one screen", () => {
  let browser: Browser;
  let teacher: IdentifiedPerson;
  let student: IdentifiedPerson;

  const open = async (person: SsoPerson): Promise<IdentifiedPerson> => {
    const who = await openIdentifiedPerson(browser, baseUrl, person);
    await who.page.setViewportSize(DESKTOP);
    return who;
  };

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await open(newPerson("teacher", "Lena Teacher"));
    student = await open(newPerson("student", "Omar Student"));
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "One-screen biology", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "One-screen biology");
    // Both see the teacher's camera before anything is measured: the layout is then the one of a running class.
    await teacher.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-video="live"]`).waitFor({ timeout: MEDIA_TIMEOUT_MS });
    await student.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-video="live"]`).waitFor({ timeout: MEDIA_TIMEOUT_MS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("at 1280×720 the picture, the chat box and the controls are all in view, and the page does not scroll", async () => {
    for (const who of [teacher, student]) {
      const { scrollHeight, innerHeight } = await pageScroll(who.page);
      expect(scrollHeight).toBeLessThanOrEqual(innerHeight + 1);
      const mainTile = who.page.getByTestId("main-picture").locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"]`);
      expect(await inViewport(who.page, mainTile)).toBe(true);
      // The main picture is the big one: at least half the window's width.
      expect((await mainTile.boundingBox())!.width).toBeGreaterThan(DESKTOP.width / 2);
      expect(await inViewport(who.page, who.page.getByLabel("Message"))).toBe(true);
      expect(await inViewport(who.page, who.page.getByRole("toolbar", { name: "Class controls" }))).toBe(true);
    }
  });

  it("the side panel folds away, giving the picture its room, and comes back", async () => {
    const page = student.page;
    const mainBefore = (await page.getByTestId("main-picture").boundingBox())!;
    await page.getByRole("button", { name: "Hide panel" }).click();
    await page.getByLabel("Message").waitFor({ state: "hidden" });
    await expect.poll(async () => (await page.getByTestId("main-picture").boundingBox())!.width).toBeGreaterThan(mainBefore.width);
    await page.getByRole("button", { name: "Show panel" }).click();
    await page.getByLabel("Message").waitFor();
    expect(await inViewport(page, page.getByLabel("Message"))).toBe(true);
  });

  it("a chat draft survives a look at another tab", async () => {
    const page = student.page;
    await page.getByLabel("Message").fill("half a thought");
    await page.getByRole("tab", { name: /^People/ }).click();
    await page.getByTestId("participants").getByText("Lena Teacher").waitFor();
    await page.getByRole("tab", { name: /^Chat/ }).click();
    expect(await page.getByLabel("Message").inputValue()).toBe("half a thought");
    await page.getByLabel("Message").fill("");
  });

  it("M mutes and unmutes the teacher's microphone, and the student sees it", async () => {
    // Focus on the page, not in a field: M typed into the chat is just a letter.
    await teacher.page.getByRole("heading", { level: 1 }).click();
    await teacher.page.keyboard.press("m");
    await teacher.page.getByRole("button", { name: "Unmute microphone" }).waitFor();
    await student.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-audio="muted"]`).waitFor();
    await teacher.page.keyboard.press("m");
    await teacher.page.getByRole("button", { name: "Mute microphone" }).waitFor();
    await student.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-audio="live"]`).waitFor();

    await teacher.page.getByLabel("Message").fill("m");
    await teacher.page.getByLabel("Message").press("m");
    expect(await teacher.page.getByRole("button", { name: "Mute microphone" }).count()).toBe(1);
    await teacher.page.getByLabel("Message").fill("");
  });

  it("H raises the student's hand and the teacher sees it under Hands; H again lowers it", async () => {
    await student.page.getByRole("heading", { level: 1 }).click();
    await student.page.keyboard.press("h");
    await student.page.getByRole("button", { name: "Lower hand" }).waitFor();
    await teacher.page.getByRole("tab", { name: /^Hands/ }).click();
    await teacher.page.getByTestId("hands-panel").getByText("Omar Student").waitFor();
    await student.page.keyboard.press("h");
    await student.page.getByRole("button", { name: "✋ Raise hand" }).waitFor();
    await teacher.page.getByTestId("hands-panel").getByText("Omar Student").waitFor({ state: "detached" });
    await teacher.page.getByRole("tab", { name: /^Chat/ }).click();
  });

  it("a board the teacher shows becomes the main picture, in view for both, still without page scroll", async () => {
    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByRole("button", { name: "New blank page" }).click();
    for (const who of [teacher, student]) {
      await who.page.getByTestId("main-picture").getByTestId("board").waitFor();
      await expect.poll(async () => inViewport(who.page, who.page.getByTestId("board-shapes"))).toBe(true);
      const { scrollHeight, innerHeight } = await pageScroll(who.page);
      expect(scrollHeight).toBeLessThanOrEqual(innerHeight + 1);
      // The teacher's camera moved to the strip and is still in view.
      expect(await inViewport(who.page, who.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"]`))).toBe(true);
    }
    await teacher.page.getByRole("button", { name: "Hide board" }).click();
    await student.page.getByTestId("board").waitFor({ state: "detached" });
    await teacher.page.getByRole("tab", { name: /^Chat/ }).click();
  });

  it("the camera picker lists the browser's camera", async () => {
    const picker = teacher.page.getByRole("combobox", { name: "Camera" });
    await picker.waitFor();
    const labels = await picker.locator("option").allTextContents();
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.some((label) => /fake/i.test(label))).toBe(true);
  });

  it("the main area has a fullscreen button", async () => {
    await teacher.page.getByTestId("main-picture").getByRole("button", { name: "Fullscreen" }).waitFor();
  });

  it("on a phone the picture comes first, in view, and the panel's tabs below it", async () => {
    for (const who of [teacher, student]) {
      await who.page.setViewportSize(PHONE);
      await who.page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      const main = who.page.getByTestId("main-picture");
      await expect.poll(() => inViewport(who.page, main)).toBe(true);
      const mainBox = (await main.boundingBox())!;
      const tabsBox = (await who.page.getByRole("tablist", { name: "Class panel" }).boundingBox())!;
      expect(mainBox.y + mainBox.height).toBeLessThanOrEqual(tabsBox.y);
      // Nothing but the classroom's slim head above the picture.
      expect(mainBox.y).toBeLessThan(80);
      await who.page.setViewportSize(DESKTOP);
    }
  });
});
