/**
 * The app under its own security headers, in Chromium: sign-in, the calendar, a live class with camera and
 * microphone, the emoji picker, a recording played back — and not one Content-Security-Policy violation on the
 * way. A student whose name carries a right-to-left override (U+202E) chats, and the time next to their name and
 * the "(you)" after it still read left to right.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, newUserContext } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, type Person as SignedInPerson, startRecording } from "./lib/live-class";
import { newPerson, type SsoPerson, signInWithSso } from "./lib/sso";

const baseUrl = inject("baseUrl");
const RECORD_MS = 4_000;
/** Composing, uploading and packaging a few seconds of class on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 180_000;
const RTL_OVERRIDE = "\u202E";

interface Person extends SignedInPerson {
  /** Every CSP complaint its pages or their workers made: violation events and console errors. */
  violations: string[];
}

/** The DOM pieces the in-page snippets use (this project is typed for Node, not the DOM). */
interface PageGlobals {
  __reportCspViolation(text: string): void;
  document: {
    addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string; sourceFile: string; lineNumber: number }) => void): void;
    createElement(tag: string): { textContent: string | null };
    body: { appendChild(node: unknown): void };
    createRange(): { setStart(node: unknown, offset: number): void; setEnd(node: unknown, offset: number): void; getBoundingClientRect(): { x: number } };
    querySelectorAll(
      selector: string,
    ): ArrayLike<{ textContent: string | null; firstChild: unknown; childNodes: ArrayLike<{ nodeType: number; textContent: string | null }> }>;
  };
}

/**
 * The x position of each character of the text nodes under `selector` that contain `needle`, in reading order.
 * Characters drawn left to right have growing x; an override leaking in from a neighbour reverses them.
 */
function characterPositions(page: Page, selector: string, needle: string): Promise<number[][]> {
  return page.evaluate(
    ([selector, needle]) => {
      const { document } = globalThis as unknown as PageGlobals;
      const result: number[][] = [];
      for (const element of Array.from(document.querySelectorAll(selector))) {
        for (const node of Array.from(element.childNodes)) {
          const text = node.textContent ?? "";
          if (node.nodeType !== 3 || !text.includes(needle)) continue;
          const start = text.indexOf(needle);
          const xs: number[] = [];
          for (let i = start; i < start + needle.length; i += 1) {
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            xs.push(range.getBoundingClientRect().x);
          }
          result.push(xs);
        }
      }
      return result;
    },
    [selector, needle] as const,
  );
}

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe("the app under its security headers", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;
  const title = "Policy chemistry";

  const open = async (person: SsoPerson): Promise<Person> => {
    const context = await newUserContext(browser, baseUrl);
    const violations: string[] = [];
    // Reported to the test across navigations; added through DevTools, so the policy does not apply to it.
    await context.exposeFunction("__reportCspViolation", (text: string) => violations.push(text));
    await context.addInitScript(() => {
      const globals = globalThis as unknown as PageGlobals;
      globals.document.addEventListener("securitypolicyviolation", (event) => {
        globals.__reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI} (${event.sourceFile}:${event.lineNumber})`);
      });
    });
    const page = await context.newPage();
    // Workers report blocked loads to the console; the event above only covers documents.
    page.on("console", (message) => {
      if (/Content.Security.Policy/i.test(message.text())) violations.push(`console: ${message.text()}`);
    });
    await signInWithSso(page, baseUrl, person, "/");
    return { person, context, page, violations };
  };

  const violationsOf = async (who: Person) => {
    // Events are delivered to the test asynchronously; one round trip to the page lets pending ones arrive.
    await who.page.evaluate(() => undefined);
    return who.violations;
  };

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await open(newPerson("teacher", "Tara Teacher"));
    student = await open(newPerson("student", `Eve ${RTL_OVERRIDE}Lived`));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title, startsAt: Date.now() - 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("serves the app with its policy, and sign-in and the calendar run under it", async () => {
    const response = await teacher.page.goto("/");
    const headers = response!.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self';");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["permissions-policy"]).toContain("camera=(self)");
    expect(headers["x-content-type-options"]).toBe("nosniff");

    // An inline script, as an injection would add one, does not run and is reported: the policy bites and the
    // collector hears it.
    await teacher.page.evaluate(() => {
      const { document } = globalThis as unknown as PageGlobals;
      const script = document.createElement("script");
      script.textContent = "globalThis.injected = true";
      document.body.appendChild(script);
    });
    expect(await teacher.page.evaluate(() => (globalThis as unknown as { injected?: boolean }).injected)).toBeUndefined();
    await expect.poll(() => teacher.violations.length).toBeGreaterThan(0);
    expect(teacher.violations.join("\n")).toMatch(/script-src/);
    teacher.violations.length = 0;

    for (const who of [teacher, student]) {
      await who.page.goto("/calendar");
      await who.page.locator(".fc").first().waitFor();
    }
    await student.page.goto("/classes");
    await student.page.getByRole("link", { name: title }).first().waitFor();
    expect(await violationsOf(teacher)).toEqual([]);
    expect(await violationsOf(student)).toEqual([]);
  });

  it("a live class with camera, microphone, chat and the emoji picker raises no violation; an RTL override stays inside its name", async () => {
    for (const who of [teacher, student]) await enterLiveClass(who, classId, title);
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    await student.page.locator('[data-testid="media-tile"][data-source="video"]').first().waitFor({ timeout: 30_000 });

    const input = student.page.getByLabel("Message");
    await input.fill("Hello ");
    await student.page.getByRole("button", { name: "Insert emoji" }).click();
    const firstEmoji = student.page.locator("emoji-picker").getByRole("menuitem").first();
    await firstEmoji.waitFor();
    await firstEmoji.click();
    await expect.poll(() => input.inputValue()).toMatch(/^Hello \S/);
    await student.page.getByRole("button", { name: "Send" }).click();
    await teacher.page
      .getByTestId("chat-list")
      .getByText(/^Hello \S/)
      .waitFor();

    // The time after the name reads left to right ("10:42", not "24:01") and sits after the name. It is written
    // like every time in the app (web/src/time.ts: the hour without a leading zero, "9:05" in en-GB).
    const time = teacher.page.getByTestId("chat-time").last();
    const timeText = (await time.textContent())!;
    expect(timeText).toMatch(/^\d{1,2}:\d\d$/);
    const positions = await characterPositions(teacher.page, '[data-testid="chat-time"]', timeText);
    expect(positions.length).toBeGreaterThan(0);
    for (const xs of positions) expect(xs, `x of each character of ${timeText}`).toSatisfy(increasing);
    const nameBox = (await teacher.page.getByTestId("chat-name").last().boundingBox())!;
    const timeBox = (await time.boundingBox())!;
    expect(timeBox.x).toBeGreaterThanOrEqual(nameBox.x + nameBox.width - 1);

    // In the student's own list, "(you)" after the name is not turned into ")uoy(".
    await student.page.getByRole("tab", { name: /^People/ }).click();
    const you = await characterPositions(student.page, ".participants__name", "(you)");
    expect(you).toHaveLength(1);
    expect(you[0], "x of each character of (you)").toSatisfy(increasing);

    expect(await violationsOf(teacher)).toEqual([]);
    expect(await violationsOf(student)).toEqual([]);
  });

  it("a recording plays back in the player without a violation", { timeout: 300_000 }, async () => {
    const rec = (page: Page) => page.getByTestId("rec-indicator");
    await startRecording(teacher.page);
    await teacher.page.waitForTimeout(RECORD_MS);
    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    await rec(teacher.page).waitFor({ state: "detached" });
    expect(await violationsOf(teacher)).toEqual([]);

    await student.page.goto(`/classes/${classId}`);
    const card = student.page.getByTestId("recording-card").first();
    await expect.poll(() => card.getAttribute("data-status"), { timeout: PROCESSING_TIMEOUT_MS, interval: 500 }).toBe("ready");
    await expect.poll(() => card.locator("img").getAttribute("src")).toMatch(/poster/);
    await card.getByRole("link").click();
    await student.page.getByTestId("recording-video").waitFor();
    await student.page.getByTestId("player-play").click();
    await expect
      .poll(() => student.page.getByTestId("recording-video").evaluate((video) => (video as unknown as { currentTime: number }).currentTime), {
        timeout: 30_000,
        interval: 250,
      })
      .toBeGreaterThan(1);
    // Seeking previews thumbnails from the sprite on the storage origin.
    const seek = student.page.getByRole("slider", { name: "Seek" });
    const box = (await seek.boundingBox())!;
    await student.page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await student.page.getByTestId("thumbnail-preview").waitFor();
    await student.page.waitForTimeout(500);
    expect(await violationsOf(student)).toEqual([]);
  });
});
