/**
 * The board in the browser: a teacher uploads a PDF deck, shows its second page and draws on it; a student sees
 * that page and the stroke in the same place; with the pen the student draws and the teacher sees it grow and
 * land. Two real Chromium contexts against the whole stack started as `npm start` starts it.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { drawStroke, type PageSvg } from "./lib/board";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { plainColourPdf } from "./lib/pdf";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/**
 * The script rules a Content-Security-Policy for the app would set: scripts and workers from the site only, no
 * eval, no WebAssembly compilation. The student's classroom is served under it to show that the board (pdf.js and
 * its worker) needs nothing more.
 */
const STRICT_SCRIPT_POLICY = "script-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'";
/** Waits for things a busy 2-core machine may take a while to show (pdf.js parsing, a reconnect). */
const SLOW_MS = 45_000;

/** The fill of each page of the test deck, as 0…1 colour and as the 0…255 pixel a canvas shows. */
const PAGE_COLOURS = [
  [0.9, 0.1, 0.1],
  [0.1, 0.6, 0.2],
  [0.1, 0.2, 0.8],
] as const;

/** A 4:3 deck of three pages, each filled with one colour of PAGE_COLOURS. */
function colouredDeck(): Promise<Buffer> {
  return plainColourPdf(PAGE_COLOURS);
}

/** The parts of the page's canvas element the test reads (the e2e code is typed without the DOM). */
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: "2d"): { getImageData(x: number, y: number, width: number, height: number): { data: Iterable<number> } };
}

interface PageDocument {
  document: { createElement(tag: "script"): { textContent: string }; head: { append(node: unknown): void } };
  __inlineRan?: boolean;
}

/** The boxes of the shapes (or strokes in progress) matched by `selector`, in fractions of the page. */
function shapeBoxes(page: Page, selector: string): Promise<{ x1: number; y1: number; x2: number; y2: number }[]> {
  return page.getByTestId("board-shapes").evaluate((element, css) => {
    const svg = element as unknown as PageSvg;
    const view = svg.viewBox.baseVal;
    return [...svg.querySelectorAll(css)].map((element) => {
      const box = element.getBBox();
      return { x1: box.x / view.width, y1: box.y / view.height, x2: (box.x + box.width) / view.width, y2: (box.y + box.height) / view.height };
    });
  }, selector);
}

/** The colour at the middle of the rendered page. */
function pageCentrePixel(page: Page): Promise<number[]> {
  return page.getByTestId("board-page").evaluate((canvas) => {
    const element = canvas as unknown as PageCanvas;
    return [...element.getContext("2d").getImageData(Math.floor(element.width / 2), Math.floor(element.height / 2), 1, 1).data];
  });
}

describe("the board", () => {
  let browser: Browser;
  let teacher: Person;
  let sam: Person;
  let classId: string;
  const policyViolations: string[] = [];

  beforeAll(async () => {
    // A page whose response playwright fulfils (the student's, to add the policy) has no address, so Chromium
    // counts it as the public internet and blocks its connections to the loopback stack; that check is off here.
    const args = CHROMIUM_ARGS.map((arg) => (arg.startsWith("--disable-features=") ? `${arg},LocalNetworkAccessChecks` : arg));
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tara Teacher"));
    sam = await openPerson(browser, baseUrl, newPerson("student", "Sam Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [sam], { title: "Colour theory", startsAt: Date.now() + 5 * 60_000 });
    await sam.context.route(`**/classes/${classId}/live`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": STRICT_SCRIPT_POLICY } });
    });
    sam.page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
    });
    for (const who of [teacher, sam]) {
      await enterLiveClass(who, classId, "Colour theory");
      await who.page.getByRole("tab", { name: /^People/ }).click();
      await who.page.getByTestId("participants").getByText("Tara Teacher").waitFor();
    }
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("the teacher uploads a deck, shows page 2 and draws; the student sees the page and the stroke in the same place", async () => {
    // The board's controls are in the side panel's Board tab.
    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByLabel("Upload a PDF deck").setInputFiles({ name: "colours.pdf", mimeType: "application/pdf", buffer: await colouredDeck() });
    await teacher.page.getByRole("option", { name: "colours (3 pages)" }).waitFor({ state: "attached", timeout: SLOW_MS });
    await teacher.page.getByRole("button", { name: "Show deck" }).click();
    await teacher.page.getByTestId("board-page-number").getByText("Page 1 of 3").waitFor();
    await teacher.page.getByRole("button", { name: "Next page" }).click();
    await teacher.page.getByTestId("board-page-number").getByText("Page 2 of 3").waitFor();

    // The student follows: page 2, drawn by pdf.js in its colour.
    await sam.page.locator('[data-testid="board-page"][data-rendered-page="2"]').waitFor({ timeout: SLOW_MS });
    const [r, g, b] = await pageCentrePixel(sam.page);
    expect(Math.abs(r! - 0.1 * 255)).toBeLessThan(20);
    expect(Math.abs(g! - 0.6 * 255)).toBeLessThan(20);
    expect(Math.abs(b! - 0.2 * 255)).toBeLessThan(20);
    expect(await sam.page.getByRole("toolbar", { name: "Drawing tools" }).count()).toBe(0);
    expect(policyViolations).toEqual([]);
    // The policy was in force: an inline script added to the page does not run.
    const inlineRan = await sam.page.evaluate(() => {
      const page = globalThis as unknown as PageDocument;
      const script = page.document.createElement("script");
      script.textContent = "globalThis.__inlineRan = true";
      page.document.head.append(script);
      return page.__inlineRan === true;
    });
    expect(inlineRan).toBe(false);

    await teacher.page.locator('[data-testid="board-page"][data-rendered-page="2"]').waitFor({ timeout: SLOW_MS });
    await drawStroke(teacher.page, [0.3, 0.4], [0.6, 0.5]);

    const landed = sam.page.locator("[data-testid=board-shapes] [data-shape-id]");
    await expect.poll(() => landed.count(), { timeout: SLOW_MS }).toBe(1);
    const [box] = await shapeBoxes(sam.page, "[data-shape-id]");
    expect(box!.x1).toBeGreaterThan(0.26);
    expect(box!.x1).toBeLessThan(0.34);
    expect(box!.x2).toBeGreaterThan(0.56);
    expect(box!.x2).toBeLessThan(0.64);
    expect(box!.y1).toBeGreaterThan(0.36);
    expect(box!.y2).toBeLessThan(0.54);
  });

  it("with the pen the student draws; the teacher sees the stroke while it is drawn and where it lands", async () => {
    await teacher.page.getByRole("tab", { name: /^People/ }).click();
    await teacher.page.getByRole("button", { name: "Give pen to Sam Student" }).click();
    await teacher.page.getByRole("button", { name: "Take pen from Sam Student" }).waitFor();
    await sam.page.getByRole("toolbar", { name: "Drawing tools" }).waitFor();
    await sam.page.getByRole("button", { name: "Colour Blue" }).click();

    await drawStroke(sam.page, [0.2, 0.7], [0.5, 0.8], { release: false });
    // Still drawing: the teacher already sees the stroke grow.
    await teacher.page.locator("[data-testid=board-ink] [data-stroke-id]").first().waitFor({ timeout: SLOW_MS });
    await sam.page.mouse.up();

    const teacherShapes = teacher.page.locator("[data-testid=board-shapes] [data-shape-id]");
    await expect.poll(() => teacherShapes.count(), { timeout: SLOW_MS }).toBe(2);
    expect(await teacherShapes.nth(1).getAttribute("fill")).toBe("#1565c0");
    const [, box] = await shapeBoxes(teacher.page, "[data-shape-id]");
    expect(box!.x1).toBeGreaterThan(0.16);
    expect(box!.x1).toBeLessThan(0.24);
    expect(box!.x2).toBeGreaterThan(0.46);
    expect(box!.x2).toBeLessThan(0.54);
    expect(box!.y1).toBeGreaterThan(0.66);
    expect(box!.y2).toBeLessThan(0.84);
    // The stroke in progress gave way to the shape.
    await expect.poll(() => teacher.page.locator("[data-testid=board-ink] [data-stroke-id]").count(), { timeout: SLOW_MS }).toBe(0);
  });

  it("the teacher erases the student's stroke and takes that back with Ctrl+Z; the student sees both", async () => {
    const samShapes = sam.page.locator("[data-testid=board-shapes] [data-shape-id]");
    await expect.poll(() => samShapes.count(), { timeout: SLOW_MS }).toBe(2);
    await teacher.page.keyboard.press("e");
    await teacher.page.getByRole("button", { name: "Eraser" }).and(teacher.page.locator("[aria-pressed=true]")).waitFor();
    await drawStroke(teacher.page, [0.35, 0.6], [0.35, 0.9]);
    await expect.poll(() => samShapes.count(), { timeout: SLOW_MS }).toBe(1);
    await teacher.page.keyboard.press("Control+z");
    await expect.poll(() => samShapes.count(), { timeout: SLOW_MS }).toBe(2);
    const [, back] = await shapeBoxes(sam.page, "[data-shape-id]");
    expect(back!.x1).toBeGreaterThan(0.16);
    expect(back!.x2).toBeLessThan(0.54);
  });
});
