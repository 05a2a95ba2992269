/**
 * A teacher's forms and times, in a real browser against the whole stack: errors at their fields in plain words,
 * a question before a session in the past, "Start class now" ahead of the students' window, and one way of
 * writing times on every page and in the calendar.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, UI_TIMEOUT_MS } from "./lib/browser";
import { newPerson, signInWithSso } from "./lib/sso";

const baseUrl = inject("baseUrl");
const DAY = 24 * 3_600_000;

/** "YYYY-MM-DDTHH:mm" in UTC, as a datetime-local input takes it (the browser and the form are in UTC). */
function localInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/** The element lies inside the window as first shown (the page itself not scrolled). */
async function expectOnScreen(page: Page, element: ReturnType<Page["locator"]>, windowHeight: number): Promise<void> {
  await element.waitFor();
  await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
  const box = await element.boundingBox();
  expect(box!.y).toBeGreaterThanOrEqual(0);
  expect(box!.y + box!.height).toBeLessThanOrEqual(windowHeight);
}

describe("a teacher filling in forms", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let classId = "";
  const teacher = newPerson("teacher", "Tess Teacher");
  // Tomorrow 14:00–15:30 UTC: far enough ahead that students cannot enter yet, at a time whose 12-hour form shows.
  const tomorrow = new Date(Date.now() + DAY);
  const upcomingStart = Date.UTC(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth(), tomorrow.getUTCDate(), 14, 0);

  beforeAll(async () => {
    browser = await launchBrowser();
    // en-US writes times in 12 hours, where the old mix ('10:00am', '10:00 AM', '10:00') showed.
    context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 800 }, timezoneId: "UTC", locale: "en-US" });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    page = await context.newPage();
    await signInWithSso(page, baseUrl, teacher, "/classes/new");
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("says at the title, in plain words, that it is missing, and keeps what was typed", async () => {
    await page.getByLabel("Title").fill("   ");
    await page.getByLabel("Description").fill("Acids and bases");
    await page.getByRole("button", { name: "Create class" }).click();

    const title = page.getByLabel("Title");
    await page.getByText("Give the class a title.").waitFor();
    expect(await title.getAttribute("aria-invalid")).toBe("true");
    expect(await title.getAttribute("aria-describedby")).toContain("class-title-error");
    expect(await page.locator("#class-title-error").textContent()).toBe("Give the class a title.");
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe(
      "class-title",
    );
    expect(await page.getByLabel("Description").inputValue()).toBe("Acids and bases");
    expect(await page.locator("body").textContent()).not.toMatch(/title: |Invalid length/);
    // The limit is said before it is reached.
    expect(await page.locator("#class-title-hint").textContent()).toBe("3 of 200 characters");

    await title.fill("Forms chemistry");
    expect(await title.getAttribute("aria-invalid")).toBe("false");
    await page.getByRole("button", { name: "Create class" }).click();
    await page.waitForURL(/\/classes\/[^/]+\/manage/);
    classId = new URL(page.url()).pathname.split("/")[2]!;
  });

  it("says at the count how many sessions a series may have", async () => {
    await page.getByLabel("Repeating series").check();
    await page.locator("#schedule-start").fill(localInput(upcomingStart + 7 * DAY));
    await page.getByLabel("Number of sessions").fill("101");
    await page.getByRole("button", { name: /^Add .*sessions$/ }).click();
    await page.getByText("A series has at most 100 sessions; add another series for more.").waitFor();
    expect(await page.getByLabel("Number of sessions").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Number of sessions").inputValue()).toBe("101");
    expect(await page.getByText("No sessions yet.").isVisible()).toBe(true);
    await page.getByLabel("One session").check();
  });

  it("says when the chosen time does not exist or happens twice in the zone (clock changes)", async () => {
    const zone = page.locator("#schedule-zone");
    const teacherZone = await zone.inputValue();
    await zone.selectOption("America/New_York");
    const start = page.locator("#schedule-start");
    await start.fill("2027-03-14T02:30");
    await page.getByText("02:30 does not exist on that day in America/New_York: the clocks jump forward. The session will start at 3:30").waitFor();
    await start.fill("2027-11-07T01:30");
    await page.getByText("01:30 happens twice on that day in America/New_York: the clocks go back.").waitFor();
    await start.fill("2027-11-08T01:30");
    await page.locator(".field__hint", { hasText: "clocks" }).waitFor({ state: "detached" });
    await zone.selectOption(teacherZone);
  });

  it("asks before adding a session five days in the past, and adds it only when confirmed", async () => {
    const start = page.locator("#schedule-start");
    await start.fill(localInput(Date.now() - 5 * DAY));
    await page.getByRole("button", { name: "Add session" }).click();
    const dialog = page.getByRole("dialog", { name: "This start time has passed" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Change the time" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(await page.getByText("No sessions yet.").isVisible()).toBe(true);
    expect(await start.inputValue()).not.toBe("");

    await page.getByRole("button", { name: "Add session" }).click();
    await dialog.getByRole("button", { name: "Add past session" }).click();
    await page.getByText("Session added.").waitFor();
    await page.locator(".badge", { hasText: "Past" }).waitFor();
  });

  it("offers 'Start class now' before the students' window opens, and says when that is", async () => {
    await page.locator("#schedule-start").fill(localInput(upcomingStart));
    await page.getByLabel("Duration (minutes)").fill("90");
    await page.getByRole("button", { name: "Add session" }).click();
    await page.getByText("Session added.").first().waitFor();

    await page.goto("/");
    const card = page.locator(".class-card", { hasText: "Forms chemistry" });
    await card.getByText("Students can enter from 1:45 PM (15 minutes before the start) until the end.").waitFor();
    await card.getByRole("link", { name: "Start class now" }).click();
    await page.waitForURL((url) => url.pathname === `/classes/${classId}/live`);
  });

  it("writes times one way on the dashboard, the class page and the calendar", async () => {
    await page.goto("/");
    const card = page.locator(".class-card", { hasText: "Forms chemistry" });
    await card.locator("time").waitFor();
    expect(await card.locator("time").textContent()).toMatch(/, 2:00 PM – 3:30 PM$/);

    await page.goto(`/classes/${classId}`);
    await page.getByRole("heading", { name: "Forms chemistry", level: 1 }).waitFor();
    const times = await page.locator("main time").allTextContents();
    expect(
      times.some((text) => text.endsWith(", 2:00 PM – 3:30 PM")),
      times.join(" | "),
    ).toBe(true);
    for (const text of times) expect(text, times.join(" | ")).toMatch(/\d{1,2}:\d{2} [AP]M – .*\d{1,2}:\d{2} [AP]M$/);

    await page.goto("/calendar");
    await page.getByRole("button", { name: "Week", exact: true }).click();
    const event = page.locator(".fc-timegrid-event", { hasText: "Forms chemistry" });
    // On a Sunday, tomorrow is next week.
    if ((await event.count()) === 0) await page.getByRole("button", { name: /^Next/ }).click();
    await event.waitFor();
    expect(await event.locator(".fc-event-time").textContent()).toBe("2:00 PM – 3:30 PM");
    for (const label of await page.locator(".fc-timegrid-slot-label-cushion").allTextContents()) {
      if (label) expect(label).toMatch(/^\d{1,2}:00 [AP]M$/);
    }
    // The grid opens at the class, not at midnight: it is on screen without scrolling.
    await expectOnScreen(page, event, 800);
  });

  it("fits the time grid on a phone: three days, headers that do not overlap, scrolled to the class", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/calendar");
    await page.getByRole("button", { name: "3 days" }).click();
    const headers = page.locator(".fc-col-header-cell-cushion");
    await headers.first().waitFor();
    expect(await headers.count()).toBe(3);
    for (const overflow of await headers.evaluateAll((cells) => cells.map((cell) => cell.scrollWidth - cell.parentElement!.clientWidth))) {
      expect(overflow).toBeLessThanOrEqual(0);
    }
    await expectOnScreen(page, page.locator(".fc-timegrid-event", { hasText: "Forms chemistry" }), 844);
    const grid = await page.locator(".calendar-host").boundingBox();
    expect(grid!.x + grid!.width).toBeLessThanOrEqual(390);
  });
});
