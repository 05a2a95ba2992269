/**
 * The board's teaching tools in the browser: the teacher places a text and the student sees it where it was
 * placed; the teacher zooms in and the student sees the same part of the page (and a stroke drawn at that zoom
 * lands where it was drawn); a student pages through the deck alone and comes back to the presenter; on a
 * phone a student with the pen draws with a finger. Real Chromium contexts against the whole stack.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PageBox, PageSvg } from "./lib/board";
import { launchBrowser, UI_TIMEOUT_MS } from "./lib/browser";
import { apiPost, createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { plainColourPdf } from "./lib/pdf";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Waits for things a busy 2-core machine may take a while to show (pdf.js parsing, a reconnect). */
const SLOW_MS = 45_000;

/** A 4:3 deck of three plain pages, each a colour of its own. */
function deck(): Promise<Buffer> {
  return plainColourPdf([
    [0.95, 0.9, 0.8],
    [0.8, 0.9, 0.95],
    [0.85, 0.95, 0.85],
  ]);
}

/** The shapes matched by `selector`: their boxes in fractions of the page (SVG user space, whatever the zoom), text and anchor. */
function shapesOn(page: Page, selector: string) {
  return page.getByTestId("board-shapes").evaluate((element, css) => {
    const svg = element as unknown as PageSvg;
    const view = svg.viewBox.baseVal;
    return [...svg.querySelectorAll(css)].map((shape) => {
      const box = shape.getBBox();
      return {
        x1: box.x / view.width,
        y1: box.y / view.height,
        x2: (box.x + box.width) / view.width,
        y2: (box.y + box.height) / view.height,
        text: shape.textContent,
        anchor: [Number(shape.getAttribute("x") ?? NaN) / view.width, Number(shape.getAttribute("y") ?? NaN) / view.height],
      };
    });
  }, selector);
}

async function frameBox(page: Page): Promise<PageBox> {
  const box = await page.locator(".board__frame").boundingBox();
  if (!box) throw new Error("the board is not on screen");
  return box;
}

/** Drags the mouse across the board's frame (what is seen, zoomed or not) between two points in frame fractions. */
async function dragOnFrame(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  await page.locator(".board__frame").scrollIntoViewIfNeeded();
  const box = await frameBox(page);
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(from));
  await page.mouse.down();
  await page.mouse.move(...at(to), { steps: 15 });
  await page.mouse.up();
}

describe("the board's tools", () => {
  let browser: Browser;
  let teacher: Person;
  let sam: Person;
  let classId: string;
  let deckId: string;

  const enter = (who: Person) => enterLiveClass(who, classId, "Geometry");

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tess Teacher"));
    sam = await openPerson(browser, baseUrl, newPerson("student", "Sid Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [sam], { title: "Geometry", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, sam]) await enter(who);

    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByLabel("Upload a PDF deck").setInputFiles({ name: "shapes.pdf", mimeType: "application/pdf", buffer: await deck() });
    await teacher.page.getByRole("option", { name: "shapes (3 pages)" }).waitFor({ state: "attached", timeout: SLOW_MS });
    await teacher.page.getByRole("button", { name: "Show deck" }).click();
    await teacher.page.getByTestId("board-page-number").getByText("Page 1 of 3").waitFor();
    const surface = (await teacher.page.getByTestId("board").getAttribute("data-surface")) ?? "";
    deckId = surface.split(":")[1]!;
    for (const who of [teacher, sam]) await who.page.locator('[data-testid="board-page"][data-rendered-page="1"]').waitFor({ timeout: SLOW_MS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("the teacher places a text with the text tool; the student sees it, at the same place on the page", { timeout: 90_000 }, async () => {
    await teacher.page.getByRole("tab", { name: /^People/ }).click();
    await teacher.page.keyboard.press("t");
    await teacher.page.getByRole("button", { name: "Text", exact: true }).and(teacher.page.locator("[aria-pressed=true]")).waitFor();
    const box = await frameBox(teacher.page);
    await teacher.page.mouse.click(box.x + 0.25 * box.width, box.y + 0.3 * box.height);
    const input = teacher.page.getByTestId("board-text-input");
    await input.waitFor();
    await expect
      .poll(() => input.evaluate((element) => (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement === element))
      .toBe(true);
    await teacher.page.keyboard.type("Angles add up to 180°");
    await teacher.page.keyboard.press("Enter");
    await input.waitFor({ state: "detached" });

    const texts = sam.page.locator("[data-testid=board-shapes] text[data-shape-id]");
    await expect.poll(() => texts.count(), { timeout: SLOW_MS }).toBe(1);
    const [seen] = await shapesOn(sam.page, "text[data-shape-id]");
    expect(seen!.text).toBe("Angles add up to 180°");
    expect(Math.abs(seen!.anchor[0]! - 0.25)).toBeLessThan(0.01);
    expect(Math.abs(seen!.anchor[1]! - 0.3)).toBeLessThan(0.01);
    // Drawn below and to the right of where it was placed, as wide as the words.
    expect(seen!.x1).toBeGreaterThan(0.24);
    expect(seen!.y1).toBeGreaterThan(0.28);
    expect(seen!.x2).toBeGreaterThan(0.4);

    // Escape cancels a text box: nothing more reaches the student.
    await teacher.page.mouse.click(box.x + 0.5 * box.width, box.y + 0.7 * box.height);
    await input.waitFor();
    await teacher.page.keyboard.type("not this");
    await teacher.page.keyboard.press("Escape");
    await input.waitFor({ state: "detached" });
    // Undo takes the text away for everyone.
    await teacher.page.keyboard.press("Control+z");
    await expect.poll(() => texts.count(), { timeout: SLOW_MS }).toBe(0);
    await teacher.page.keyboard.press("Control+Shift+z");
    await expect.poll(() => texts.count(), { timeout: SLOW_MS }).toBe(1);
    expect((await shapesOn(sam.page, "text[data-shape-id]"))[0]!.text).toBe("Angles add up to 180°");
  });

  it("the teacher zooms in; the student sees the same part of the page, and a stroke drawn zoomed lands where it was drawn", { timeout: 90_000 }, async () => {
    await teacher.page.getByRole("button", { name: "Zoom in" }).click();
    await teacher.page.getByRole("button", { name: "Zoom in" }).click();
    await teacher.page.getByTestId("board-zoom").getByText("225%").waitFor();
    // Zoomed about the middle twice: the corner of the view is at 0.5 − 0.5 / 2.25 of the page.
    const corner = 0.5 - 0.5 / 2.25;
    const frame = sam.page.locator(".board__frame");
    await expect.poll(() => frame.getAttribute("data-zoom"), { timeout: SLOW_MS }).toBe("2.25");
    expect(Math.abs(Number(await frame.getAttribute("data-view-x")) - corner)).toBeLessThan(0.001);

    // On the student's screen, the page (its drawing layer) is 2.25 times the frame and the page's middle is the frame's.
    const samFrame = await frameBox(sam.page);
    const samPage = (await sam.page.getByTestId("board-shapes").boundingBox())!;
    expect(Math.abs(samPage.width - 2.25 * samFrame.width)).toBeLessThan(2);
    expect(Math.abs(samPage.x + 0.5 * samPage.width - (samFrame.x + 0.5 * samFrame.width))).toBeLessThan(2);
    expect(Math.abs(samPage.y + 0.5 * samPage.height - (samFrame.y + 0.5 * samFrame.height))).toBeLessThan(2);
    // The text placed at (0.25, 0.3) of the page is now at ((0.25 − corner) × 2.25, (0.3 − corner) × 2.25) of the frame.
    const text = (await sam.page.locator("[data-testid=board-shapes] text[data-shape-id]").boundingBox())!;
    expect(Math.abs((text.x - samFrame.x) / samFrame.width - (0.25 - corner) * 2.25)).toBeLessThan(0.02);

    // Drawn across the middle of the zoomed view: on the page, from corner + 0.4 / 2.25 to corner + 0.6 / 2.25.
    await teacher.page.getByRole("button", { name: "Pen", exact: true }).click();
    await dragOnFrame(teacher.page, [0.4, 0.5], [0.6, 0.5]);
    const strokes = sam.page.locator("[data-testid=board-shapes] path[data-shape-id]");
    await expect.poll(() => strokes.count(), { timeout: SLOW_MS }).toBe(1);
    const [stroke] = await shapesOn(sam.page, "path[data-shape-id]");
    expect(Math.abs(stroke!.x1 - (corner + 0.4 / 2.25))).toBeLessThan(0.02);
    expect(Math.abs(stroke!.x2 - (corner + 0.6 / 2.25))).toBeLessThan(0.02);
    expect(Math.abs((stroke!.y1 + stroke!.y2) / 2 - 0.5)).toBeLessThan(0.02);

    await teacher.page.getByRole("button", { name: "Fit page" }).click();
    await expect.poll(() => frame.getAttribute("data-zoom"), { timeout: SLOW_MS }).toBe("1");
    const fitted = (await sam.page.getByTestId("board-shapes").boundingBox())!;
    expect(Math.abs(fitted.width - samFrame.width)).toBeLessThan(2);
  });

  it("Ctrl+wheel zooms around the pointer, a pinch zooms, and the hand tool and Space+drag move the page; the student follows", {
    timeout: 90_000,
  }, async () => {
    const frame = sam.page.locator(".board__frame");
    const box = await frameBox(teacher.page);
    // The pointer at the frame's top-left quarter: that point of the page stays under it.
    await teacher.page.mouse.move(box.x + 0.25 * box.width, box.y + 0.25 * box.height);
    await teacher.page.keyboard.down("Control");
    await teacher.page.mouse.wheel(0, -200);
    await teacher.page.keyboard.up("Control");
    await expect.poll(async () => Number(await frame.getAttribute("data-zoom")), { timeout: SLOW_MS }).toBeGreaterThan(1.3);
    const zoom = Number(await frame.getAttribute("data-zoom"));
    const x = Number(await frame.getAttribute("data-view-x"));
    expect(Math.abs(x - (0.25 - 0.25 / zoom))).toBeLessThan(0.01);

    // The hand: dragging the page a fifth of the frame to the left shows what lies to its right.
    await teacher.page.getByRole("button", { name: "Move the page (zoomed in)" }).click();
    await dragOnFrame(teacher.page, [0.6, 0.5], [0.4, 0.5]);
    await expect.poll(async () => Number(await frame.getAttribute("data-view-x")), { timeout: SLOW_MS }).toBeGreaterThan(x + 0.2 / zoom - 0.01);
    expect(Number(await frame.getAttribute("data-view-x"))).toBeLessThan(x + 0.2 / zoom + 0.01);
    // Space held with the pen: the drag moves the page down the same way, and nothing is drawn.
    await teacher.page.getByRole("button", { name: "Pen", exact: true }).click();
    const shapesBefore = await sam.page.locator("[data-testid=board-shapes] [data-shape-id]").count();
    const y = Number(await frame.getAttribute("data-view-y"));
    await teacher.page.keyboard.down(" ");
    await dragOnFrame(teacher.page, [0.5, 0.6], [0.5, 0.4]);
    await teacher.page.keyboard.up(" ");
    await expect.poll(async () => Number(await frame.getAttribute("data-view-y")), { timeout: SLOW_MS }).toBeGreaterThan(y + 0.2 / zoom - 0.01);
    expect(await teacher.page.locator("[data-testid=board-shapes] [data-shape-id]").count()).toBe(shapesBefore);

    await teacher.page.getByRole("button", { name: "Fit page" }).click();
    await expect.poll(() => frame.getAttribute("data-zoom"), { timeout: SLOW_MS }).toBe("1");

    // Two fingers spread from a fifth of the frame apart to three fifths: three times as close, for everyone.
    const cdp = await teacher.context.newCDPSession(teacher.page);
    const fingers = (spread: number) => [
      { x: box.x + (0.5 - spread / 2) * box.width, y: box.y + 0.5 * box.height, id: 0 },
      { x: box.x + (0.5 + spread / 2) * box.width, y: box.y + 0.5 * box.height, id: 1 },
    ];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: fingers(0.2) });
    for (let step = 1; step <= 8; step += 1) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: fingers(0.2 + step * 0.05) });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await expect.poll(async () => Number(await frame.getAttribute("data-zoom")), { timeout: SLOW_MS }).toBeGreaterThan(2.8);
    expect(Number(await frame.getAttribute("data-zoom"))).toBeLessThan(3.2);
    // Nothing was drawn by the fingers.
    expect(await teacher.page.locator("[data-testid=board-shapes] [data-shape-id]").count()).toBe(shapesBefore);
    await teacher.page.getByRole("button", { name: "Fit page" }).click();
    await expect.poll(() => frame.getAttribute("data-zoom"), { timeout: SLOW_MS }).toBe("1");
  });

  it("a student pages through the deck alone, sees 'Back to the presenter' and returns; following, they move with the teacher", {
    timeout: 90_000,
  }, async () => {
    const board = sam.page.getByTestId("board");
    await sam.page.getByRole("navigation", { name: "Pages" }).getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => board.getAttribute("data-surface")).toBe(`deck:${deckId}:2`);
    await sam.page.locator('[data-testid="board-page"][data-rendered-page="2"]').waitFor({ timeout: SLOW_MS });
    await sam.page.getByTestId("board-browse-page").getByText("Page 2 of 3").waitFor();
    // Nobody else moved: the teacher is still on page 1, with the text and stroke drawn there.
    expect(await teacher.page.getByTestId("board").getAttribute("data-surface")).toBe(`deck:${deckId}:1`);
    expect(await sam.page.locator("[data-testid=board-shapes] [data-shape-id]").count()).toBe(0);

    const back = sam.page.getByRole("button", { name: "Back to the presenter (page 1)" });
    await back.click();
    await expect.poll(() => board.getAttribute("data-surface")).toBe(`deck:${deckId}:1`);
    await back.waitFor({ state: "detached" });
    await expect.poll(() => sam.page.locator("[data-testid=board-shapes] [data-shape-id]").count(), { timeout: SLOW_MS }).toBe(2);

    // Following again: the teacher's page turn moves the student too.
    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => board.getAttribute("data-surface"), { timeout: SLOW_MS }).toBe(`deck:${deckId}:2`);
    expect(await board.getAttribute("data-following")).toBe("true");
  });

  it("after class, the class page shows the board read-only: the page with the text and the stroke drawn on it", { timeout: 90_000 }, async () => {
    const page = await sam.context.newPage();
    await page.goto(`/classes/${classId}`);
    const board = page.getByTestId("board-after-class");
    await board.waitFor({ timeout: SLOW_MS });
    await board.getByText("shapes — page 1").waitFor();
    await expect.poll(() => board.locator("text[data-shape-id]").textContent(), { timeout: SLOW_MS }).toBe("Angles add up to 180°");
    expect(await board.locator("path[data-shape-id]").count()).toBe(1);
    await board.locator('[data-testid="board-page"][data-rendered-page="1"]').waitFor({ timeout: SLOW_MS });
    await page.close();
  });

  it("on a phone, a student with the pen draws with a finger and one without it sees the page", { timeout: 120_000 }, async () => {
    const phone = await browser.newContext({
      baseURL: baseUrl,
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
      timezoneId: "UTC",
      locale: "en-GB",
    });
    phone.setDefaultTimeout(UI_TIMEOUT_MS);
    const pia = await openPerson(browser, baseUrl, newPerson("student", "Pia Phone"), phone);
    await apiPost(baseUrl, pia, `/api/classes/${classId}/enrollment`, {});
    await enter(pia);
    const shownPage = (await teacher.page.getByTestId("board").getAttribute("data-surface"))!.split(":")[2];
    await pia.page.locator(`[data-testid="board-page"][data-rendered-page="${shownPage}"]`).waitFor({ timeout: SLOW_MS });
    const phoneFrame = await frameBox(pia.page);
    expect(phoneFrame.width).toBeGreaterThan(300);
    expect(phoneFrame.width).toBeLessThanOrEqual(390);
    expect(await pia.page.getByRole("toolbar", { name: "Drawing tools" }).count()).toBe(0);

    await teacher.page.getByRole("tab", { name: /^People/ }).click();
    await teacher.page.getByRole("button", { name: "Give pen to Pia Phone" }).click();
    await pia.page.getByRole("toolbar", { name: "Drawing tools" }).waitFor();
    expect(
      await pia.page
        .getByTestId("board-shapes")
        .evaluate((element) => (globalThis as unknown as { getComputedStyle(e: unknown): { touchAction: string } }).getComputedStyle(element).touchAction),
    ).toBe("none");

    // One finger across the page, as touch events from the phone's screen.
    await pia.page.locator(".board__frame").scrollIntoViewIfNeeded();
    const box = await frameBox(pia.page);
    const cdp = await phone.newCDPSession(pia.page);
    const touch = (type: "touchStart" | "touchMove" | "touchEnd", fx: number) =>
      cdp.send("Input.dispatchTouchEvent", { type, touchPoints: type === "touchEnd" ? [] : [{ x: box.x + fx * box.width, y: box.y + 0.6 * box.height }] });
    await touch("touchStart", 0.2);
    for (let step = 1; step <= 10; step += 1) await touch("touchMove", 0.2 + step * 0.05);
    await touch("touchEnd", 0.7);

    const teacherShapes = teacher.page.locator("[data-testid=board-shapes] path[data-user-id]");
    await expect.poll(async () => (await shapesOn(teacher.page, "[data-shape-id]")).filter((shape) => shape.y1 > 0.5).length, { timeout: SLOW_MS }).toBe(1);
    expect(await teacherShapes.count()).toBeGreaterThan(0);
    const [drawn] = (await shapesOn(teacher.page, "[data-shape-id]")).filter((shape) => shape.y1 > 0.5);
    expect(drawn!.x1).toBeGreaterThan(0.15);
    expect(drawn!.x2).toBeLessThan(0.75);
    await phone.close();
  });
});
