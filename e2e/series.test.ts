/**
 * A teacher's repeating series, in a real browser against the whole stack: a series that ends on a date, the
 * whole series cancelled through its dialog (the enrolled student told once, in the local outbox), and one
 * cancelled session restored.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, newUserContext } from "./lib/browser";
import { newPerson, signInWithSso } from "./lib/sso";

const baseUrl = inject("baseUrl");
const DAY = 24 * 3_600_000;
const TITLE = "Series geography";

/** "YYYY-MM-DDTHH:mm" in UTC, as a datetime-local input takes it (the browser and the form are in UTC). */
function localInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

describe("a teacher managing a repeating series", () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let teacherPage: Page;
  let studentPage: Page;
  let adminPage: Page;
  let classId = "";
  const teacher = newPerson("teacher", "Sam Series");
  const student = newPerson("student", "Stella Student");
  const admin = newPerson("admin", "Ada Admin");
  // Tomorrow 09:00 UTC, weekly, the last on the day three weeks later: four sessions.
  const tomorrow = new Date(Date.now() + DAY);
  const firstStart = Date.UTC(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth(), tomorrow.getUTCDate(), 9, 0);
  const lastDay = localInput(firstStart + 21 * DAY).slice(0, 10);

  async function pageFor(person: typeof teacher, next: string): Promise<Page> {
    const context = await newUserContext(browser, baseUrl);
    contexts.push(context);
    const page = await context.newPage();
    await signInWithSso(page, baseUrl, person, next);
    return page;
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    teacherPage = await pageFor(teacher, "/classes/new");
    studentPage = await pageFor(student, "/");
    adminPage = await pageFor(admin, "/outbox");
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("creates a class and a student enrolls in it", async () => {
    await teacherPage.getByLabel("Title").fill(TITLE);
    await teacherPage.getByRole("button", { name: "Create class" }).click();
    await teacherPage.waitForURL(/\/classes\/[^/]+\/manage/);
    classId = new URL(teacherPage.url()).pathname.split("/")[2]!;

    await studentPage.goto(`/classes/${classId}`);
    await studentPage.getByRole("button", { name: "Enroll", exact: true }).click();
    await studentPage.getByText("Enrolled", { exact: true }).waitFor();
  });

  it("refuses an end date before the first session, at the date", async () => {
    await teacherPage.getByLabel("Repeating series").check();
    await teacherPage.locator("#schedule-start").fill(localInput(firstStart));
    await teacherPage.getByLabel("On", { exact: true }).check();
    await teacherPage.getByLabel("Last day of the series").fill(localInput(firstStart - DAY).slice(0, 10));
    await teacherPage.getByRole("button", { name: "Add sessions" }).click();
    await teacherPage.locator("#schedule-until-error").getByText("The end date is before the first session. Choose a later end date.").waitFor();
    expect(await teacherPage.getByLabel("Last day of the series").getAttribute("aria-invalid")).toBe("true");
    expect(await teacherPage.getByText("No sessions yet.").isVisible()).toBe(true);
  });

  it("adds a weekly series that ends on a date and sees its four sessions, the last on that date", async () => {
    await teacherPage.getByLabel("Last day of the series").fill(lastDay);
    await teacherPage.getByRole("button", { name: "Add sessions" }).click();
    await teacherPage.getByText("4 sessions added.").waitFor();
    const sessions = teacherPage.getByRole("region", { name: "Sessions", exact: true }).locator("li");
    await sessions.nth(3).waitFor();
    expect(await sessions.count()).toBe(4);
    const starts = await sessions.locator("time").evaluateAll((times) => times.map((time) => (time as unknown as { dateTime: string }).dateTime));
    expect(starts).toEqual([0, 7, 14, 21].map((days) => new Date(firstStart + days * DAY).toISOString()));
    await teacherPage.getByText("4 of 4 sessions to come").waitFor();
  });

  it("cancels the whole series through the dialog, and the student is told once", async () => {
    await teacherPage.getByRole("button", { name: "Cancel series" }).click();
    const dialog = teacherPage.getByRole("dialog", { name: "Cancel the whole series?" });
    await dialog.getByText("Cancel the 4 remaining sessions of this series? Enrolled students are told.").waitFor();
    await dialog.getByRole("button", { name: "Cancel 4 sessions" }).click();
    await teacherPage.getByText("4 sessions cancelled. Enrolled students are told.").waitFor();
    await teacherPage.locator(".badge--danger", { hasText: "Cancelled" }).nth(3).waitFor();
    expect(await teacherPage.locator(".badge--danger", { hasText: "Cancelled" }).count()).toBe(4);
    expect(await teacherPage.getByRole("heading", { name: "Repeating series" }).count()).toBe(0);
    expect(await teacherPage.getByRole("button", { name: "Cancel", exact: true }).count()).toBe(0);

    // The queue delivers in the background: look again until the notice is there.
    const notices = adminPage.locator("li", { hasText: student.email }).filter({ hasText: `Cancelled: ${TITLE}` });
    const deadline = Date.now() + 30_000;
    while ((await notices.count()) === 0 && Date.now() < deadline) {
      await adminPage.getByRole("button", { name: "Refresh" }).click();
      await adminPage.waitForTimeout(500);
    }
    await notices.first().getByText(`Cancelled: ${TITLE} (4 sessions)`).waitFor();
    await adminPage.waitForTimeout(1000);
    await adminPage.getByRole("button", { name: "Refresh" }).click();
    await notices.first().waitFor();
    expect(await notices.count()).toBe(1);
  });

  it("restores one cancelled session", async () => {
    await teacherPage.getByRole("button", { name: "Restore" }).first().click();
    const dialog = teacherPage.getByRole("dialog", { name: "Restore this session?" });
    await dialog.getByRole("button", { name: "Restore session" }).click();
    await teacherPage.getByText("Session restored. Enrolled students are told.").waitFor();
    await teacherPage.getByText("1 of 4 sessions to come").waitFor();
    expect(await teacherPage.locator(".badge--danger", { hasText: "Cancelled" }).count()).toBe(3);
    expect(await teacherPage.getByRole("button", { name: "Restore" }).count()).toBe(3);
    expect(await teacherPage.getByRole("button", { name: "Cancel", exact: true }).count()).toBe(1);
  });
});
