import type { Page } from "playwright-core";

/** A box as the page's SVG reports it (the e2e code is typed without the DOM). */
export interface PageBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The parts of the board's SVG that the in-page snippets read. */
export interface PageSvg {
  viewBox: { baseVal: PageBox };
  querySelectorAll(selector: string): Iterable<{ getBBox(): PageBox; getAttribute(name: string): string | null; textContent: string | null }>;
}

/**
 * Drags the mouse across the board from one point to another, both in fractions of the page, in `steps` moves;
 * `release: false` keeps the button down (a stroke still being drawn).
 */
export async function drawStroke(page: Page, from: [number, number], to: [number, number], options: { release?: boolean; steps?: number } = {}): Promise<void> {
  // The mouse reaches only what is on screen: under the teacher's controls the page's lower part may not be.
  await page.getByTestId("board-shapes").scrollIntoViewIfNeeded();
  const box = await page.getByTestId("board-shapes").boundingBox();
  if (!box) throw new Error("the board is not on screen");
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(from));
  await page.mouse.down();
  await page.mouse.move(...at(to), { steps: options.steps ?? 20 });
  if (options.release ?? true) await page.mouse.up();
}
