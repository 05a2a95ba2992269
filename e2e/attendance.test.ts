/**
 * After class, as the teacher sees it: a live class with two students (browserless class-channel clients, the
 * frames the app sends) is held and ended; the teacher opens the attendance report on the class's manage page,
 * sees both students with their times (and Ana's raised hand), and downloads the CSV. A student sees only their own line.
 */
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AttendanceSessionsResponseSchema, SessionAttendanceResponseSchema } from "../schema/api/attendance";
import { launchBrowser, newUserContext } from "./lib/browser";
import { type Account, api, ClassChannel, openClass, signIn } from "./lib/class-channel";
import { signInWithSso } from "./lib/sso";

const baseUrl = inject("baseUrl");

describe("the attendance report after a class", () => {
  let browser: Browser;
  let teacher: Account;
  let ana: Account;
  let ben: Account;
  let classId: string;

  beforeAll(async () => {
    [teacher, ana, ben] = await Promise.all([
      signIn(baseUrl, "teacher", "Tara Teacher"),
      signIn(baseUrl, "student", "Ana Attendee"),
      signIn(baseUrl, "student", "Ben Attendee"),
    ]);
    classId = await openClass(baseUrl, teacher, [ana, ben]);
    const teacherChannel = await ClassChannel.join(baseUrl, teacher, classId);
    const anaChannel = await ClassChannel.join(baseUrl, ana, classId);
    const benChannel = await ClassChannel.join(baseUrl, ben, classId);
    await anaChannel.request("chat.send", { clientMessageId: "hello", body: "Hello from Ana" });
    await anaChannel.request("hand.raise", {});
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await teacherChannel.request("session.end", {});
    for (const channel of [teacherChannel, anaChannel, benChannel]) channel.close();
    // The class object ships attendance to D1 a moment after it changes: wait until the report has everyone's leave.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { sessions } = await api(baseUrl, teacher, "GET", `/api/classes/${classId}/sessions`, AttendanceSessionsResponseSchema);
      const report =
        sessions[0] && (await api(baseUrl, teacher, "GET", `/api/classes/${classId}/sessions/${sessions[0].id}/attendance`, SessionAttendanceResponseSchema));
      if (report && report.session.endedAt !== null && report.lines.length === 3 && report.lines.every((l) => l.lastLeaveAt !== null)) break;
      if (Date.now() > deadline) throw new Error(`attendance did not reach D1: ${JSON.stringify(report)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function pageAs(account: Account, path: string): Promise<Page> {
    const context = await newUserContext(browser, baseUrl);
    const page = await context.newPage();
    await signInWithSso(page, baseUrl, account.person, path);
    return page;
  }

  it("the teacher sees both students with their times and downloads the CSV", async () => {
    const page = await pageAs(teacher, `/classes/${classId}/manage`);
    await page.getByRole("tab", { name: "Attendance" }).click();
    const overview = page.getByTestId("class-attendance-table");
    for (const name of ["Ana Attendee", "Ben Attendee"]) {
      await overview
        .getByRole("row", { name: new RegExp(name) })
        .getByText("1 of 1")
        .waitFor();
    }

    await page.getByRole("button", { name: "Show report" }).click();
    const table = page.getByTestId("attendance-table");
    await table.waitFor();
    const row = (name: string) => table.getByRole("row", { name: new RegExp(name) });
    for (const name of ["Tara Teacher", "Ana Attendee", "Ben Attendee"]) await row(name).waitFor();
    // First joined and last left as times of day (en-GB, UTC in this browser), then the time present and the share.
    const anaCells = await row("Ana Attendee").getByRole("cell").allTextContents();
    expect(anaCells[0]).toBe("Student");
    expect(anaCells[1]).toMatch(/^\d{1,2}:\d{2}$/);
    expect(anaCells[2]).toMatch(/^\d{1,2}:\d{2} \(session ended\)$/);
    expect(anaCells[3]).toMatch(/^(under a minute|\d+ min)$/);
    expect(anaCells[4]).toMatch(/^\d+%$/);
    // Chat messages, poll answers, hands raised, reactions, time on stage.
    expect(anaCells.slice(5)).toEqual(["1", "0", "1", "0", "none"]);
    expect(await page.getByTestId("session-totals").textContent()).toContain("2 students came");
    expect(await page.getByTestId("presence-chart").getAttribute("aria-label")).toMatch(
      /^Present over time, from \d{1,2}:\d{2} to \d{1,2}:\d{2}: at most 3 at/,
    );

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^attendance-Fault-class-.+-\d{4}-\d{2}-\d{2}\.csv$/);
    const bytes = await readFile((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString("utf8").trim().split("\r\n");
    expect(lines[0]).toMatch(/^Name,Role,First join \(UTC\),Last leave \(UTC\),Minutes present,/);
    expect(lines.slice(1).map((line) => line.split(",").slice(0, 2).join(","))).toEqual([
      "Tara Teacher,Teacher",
      "Ana Attendee,Student",
      "Ben Attendee,Student",
    ]);
    expect(lines.find((line) => line.startsWith("Ana Attendee,"))).toMatch(/,1,1,0,Session ended,1,0,0$/);
  });

  it("a student sees only their own line on the class page", async () => {
    const page = await pageAs(ben, `/classes/${classId}`);
    await page.getByRole("heading", { name: "Attendance" }).waitFor();
    await page.getByRole("button", { name: "Show report" }).click();
    const table = page.getByTestId("attendance-table");
    await table.getByRole("row", { name: /Ben Attendee/ }).waitFor();
    expect(await table.getByRole("row").count()).toBe(2);
    expect(await page.getByText("Ana Attendee").count()).toBe(0);
  });
});
