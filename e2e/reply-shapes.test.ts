/**
 * Replies are checked at the browser's boundary: an HTTP body or a class-channel answer of the wrong shape is
 * an error the user reads (and the console names what did not match), not a page drawn from a bad cast. The
 * wrong shapes are made in the browser (playwright's routing), since the real Worker never sends them.
 */
import type { Browser, ConsoleMessage, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEMO_CLASS_TITLE } from "../scripts/lib/demo-data";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");

const NOT_UNDERSTOOD = "The server's answer came in a form this page does not understand. Reload the page and try again.";
const CLASS_NOT_UNDERSTOOD = "The class answered in a form this page does not understand. Reload the page and try again.";

/** The console's error lines, from now on. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error") errors.push(message.text());
  });
  return errors;
}

describe("an HTTP reply of the wrong shape", () => {
  let browser: Browser;
  let student: Person;

  beforeAll(async () => {
    browser = await launchBrowser();
    student = await openPerson(browser, baseUrl, newPerson("student", "Rhea Replies"));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows a clear error on the class list instead of a broken page, and the list once the reply is right", { timeout: 60_000 }, async () => {
    const { page } = student;
    const errors = consoleErrors(page);
    await page.route(/\/api\/classes\?/, (route) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ classes: "nope" }) }));
    await page.goto("/classes");
    await page.getByRole("heading", { name: "Classes", level: 1 }).waitFor();
    await page.getByRole("alert").getByText(NOT_UNDERSTOOD).waitFor();
    expect(await page.getByRole("link", { name: DEMO_CLASS_TITLE }).count()).toBe(0);
    // The console says which request and which field, for whoever debugs it.
    expect(errors.some((line) => line.includes("GET /api/classes") && line.includes("classes:"))).toBe(true);

    await page.unroute(/\/api\/classes\?/);
    await page.getByRole("button", { name: "Try again" }).click();
    await page.getByRole("link", { name: DEMO_CLASS_TITLE }).waitFor();
    expect(await page.getByText(NOT_UNDERSTOOD).count()).toBe(0);
  });

  it("a reply that is not JSON at all is the same clear error", { timeout: 60_000 }, async () => {
    const { page } = student;
    await page.route(/\/api\/classes\?/, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<html>Gateway</html>" }));
    await page.goto("/classes");
    await page.getByRole("alert").getByText(NOT_UNDERSTOOD).waitFor();
    await page.unroute(/\/api\/classes\?/);
  });
});

describe("a class-channel answer of the wrong shape", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tom Replies"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Sara Replies"));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Shapes of answers", startsAt: Date.now() + 5 * 60_000 });
    // Between the student's page and the class object: the answer to `hand.raise` gets a time that is not a number.
    await student.page.routeWebSocket(/\/parties\/classroom\//, (socket) => {
      const server = socket.connectToServer();
      socket.onMessage((message) => server.send(message));
      server.onMessage((message) => {
        if (typeof message !== "string" || !message.includes('"handRaisedAt"')) return socket.send(message);
        const frame = JSON.parse(message) as { ok?: boolean; data?: Record<string, unknown> };
        if (frame.ok === true && frame.data && "handRaisedAt" in frame.data) frame.data.handRaisedAt = "soon";
        socket.send(JSON.stringify(frame));
      });
    });
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Shapes of answers");
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("tells the student instead of taking it, while the class goes on", { timeout: 60_000 }, async () => {
    const { page } = student;
    const errors = consoleErrors(page);
    await page.getByRole("button", { name: "Raise hand" }).click();
    await page.getByText(CLASS_NOT_UNDERSTOOD).waitFor();
    expect(errors.some((line) => line.includes("hand.raise") && line.includes("handRaisedAt"))).toBe(true);
    // Answers of the right shape still pass: the student's chat message reaches the teacher.
    await page.getByRole("tab", { name: /^Chat/ }).click();
    await page.getByLabel("Message").fill("Still here");
    await page.getByLabel("Message").press("Enter");
    await teacher.page.getByRole("tab", { name: /^Chat/ }).click();
    await teacher.page.getByTestId("chat-list").getByText("Still here").waitFor();
  });
});
