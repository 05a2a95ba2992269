/**
 * After class, end to end on one real recording: a teacher records a class in which they turn a deck's page and
 * write in the chat; once it is packaged, a student downloads it as one MP4 (ffprobe reads it: an MP4 as long as
 * the recording), plays a chapter from the list beside the video (the video jumps there and plays, the chat
 * message of that moment is highlighted), and comes back to the recording where they left it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openPerson, type Person, startRecording } from "./lib/live-class";
import { plainColourPdf } from "./lib/pdf";
import { newPerson } from "./lib/sso";

const run = promisify(execFile);
const baseUrl = inject("baseUrl");
/** When, after recording starts, the teacher turns to page 2, writes in the chat, and stops. */
const NEXT_PAGE_AT_MS = 6_000;
const CHAT_AT_MS = 11_000;
const RECORD_MS = 20_000;
/** Composing, uploading and packaging a 20-second class on a busy 2-core machine. */
const PROCESSING_TIMEOUT_MS = 240_000;
/** pdf.js parsing and the first media on a busy machine. */
const SLOW_MS = 45_000;

interface PageVideo {
  currentTime: number;
  paused: boolean;
}
interface PageWindow {
  document: { querySelector(selector: string): PageVideo | null };
}

function video(page: Page): Promise<PageVideo> {
  return page.evaluate(() => {
    const element = (globalThis as unknown as PageWindow).document.querySelector('[data-testid="recording-video"]');
    if (!element) throw new Error("no video element");
    return { currentTime: element.currentTime, paused: element.paused };
  });
}

/** Polls in the set-up (vitest allows expect.poll only inside tests). */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s (last: ${JSON.stringify(last)})`);
}

/** Waits until `ms` after `since`. */
async function waitUntil(page: Page, since: number, ms: number): Promise<void> {
  const left = since + ms - Date.now();
  if (left > 0) await page.waitForTimeout(left);
}

describe("after class", () => {
  let browser: Browser;
  let teacher: Person;
  let student: Person;
  let classId: string;
  let recordingId: string;
  let durationMs: number;
  const downloads = mkdtempSync(path.join(tmpdir(), "after-class-"));

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await openPerson(browser, baseUrl, newPerson("teacher", "Ada After"));
    student = await openPerson(browser, baseUrl, newPerson("student", "Sam Later"));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Replayed optics", startsAt: Date.now() - 60_000 });

    const page = teacher.page;
    await enterLiveClass(teacher, classId, "Replayed optics");
    await page.locator('[data-testid="media-tile"][data-local="true"][data-video="live"]').waitFor({ timeout: 30_000 });
    await page.getByRole("tab", { name: /^Board/ }).click();
    await page.getByLabel("Upload a PDF deck").setInputFiles({
      name: "lenses.pdf",
      mimeType: "application/pdf",
      buffer: await plainColourPdf([
        [0.9, 0.1, 0.8],
        [1, 0.5, 0],
      ]),
    });
    await page.getByRole("option", { name: "lenses (2 pages)" }).waitFor({ state: "attached", timeout: SLOW_MS });
    await page.getByRole("button", { name: "Show deck" }).click();
    await page.locator('[data-testid="board-page"][data-rendered-page="1"]').waitFor({ timeout: SLOW_MS });
    // Past the 3 s within which a later mark by the same person replaces this one.
    await page.waitForTimeout(3_500);

    await startRecording(page);
    const recordingSince = Date.now();
    await waitUntil(page, recordingSince, NEXT_PAGE_AT_MS);
    await page.getByRole("button", { name: "Next page" }).click();
    await page.locator('[data-testid="board-page"][data-rendered-page="2"]').waitFor({ timeout: SLOW_MS });
    await waitUntil(page, recordingSince, CHAT_AT_MS);
    await page.getByRole("tab", { name: /^Chat/ }).click();
    await page.getByLabel("Message").fill("Page two shows the focal length");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("chat-list").getByText("Page two shows the focal length").waitFor();
    await waitUntil(page, recordingSince, RECORD_MS);
    await page.getByRole("button", { name: "■ Stop recording" }).click();
    await page.getByTestId("rec-indicator").waitFor({ state: "detached" });
    await page.close();

    await student.page.goto(`/classes/${classId}`);
    const card = student.page.getByTestId("recording-card").first();
    await until(
      "the recording was not ready",
      () => card.getAttribute("data-status"),
      (status) => status === "ready",
      PROCESSING_TIMEOUT_MS,
    );
    recordingId = (await card.getAttribute("data-recording-id"))!;
    const response = await student.context.request.get(`/api/recordings/${recordingId}`);
    durationMs = ((await response.json()) as { recording: { durationMs: number } }).recording.durationMs;
  }, 480_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(downloads, { recursive: true, force: true });
  });

  const openRecording = async () => {
    await student.page.goto(`/recordings/${recordingId}`);
    await student.page.getByTestId("recording-video").waitFor();
  };

  it("a student downloads the recording as one MP4 as long as the recording", { timeout: 90_000 }, async () => {
    await openRecording();
    const [download] = await Promise.all([student.page.waitForEvent("download"), student.page.getByRole("button", { name: "Download" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^Replayed optics \d{4}-\d{2}-\d{2}\.mp4$/);
    const file = path.join(downloads, "recording.mp4");
    await download.saveAs(file);
    const { stdout } = await run("ffprobe", ["-v", "error", "-show_entries", "format=format_name,duration", "-of", "json", file]);
    const { format } = JSON.parse(stdout) as { format: { format_name: string; duration: string } };
    expect(format.format_name).toContain("mp4");
    expect(Number(format.duration)).toBeGreaterThan(durationMs / 1000 - 2);
    expect(Number(format.duration)).toBeLessThan(durationMs / 1000 + 2);
  });

  it("lists the pages shown as chapters; choosing one plays from there and the chat follows", { timeout: 90_000 }, async () => {
    const page = student.page;
    await openRecording();
    const chapters = page.getByTestId("chapter");
    await expect.poll(() => chapters.count(), { timeout: 15_000 }).toBe(2);
    expect(await chapters.nth(0).textContent()).toBe("0:00lenses — page 1");
    const second = chapters.nth(1);
    expect(await second.textContent()).toMatch(/^0:0[5-9]lenses — page 2$/);
    const atMs = Number(await second.getAttribute("data-at-ms"));
    expect(atMs).toBeGreaterThan(NEXT_PAGE_AT_MS - 2_000);
    expect(atMs).toBeLessThan(NEXT_PAGE_AT_MS + 4_000);

    await second.click();
    await expect.poll(async () => (await video(page)).paused, { timeout: 15_000 }).toBe(false);
    const landed = (await video(page)).currentTime;
    expect(landed).toBeGreaterThan(atMs / 1000 - 0.5);
    expect(landed).toBeLessThan(atMs / 1000 + 2);
    await expect.poll(() => second.getAttribute("aria-current")).toBe("true");

    // The chat of the class is beside it; its message is highlighted once the video reaches the moment it was sent.
    const message = page.getByTestId("replay-message").filter({ hasText: "Page two shows the focal length" });
    await message.waitFor();
    expect(await message.getAttribute("aria-current")).toBeNull();
    await expect.poll(() => message.getAttribute("aria-current"), { timeout: 20_000 }).toBe("true");
    expect((await video(page)).currentTime).toBeGreaterThan(CHAT_AT_MS / 1000 - 3);

    await page.getByRole("button", { name: "Hide chat" }).click();
    await page.getByTestId("replay-chat").waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Show chat" }).click();
    await page.getByTestId("replay-chat").waitFor();
  });

  it("comes back where the student left it, and from the beginning once watched to the end", { timeout: 90_000 }, async () => {
    const page = student.page;
    const position = (positionMs: number) =>
      student.context.request.put(`/api/recordings/${recordingId}/position`, { data: { positionMs }, headers: { Origin: baseUrl } });
    // Away from the player first: leaving it saves its position, which must not land after the reset below.
    await page.goto("/");
    expect((await position(0)).ok()).toBe(true);
    await openRecording();
    await page.getByTestId("player-play").click();
    await expect.poll(async () => (await video(page)).currentTime, { timeout: 30_000, interval: 200 }).toBeGreaterThan(8);

    await page.reload();
    const notice = page.getByTestId("resume-notice");
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toMatch(/^Resuming at 0:(0[89]|1[01])Start from the beginning$/);
    const resumed = (await video(page)).currentTime;
    expect(resumed).toBeGreaterThan(7.5);
    expect(resumed).toBeLessThan(11.5);

    await notice.getByRole("button", { name: "Start from the beginning" }).click();
    await notice.waitFor({ state: "detached" });
    expect((await video(page)).currentTime).toBeLessThan(1);

    // Stopped in the last 5 %: the next visit starts from the beginning, without a word.
    await page.goto("/");
    expect((await position(Math.round(durationMs * 0.97))).ok()).toBe(true);
    await openRecording();
    await page.getByTestId("chapter").first().waitFor();
    await page.waitForTimeout(2_000);
    expect(await notice.count()).toBe(0);
    expect((await video(page)).currentTime).toBeLessThan(1);
  });

  it("the teacher turns student downloads off in the class's form: the student's Download button goes, the teacher keeps theirs", {
    timeout: 90_000,
  }, async () => {
    const page = await teacher.context.newPage();
    await page.goto(`/classes/${classId}/edit`);
    const downloadsSwitch = page.getByRole("switch", { name: "Let students download recordings" });
    expect(await downloadsSwitch.isChecked()).toBe(true);
    await downloadsSwitch.uncheck();
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForURL(`**/classes/${classId}`);

    await openRecording();
    await student.page.getByTestId("chapter").first().waitFor();
    expect(await student.page.getByRole("button", { name: "Download" }).count()).toBe(0);
    await page.goto(`/recordings/${recordingId}`);
    await page.getByRole("button", { name: "Download" }).waitFor();
    await page.goto(`/classes/${classId}/edit`);
    expect(await page.getByRole("switch", { name: "Let students download recordings" }).isChecked()).toBe(false);
    await page.close();
  });
});
