/**
 * The board in the recording, end to end through the browser: a teacher shows a page of a PDF deck, records the
 * class and draws on the page; the packaged recording, decoded frame by frame with FFmpeg, shows the page in its
 * colour with the stroke where it was drawn and the teacher's camera picture-in-picture. Then the same for a
 * shared screen the teacher draws over: the recording shows the screen with the annotation on it. The whole stack
 * runs as `npm start` starts it; the board picture is the presenter's canvas capture (BoardCapture) sent to the
 * media node, which records and composes it.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { drawStroke } from "./lib/board";
import { launchBrowser, newUserContext } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person } from "./lib/live-class";
import { type PagePeerConnection, registerPeerConnections } from "./lib/peer-connections";
import { plainColourPdf } from "./lib/pdf";
import { FRAME_HEIGHT, FRAME_WIDTH, type Frame, near, readRecordingFrames, type Rgb, saveFrame, shareOf } from "./lib/recording-frames";
import { newPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Waits for things a busy 2-core machine may take a while to show (pdf.js parsing, the first media). */
const SLOW_MS = 45_000;
/** Composing, uploading and packaging a short class on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 180_000;
/** Where the frames of a failed check are kept, to see what the recording showed. */
const FAILED_FRAMES_DIR = path.resolve(import.meta.dirname, "../test-results/board-recording");

/**
 * The test deck's pages: saturated colours far from the fake camera's green and from the stroke's blue, so a
 * frame tells which picture it shows. As 0…1 for pdf-lib and 0…255 as a decoded frame shows them.
 */
const MAGENTA: Rgb = [230, 26, 204];
const ORANGE: Rgb = [255, 128, 0];
/** The board's "Blue" (#1565c0). */
const STROKE_BLUE: Rgb = [21, 101, 192];
/** The stroke, in fractions of the page: across its upper part, clear of the picture-in-picture corner. */
const STROKE_FROM: [number, number] = [0.15, 0.3];
const STROKE_TO: [number, number] = [0.85, 0.3];

/** One frame's box, in frame pixels (end exclusive). */
interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

interface RecordingView {
  id: string;
  status: string;
  hlsManifestUrl: string | null;
  dashManifestUrl: string | null;
}

/** A 4:3 deck of two pages, magenta and orange. */
function colouredDeck(): Promise<Buffer> {
  return plainColourPdf([MAGENTA, ORANGE].map(([r, g, b]) => [r / 255, g / 255, b / 255] as const));
}

/** Presses a button of the drawing tools and waits until it shows as chosen. */
async function pickTool(page: Page, name: string): Promise<void> {
  const button = page.getByRole("toolbar", { name: "Drawing tools" }).getByRole("button", { name });
  await button.click();
  await button.and(page.locator("[aria-pressed=true]")).waitFor();
}

/**
 * Where the board sits in a composed frame: the board's 16:9 picture fills the recording, and the surface (of
 * width / height `aspect`) is letterboxed in it, as BoardCapture draws it.
 */
function boardPlace(aspect: number): Box {
  const width = Math.min(FRAME_WIDTH, FRAME_HEIGHT * aspect);
  const height = width / aspect;
  const x1 = (FRAME_WIDTH - width) / 2;
  const y1 = (FRAME_HEIGHT - height) / 2;
  return { x1, y1, x2: x1 + width, y2: y1 + height };
}

/** A box given in fractions of the board's place, in frame pixels. */
function onBoard(board: Box, fractions: Box): Box {
  const width = board.x2 - board.x1;
  const height = board.y2 - board.y1;
  return {
    x1: board.x1 + fractions.x1 * width,
    y1: board.y1 + fractions.y1 * height,
    x2: board.x1 + fractions.x2 * width,
    y2: board.y1 + fractions.y2 * height,
  };
}

/** The right part of the picture-in-picture box (bottom-right, a quarter of the frame's size, inset 1/40 of its height). */
function pipBox(): Box {
  const margin = FRAME_HEIGHT / 40;
  const x2 = FRAME_WIDTH - margin;
  const y2 = FRAME_HEIGHT - margin;
  // Only the right part: a camera narrower than 16:9 is placed against the right edge of the quarter box.
  return { x1: x2 - FRAME_WIDTH / 16, y1: y2 - FRAME_HEIGHT / 4 + 4, x2: x2 - 4, y2: y2 - 4 };
}

/** A sender as the in-page snippet reads it: the board's track is the canvas capture's (it has requestFrame). */
interface PageSender {
  track: { requestFrame?: unknown } | null;
  getStats(): Promise<{ forEach(visit: (report: Record<string, unknown>) => void): void }>;
}

/** Frames the browser has encoded and sent of the board's track so far, or -1 while it sends none. */
function boardFramesSent(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const connections = (globalThis as unknown as { __e2ePeerConnections: (PagePeerConnection & { getSenders(): PageSender[] })[] }).__e2ePeerConnections;
    let frames = -1;
    for (const connection of connections) {
      for (const sender of connection.getSenders()) {
        if (!sender.track || typeof sender.track.requestFrame !== "function") continue;
        (await sender.getStats()).forEach((report) => {
          if (report.type === "outbound-rtp") frames = Math.max(frames, Number(report.framesSent ?? 0));
        });
      }
    }
    return frames;
  });
}

/** The board's frame rate (frames sent a second) while `during` runs. */
async function boardFrameRate(page: Page, during: () => Promise<void>): Promise<number> {
  const before = await boardFramesSent(page);
  const startedAt = Date.now();
  await during();
  return ((await boardFramesSent(page)) - before) / ((Date.now() - startedAt) / 1000);
}

/** Chromium's fake camera is mostly green. */
const greenish = ([r, g, b]: Rgb) => g > r + 40 && g > b + 40;
/** The stroke's blue, with room for the video coding's colour shifts (and the pale blending at its edges). */
const bluish = ([r, g, b]: Rgb) => b > 110 && b > r + 70 && b > g + 35;

/** The share of columns of `box` that hold at least one pixel passing `test`: a stroke across it fills them all. */
function columnsWith(frame: Frame, box: Box, test: (pixel: Rgb) => boolean): number {
  let hits = 0;
  const columns = Math.ceil(box.x2) - Math.floor(box.x1);
  for (let x = Math.floor(box.x1); x < Math.ceil(box.x2); x += 1) {
    if (shareOf(frame, { x1: x, y1: box.y1, x2: x + 1, y2: box.y2 }, test) > 0) hits += 1;
  }
  return columns === 0 ? 0 : hits / columns;
}

/**
 * The first frame for which every check holds; else the test fails with each frame's figures and keeps the
 * frames in test-results/board-recording/ to look at.
 */
async function expectFrame(name: string, frames: Frame[], checks: Record<string, (frame: Frame) => number>, minimums: Record<string, number>): Promise<void> {
  const figures = frames.map((frame) => ({
    at: frame.at,
    ...Object.fromEntries(Object.entries(checks).map(([check, measure]) => [check, Number(measure(frame).toFixed(2))])),
  }));
  const index = figures.findIndex((figure) => Object.entries(minimums).every(([check, minimum]) => (figure as Record<string, number>)[check]! >= minimum));
  if (index >= 0) return;
  mkdirSync(FAILED_FRAMES_DIR, { recursive: true });
  for (const frame of frames) await saveFrame(frame, path.join(FAILED_FRAMES_DIR, `${name}-${frame.at.toFixed(1)}s.png`));
  throw new Error(`no frame of the recording (${frames.length} read) passes ${JSON.stringify(minimums)}; each frame: ${JSON.stringify(figures)}`);
}

describe("the board in the recording", () => {
  let browser: Browser;
  let teacher: Person;
  let classId: string;
  const recorded = new Set<string>();

  /** Records while `during` runs (the teacher's own REC button), then waits until the new recording is ready. */
  async function record(during: () => Promise<void>): Promise<RecordingView> {
    const rec = teacher.page.getByTestId("rec-indicator");
    const recordButton = teacher.page.getByRole("button", { name: "● Record" });
    // Until the class object knows the teacher's producers it answers "nothing to record": then the button is
    // pressed again. Never sooner: on a busy machine the start takes seconds and a second press would stop it.
    for (let attempt = 1; ; attempt += 1) {
      await recordButton.click();
      const started = await rec.waitFor({ timeout: 10_000 }).then(
        () => true,
        () => false,
      );
      if (started) break;
      if (attempt === 3) throw new Error("the recording did not start after three presses of Record");
    }
    await during();
    await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
    await rec.waitFor({ state: "detached" });
    let latest: RecordingView | undefined;
    await expect
      .poll(
        async () => {
          const response = await teacher.context.request.get(`/api/classes/${classId}/recordings`);
          const { recordings } = (await response.json()) as { recordings: RecordingView[] };
          latest = recordings.find((recording) => !recorded.has(recording.id));
          return latest?.status;
        },
        { timeout: PROCESSING_TIMEOUT_MS, interval: 1_000 },
      )
      .toBe("ready");
    recorded.add(latest!.id);
    return latest!;
  }

  async function framesOf(recording: RecordingView): Promise<Frame[]> {
    const manifest = recording.hlsManifestUrl ?? recording.dashManifestUrl;
    if (!manifest) throw new Error(`recording ${recording.id} is ready without a manifest`);
    return readRecordingFrames(new URL(manifest, baseUrl).toString());
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    const context = await newUserContext(browser, baseUrl);
    await context.addInitScript(registerPeerConnections);
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Bea Board"), context);
    classId = await createClassWithStudents(baseUrl, teacher, [], { title: "Recorded board", startsAt: Date.now() - 60_000 });
    await enterLiveClass(teacher, classId, "Recorded board");
    await teacher.page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("a deck page with a stroke drawn while recording is in the recording, with the teacher's camera picture-in-picture", { timeout: 360_000 }, async () => {
    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByLabel("Upload a PDF deck").setInputFiles({ name: "slides.pdf", mimeType: "application/pdf", buffer: await colouredDeck() });
    await teacher.page.getByRole("option", { name: "slides (2 pages)" }).waitFor({ state: "attached", timeout: SLOW_MS });
    await teacher.page.getByRole("button", { name: "Show deck" }).click();
    await teacher.page.getByRole("button", { name: "Next page" }).click();
    await teacher.page.locator('[data-testid="board-page"][data-rendered-page="2"]').waitFor({ timeout: SLOW_MS });

    let idleRate = 0;
    let drawingRate = 0;
    const recording = await record(async () => {
      await expect.poll(() => boardFramesSent(teacher.page), { timeout: SLOW_MS }).toBeGreaterThan(0);
      await pickTool(teacher.page, "Colour Blue");
      await pickTool(teacher.page, "Width Thick");
      idleRate = await boardFrameRate(teacher.page, () => teacher.page.waitForTimeout(4_000));
      drawingRate = await boardFrameRate(teacher.page, () => drawStroke(teacher.page, STROKE_FROM, STROKE_TO, { steps: 60 }));
      await teacher.page.waitForTimeout(5_000);
    });
    // The still page goes out about once a second; a stroke being drawn up to 15 times a second.
    const rates = `${idleRate.toFixed(1)} frames a second while still, ${drawingRate.toFixed(1)} while drawing`;
    expect(idleRate, rates).toBeLessThanOrEqual(2);
    expect(drawingRate, rates).toBeGreaterThan(idleRate + 1);
    expect(drawingRate, rates).toBeLessThanOrEqual(16);

    const board = boardPlace(4 / 3);
    // A part of the page below the stroke, away from the picture-in-picture corner.
    const slide = onBoard(board, { x1: 0.05, y1: 0.45, x2: 0.7, y2: 0.7 });
    const strokeBand = onBoard(board, { x1: STROKE_FROM[0] + 0.05, y1: STROKE_FROM[1] - 0.05, x2: STROKE_TO[0] - 0.05, y2: STROKE_TO[1] + 0.05 });
    const aboveStroke = onBoard(board, { x1: STROKE_FROM[0] + 0.05, y1: 0.05, x2: STROKE_TO[0] - 0.05, y2: 0.2 });
    const frames = await framesOf(recording);
    const checks = {
      slide: (frame: Frame) => shareOf(frame, slide, near(ORANGE)),
      stroke: (frame: Frame) => columnsWith(frame, strokeBand, bluish),
      noStroke: (frame: Frame) => 1 - columnsWith(frame, strokeBand, bluish),
      strayBlue: (frame: Frame) => 1 - shareOf(frame, aboveStroke, bluish),
      camera: (frame: Frame) => shareOf(frame, pipBox(), greenish),
    };
    // The still page before the stroke (the board sends one frame a second then), and the page with the stroke.
    await expectFrame("deck-before-stroke", frames, checks, { slide: 0.9, noStroke: 0.95, camera: 0.3 });
    await expectFrame("deck-with-stroke", frames, checks, { slide: 0.9, stroke: 0.95, strayBlue: 0.99, camera: 0.3 });
  });

  it("a shared screen drawn over while recording is in the recording with the annotation on it", { timeout: 360_000 }, async () => {
    await teacher.page.getByRole("button", { name: "Share screen" }).click();
    await teacher.page.getByRole("tab", { name: /^Board/ }).click();
    await teacher.page.getByRole("button", { name: "Draw over the shared screen" }).click();
    const video = teacher.page.locator('[data-testid="board"] video.board__page');
    await video.waitFor();
    await expect.poll(() => video.evaluate((element) => (element as unknown as { videoWidth: number }).videoWidth), { timeout: SLOW_MS }).toBeGreaterThan(0);
    const aspect = await video.evaluate((element) => {
      const { videoWidth, videoHeight } = element as unknown as { videoWidth: number; videoHeight: number };
      return videoWidth / videoHeight;
    });

    let movingRate = 0;
    const recording = await record(async () => {
      await expect.poll(() => boardFramesSent(teacher.page), { timeout: SLOW_MS }).toBeGreaterThan(0);
      await pickTool(teacher.page, "Colour Blue");
      await pickTool(teacher.page, "Width Thick");
      movingRate = await boardFrameRate(teacher.page, () => teacher.page.waitForTimeout(3_000));
      await drawStroke(teacher.page, STROKE_FROM, STROKE_TO);
      await teacher.page.waitForTimeout(5_000);
    });
    // A shared screen moves by itself: the board follows it at its full rate even while nobody draws.
    expect(movingRate, `${movingRate.toFixed(1)} frames a second`).toBeGreaterThan(5);
    expect(movingRate, `${movingRate.toFixed(1)} frames a second`).toBeLessThanOrEqual(16);

    const board = boardPlace(aspect);
    const screen = onBoard(board, { x1: 0.05, y1: 0.45, x2: 0.7, y2: 0.7 });
    const strokeBand = onBoard(board, { x1: STROKE_FROM[0] + 0.05, y1: STROKE_FROM[1] - 0.05, x2: STROKE_TO[0] - 0.05, y2: STROKE_TO[1] + 0.05 });
    // Chromium's fake screen is green like its camera, so the colour alone does not tell them apart; the stroke
    // does: only the board carries it, and the board shows a screen it did not draw as black, not green.
    await expectFrame(
      "screen",
      await framesOf(recording),
      {
        screen: (frame) => shareOf(frame, screen, greenish),
        stroke: (frame) => columnsWith(frame, strokeBand, bluish),
      },
      { screen: 0.6, stroke: 0.95 },
    );
  });
});
