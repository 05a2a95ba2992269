/**
 * Files shared in chat, in the browser: the teacher attaches an image and a PDF; the student sees the image's
 * thumbnail, the PDF's first page drawn by pdf.js, and downloads the PDF; once the teacher allows it, the student
 * may attach files too. Two real Chromium contexts against the whole stack started as `npm start` starts it.
 */
import { readFile } from "node:fs/promises";
import { crc32, deflateSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { plainColourPdf } from "./lib/pdf";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Waits for things a busy 2-core machine may take a while to show (an upload, pdf.js parsing). */
const SLOW_MS = 45_000;

/** A real PNG (so the browser decodes it): `width` × `height` pixels of one RGB colour. */
function solidPng(width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const row = Buffer.concat([Buffer.of(0), Buffer.alloc(width * 3).map((_, i) => [r, g, b][i % 3]!)]);
  const pixels = Buffer.concat(new Array<Buffer>(height).fill(row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A one-page handout, portrait, plain blue. */
function handout(): Promise<Buffer> {
  return plainColourPdf([[0.1, 0.3, 0.9]], [300, 400]);
}

/** The parts of the elements the test reads (the e2e code is typed without the DOM). */
interface PageImage {
  complete: boolean;
  naturalWidth: number;
}
interface PageCanvas {
  width: number;
  height: number;
}

describe("files in chat", () => {
  let browser: Browser;
  let teacher: Person;
  let sam: Person;
  let classId: string;
  /** The student's console, to say why a preview failed. */
  const consoleLines: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Tara Teacher"));
    sam = await openPerson(browser, baseUrl, newPerson("student", "Sam Student"));
    sam.page.on("console", (message) => {
      if (message.type() === "warning" || message.type() === "error") consoleLines.push(message.text());
    });
    classId = await createClassWithStudents(baseUrl, teacher, [sam], { title: "Shared handouts", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, sam]) {
      await enterLiveClass(who, classId, "Shared handouts");
      // The people list sits in its own tab of the side panel; chat is the tab these tests use.
      await who.page.getByRole("tab", { name: /^People/ }).click();
      await who.page.getByTestId("participants").getByText("Tara Teacher").waitFor();
      await who.page.getByRole("tab", { name: /^Chat/ }).click();
    }
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("the teacher shares an image and a PDF; the student sees the thumbnail and the first page, and downloads the PDF", async () => {
    const png = solidPng(40, 30, [220, 40, 40]);
    const pdf = await handout();
    // A caption typed first goes with the file.
    await teacher.page.getByLabel("Message", { exact: true }).fill("Today's diagram");
    await teacher.page.getByLabel("Share a file in chat").setInputFiles({ name: "diagram.png", mimeType: "image/png", buffer: png });
    await teacher.page.getByTestId("chat-list").getByText("Today's diagram").waitFor({ timeout: SLOW_MS });
    await teacher.page.getByLabel("Share a file in chat").setInputFiles({ name: "week 1 handout.pdf", mimeType: "application/pdf", buffer: pdf });

    const chat = sam.page.getByTestId("chat-list");
    const image = chat.locator('[data-kind="image"]');
    await image.getByTestId("chat-attachment-name").getByText("diagram.png").waitFor({ timeout: SLOW_MS });
    await expect
      .poll(
        () =>
          image
            .getByTestId("chat-attachment-image")
            .evaluate((element) => ({ complete: (element as unknown as PageImage).complete, width: (element as unknown as PageImage).naturalWidth })),
        { timeout: SLOW_MS },
      )
      .toEqual({ complete: true, width: 40 });
    // `has` matches inside each item, so its locator starts from the page, not from the chat list.
    expect(
      await chat
        .locator("li", { has: sam.page.locator('[data-kind="image"]') })
        .getByText("Today's diagram")
        .count(),
    ).toBe(1);

    const pdfCard = chat.locator('[data-kind="pdf"]');
    await pdfCard.getByTestId("chat-attachment-name").getByText("week 1 handout.pdf").waitFor({ timeout: SLOW_MS });
    // The preview is drawn when it comes into view, as the reader scrolls to it.
    await pdfCard.scrollIntoViewIfNeeded();
    const canvas = pdfCard.getByTestId("chat-attachment-pdf");
    await expect
      .poll(
        async () =>
          (await canvas.count()) > 0
            ? "drawn"
            : (await pdfCard.getByTestId("chat-attachment-pdf-icon").count()) > 0
              ? `failed: ${consoleLines.join(" | ")}`
              : "waiting",
        { timeout: SLOW_MS },
      )
      .toBe("drawn");
    const size = await canvas.evaluate((element) => ({ width: (element as unknown as PageCanvas).width, height: (element as unknown as PageCanvas).height }));
    // Portrait 3:4, as the page is.
    expect(size.width).toBeGreaterThan(0);
    expect(size.height / size.width).toBeCloseTo(4 / 3, 1);

    const [download] = await Promise.all([sam.page.waitForEvent("download"), pdfCard.getByTestId("chat-attachment-download").click()]);
    expect(download.suggestedFilename()).toBe("week 1 handout.pdf");
    expect(Buffer.compare(await readFile((await download.path())!), pdf)).toBe(0);
  });

  it("the student may attach files only after the teacher allows it", async () => {
    expect(await sam.page.getByLabel("Share a file in chat").count()).toBe(0);
    await teacher.page.getByLabel("Allow students to share files").check();
    await sam.page.getByLabel("Share a file in chat").setInputFiles({ name: "my answer.png", mimeType: "image/png", buffer: solidPng(12, 12, [20, 160, 60]) });
    await teacher.page.getByTestId("chat-list").getByTestId("chat-attachment-name").getByText("my answer.png").waitFor({ timeout: SLOW_MS });
    await teacher.page.getByLabel("Allow students to share files").uncheck();
    await sam.page.getByLabel("Share a file in chat").waitFor({ state: "detached" });
  });
});
