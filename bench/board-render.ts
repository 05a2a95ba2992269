/**
 * Board rendering benchmark in Chromium (prints figures; not a test).
 *
 *   npm run bench:board-render                   # builds the web app, then 5,000 strokes and a 50-page deck
 *   npm run bench:board-render -- --strokes=2000 --no-build
 *
 * Builds the web app (unless --no-build), starts `wrangler dev` on port 8861 (BENCH_PORT) serving it, with its
 * own state (/tmp/board-render-state, BENCH_STATE_DIR); no sfu-node, so the classroom runs without media (the
 * board needs none) and no network namespace is needed. People sign in through real SSO links. Debian's Chromium
 * runs headless (e2e/lib/browser.ts's flags) with one context per person in one browser: both pages share the
 * machine's 2 cores, as the stack does.
 *
 * 1. A blank page with --strokes (5,000) pen strokes of 50–150 points, made through the class channel by the
 *    teacher and DRAWERS − 1 admins (Node sockets; each user's op allowance is 30 a second). A student's page then
 *    opens the classroom: times from navigation start and from the class socket opening (its `open` event) to the
 *    first frame after the page shows every one of those strokes.
 * 2. Frame times: the intervals between requestAnimationFrame callbacks in the teacher's page while it draws
 *    strokes with synthetic mouse events (one move per 16 ms, as a 60 Hz pointer) on that page, and in the
 *    student's page watching them grow and land; first 3 s of idle as a reference.
 * 3. A 50-page deck (made here with pdf-lib: a title, text lines and boxes on every page) uploaded through the
 *    files API; the teacher shows page 30 with --deck-strokes (200) strokes on it; a new student opens the
 *    classroom: times to page 30 drawn by pdf.js with every stroke on it.
 */
import { writeFileSync } from "node:fs";
import { PDFDocument, rgb, StandardFonts } from "pdf-lib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { BoardSurface } from "../schema/protocol/board";
import { type Account, ChannelError, ClassChannel, openClass, signIn } from "../e2e/lib/class-channel";
import { launchBrowser, newUserContext } from "../e2e/lib/browser";
import { newPerson, signInWithSso } from "../e2e/lib/sso";
import { loadAverage, percentile, prepareState, repoRoot, runQuiet, startBenchStack } from "./lib/bench-wrangler";
import { penStroke, seededRandom, strokeLength } from "./lib/pen-strokes";
import { printProfileSummary, type Profile } from "./profile";

const PORT = Number(process.env.BENCH_PORT ?? 8861);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/board-render-state";
const option = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const STROKES = option("strokes", 5000);
const DECK_PAGES = 50;
const DECK_PAGE = 30;
const DECK_STROKES = option("deck-strokes", 200);
const DRAWN_STROKES = option("drawn-strokes", 10);
/** Users drawing the bulk strokes at once (the teacher and admins), each under its op allowance. */
const DRAWERS = 6;
const OPS_PER_SECOND_PER_DRAWER = 25;
const IN_FLIGHT = 5;
/** `--profile`: a CPU profile of each late joiner's page (saved in the state directory, summary printed). */
const PROFILE = process.argv.includes("--profile");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the page records (installed before the app's scripts run); the e2e code is typed without the DOM. */
interface BenchWindow {
  __socketOpenedAt?: number;
  __frames?: number[];
  __recording?: boolean;
  WebSocket: new (url: string, protocols?: string | string[]) => { addEventListener(type: string, listener: () => void): void };
  performance: { now(): number };
  requestAnimationFrame(callback: (time: number) => void): number;
  document: { querySelector(css: string): { querySelectorAll(css: string): { length: number }; getAttribute(name: string): string | null } | null };
}

/** Stamps the class socket's `open` and keeps rAF timestamps while `__recording` is set. */
function instrument(): void {
  const page = globalThis as unknown as BenchWindow;
  const Original = page.WebSocket;
  page.WebSocket = class extends Original {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      if (url.includes("/parties/classroom/")) this.addEventListener("open", () => (page.__socketOpenedAt ??= page.performance.now()));
    }
  } as BenchWindow["WebSocket"];
  page.__frames = [];
  const tick = (time: number) => {
    if (page.__recording) page.__frames!.push(time);
    page.requestAnimationFrame(tick);
  };
  page.requestAnimationFrame(tick);
}

/**
 * Waits in the page until the board shows `shapes` shapes (and, for a deck, `page` drawn by pdf.js), checked once
 * per frame; resolves with the time of the frame after that (the one that was painted with them).
 */
function renderedAt(page: Page, shapes: number, deckPage: number | null): Promise<{ socketOpenedAt: number; renderedAt: number }> {
  return page.evaluate(
    ([shapes, deckPage]) =>
      new Promise<{ socketOpenedAt: number; renderedAt: number }>((resolve) => {
        const w = globalThis as unknown as BenchWindow;
        const done = () => {
          const layer = w.document.querySelector("[data-testid=board-shapes]");
          if (!layer || layer.querySelectorAll("[data-shape-id]").length < shapes) return false;
          return deckPage === null || w.document.querySelector(`[data-testid=board-page][data-rendered-page="${deckPage}"]`) !== null;
        };
        const check = () => {
          if (done()) w.requestAnimationFrame((time) => resolve({ socketOpenedAt: w.__socketOpenedAt ?? Number.NaN, renderedAt: time }));
          else w.requestAnimationFrame(check);
        };
        check();
      }),
    [shapes, deckPage] as const,
  );
}

async function startFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as BenchWindow;
    w.__frames = [];
    w.__recording = true;
  });
}

/** The intervals between the frames recorded since startFrames. */
async function stopFrames(page: Page): Promise<number[]> {
  const frames = await page.evaluate(() => {
    const w = globalThis as unknown as BenchWindow;
    w.__recording = false;
    return w.__frames ?? [];
  });
  return frames.slice(1).map((time, i) => time - frames[i]!);
}

function frameSummary(intervals: number[]): string {
  const sorted = [...intervals].sort((a, b) => a - b);
  const over = (ms: number) => sorted.filter((v) => v > ms).length;
  return (
    `p50 ${percentile(sorted, 50).toFixed(1)} / p95 ${percentile(sorted, 95).toFixed(1)} / p99 ${percentile(sorted, 99).toFixed(1)} / max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms ` +
    `(${sorted.length} frames, ${over(17)} over 17 ms, ${over(34)} over 34 ms)`
  );
}

/**
 * Sends `strokes` pen strokes on `surface`, spread over the drawers, each under its op allowance and with at most
 * IN_FLIGHT ops unanswered per drawer (a busy object then sets the pace). An op that timed out or hit the rate
 * limit is sent again with the same client op id, which the object answers from its log if it already applied it.
 */
async function drawMany(drawers: ClassChannel[], surface: BoardSurface, strokes: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const shapes = Array.from({ length: strokes }, (_, i) => ({
    id: `bench-${seed}-${i}`,
    type: "pen" as const,
    color: "#1d4ed8",
    width: 0.003,
    points: penStroke(strokeLength(50, 150, random), random),
  }));
  let failed = 0;
  await Promise.all(
    drawers.map(async (drawer, d) => {
      const mine = shapes.filter((_, i) => i % drawers.length === d);
      let next = 0;
      const lane = async () => {
        while (next < mine.length) {
          const shape = mine[next++]!;
          const started = performance.now();
          for (let attempt = 0; ; attempt++) {
            try {
              await drawer.request("board.op", { clientOpId: shape.id, surface, op: { type: "add", shape } });
              break;
            } catch (error) {
              const again = error instanceof ChannelError && (error.code === "RATE_LIMITED" || error.code === "TIMEOUT");
              if (!again || attempt >= 5) {
                failed++;
                if (failed <= 3) console.log(`  op refused: ${String(error)}`);
                break;
              }
              await sleep(1_000);
            }
          }
          // Each lane sends at most OPS_PER_SECOND_PER_DRAWER / IN_FLIGHT a second.
          const wait = started + (IN_FLIGHT * 1000) / OPS_PER_SECOND_PER_DRAWER - performance.now();
          if (wait > 0) await sleep(wait);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    }),
  );
  if (failed > 0) throw new Error(`${failed} of ${strokes} strokes were not accepted`);
}

/** A deck of `pages` 4:3 pages, each with a title, lines of text and boxes, as lecture slides have. */
async function lectureDeck(pages: number): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  for (let p = 1; p <= pages; p++) {
    const page = pdf.addPage([1024, 768]);
    page.drawText(`Lecture 7 — part ${p}: waves and interference`, { x: 60, y: 680, size: 34, font: bold, color: rgb(0.1, 0.1, 0.3) });
    for (let line = 0; line < 12; line++) {
      page.drawText(`• Point ${line + 1} of slide ${p}: the amplitude adds where the phases agree and cancels where they differ.`, {
        x: 70,
        y: 610 - line * 38,
        size: 18,
        font,
      });
    }
    page.drawRectangle({ x: 620, y: 90, width: 340, height: 200, borderColor: rgb(0.2, 0.4, 0.8), borderWidth: 3, color: rgb(0.9, 0.94, 1) });
    page.drawLine({ start: { x: 640, y: 190 }, end: { x: 940, y: 190 }, thickness: 2, color: rgb(0.8, 0.2, 0.2) });
  }
  return pdf.save();
}

/** Uploads a deck as the teacher through the files API (create, parts, complete); returns its deck id. */
async function uploadDeck(baseUrl: string, teacher: Account, classId: string, bytes: Uint8Array): Promise<string> {
  const headers = { origin: baseUrl, cookie: teacher.cookie };
  const create = await fetch(`${baseUrl}/api/classes/${classId}/uploads`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ fileName: "lecture.pdf", sizeBytes: bytes.byteLength, purpose: "deck" }),
  });
  if (!create.ok) throw new Error(`upload refused: ${create.status} ${await create.text()}`);
  const { uploadToken, partBytes, partCount } = (await create.json()) as { uploadToken: string; partBytes: number; partCount: number };
  const parts: unknown[] = [];
  for (let n = 1; n <= partCount; n++) {
    const part = await fetch(`${baseUrl}/api/uploads/parts/${n}`, {
      method: "PUT",
      headers: { ...headers, "x-upload-token": uploadToken, "content-type": "application/octet-stream" },
      body: bytes.slice((n - 1) * partBytes, n * partBytes),
    });
    if (!part.ok) throw new Error(`part ${n} refused: ${part.status} ${await part.text()}`);
    parts.push(await part.json());
  }
  const complete = await fetch(`${baseUrl}/api/uploads/complete`, {
    method: "POST",
    headers: { ...headers, "x-upload-token": uploadToken, "content-type": "application/json" },
    body: JSON.stringify({ parts }),
  });
  if (!complete.ok) throw new Error(`upload not completed: ${complete.status} ${await complete.text()}`);
  const { file } = (await complete.json()) as { file: { deck: { id: string } | null } };
  if (!file.deck) throw new Error("the upload did not become a deck");
  return file.deck.id;
}

/** A person signed in through SSO in a browser context of their own, and the same session for Node calls. */
async function browserPerson(
  browser: Browser,
  baseUrl: string,
  role: "teacher" | "student",
  name: string,
): Promise<{ account: Account; context: BrowserContext; page: Page }> {
  const context = await newUserContext(browser, baseUrl);
  context.setDefaultTimeout(120_000);
  // tsx compiles this file keeping function names (an `__name(fn, "name")` call); functions sent into the page
  // carry those calls with them.
  await context.addInitScript({ content: "globalThis.__name ??= (fn) => fn;" });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  const person = newPerson(role, name);
  await signInWithSso(page, baseUrl, person, "/");
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const me = (await (await fetch(`${baseUrl}/api/me`, { headers: { cookie } })).json()) as { user: { id: string } };
  return { account: { person, cookie, userId: me.user.id }, context, page };
}

/** With --profile: a CPU profile of the page's JavaScript until `stop`, saved in the state directory and summarized. */
async function startPageProfile(page: Page): Promise<{ stop(label: string): Promise<void> } | null> {
  if (!PROFILE) return null;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  return {
    async stop(label) {
      const { profile } = (await cdp.send("Profiler.stop")) as unknown as { profile: Profile };
      const file = `${STATE_DIR}/${label.replaceAll(" ", "-")}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      printProfileSummary(profile, file, `the page of the ${label}`);
    },
  };
}

/** A late joiner opens the classroom; prints the times to the board drawn with `shapes` shapes. */
async function lateJoin(page: Page, baseUrl: string, classId: string, shapes: number, deckPage: number | null, label: string): Promise<void> {
  const load = loadAverage();
  const profiler = await startPageProfile(page);
  await page.goto(`${baseUrl}/classes/${classId}/live`);
  const times = await renderedAt(page, shapes, deckPage);
  await profiler?.stop(label);
  console.log(
    `  ${label}: navigation → drawn ${(times.renderedAt / 1000).toFixed(2)} s, socket open → drawn ${((times.renderedAt - times.socketOpenedAt) / 1000).toFixed(2)} s ` +
      `(socket opened at ${(times.socketOpenedAt / 1000).toFixed(2)} s; load average ${load})`,
  );
}

/** Drags the mouse along a stroke on the board, one move per 16 ms (a 60 Hz pointer). */
async function drawWithMouse(page: Page, points: number[]): Promise<void> {
  const box = await page.getByTestId("board-shapes").boundingBox();
  if (!box) throw new Error("the board is not on screen");
  const at = (i: number) => [box.x + points[i * 3]! * box.width, box.y + points[i * 3 + 1]! * box.height] as const;
  await page.mouse.move(...at(0));
  await page.mouse.down();
  const started = performance.now();
  for (let i = 1; i < points.length / 3; i++) {
    const wait = started + i * 16 - performance.now();
    if (wait > 0) await sleep(wait);
    await page.mouse.move(...at(i));
  }
  await page.mouse.up();
}

async function main(): Promise<void> {
  if (!process.argv.includes("--no-build")) runQuiet("npm", ["run", "build:web"]);
  prepareState(STATE_DIR);
  const stack = await startBenchStack({ port: PORT, stateDir: STATE_DIR, assetsFrom: `${repoRoot}/web/dist` });
  const baseUrl = stack.url;
  const browser = await launchBrowser();
  const channels: ClassChannel[] = [];
  try {
    console.log(`board render benchmark against wrangler dev on ${baseUrl} (${new Date().toISOString()}, Chromium headless, load average ${loadAverage()})`);
    const teacher = await browserPerson(browser, baseUrl, "teacher", "Tara Teacher");
    const student = await browserPerson(browser, baseUrl, "student", "Sam Student");
    const deckStudent = await browserPerson(browser, baseUrl, "student", "Dee Student");
    const classId = await openClass(baseUrl, teacher.account, [student.account, deckStudent.account]);
    const admins = await Promise.all(Array.from({ length: DRAWERS - 1 }, (_, i) => signIn(baseUrl, "admin", `Admin ${i + 1}`)));
    for (const account of [teacher.account, ...admins]) channels.push(await ClassChannel.join(baseUrl, account, classId));
    const blank: BoardSurface = { kind: "blank", page: 1 };
    await channels[0]!.request("board.show", { surface: blank });

    console.log(`\n1. a blank page with ${STROKES} strokes of 50–150 points`);
    const drawStart = performance.now();
    await drawMany(channels, blank, STROKES, 1);
    console.log(`  made through the class channel in ${((performance.now() - drawStart) / 1000).toFixed(1)} s by ${DRAWERS} users`);
    await lateJoin(student.page, baseUrl, classId, STROKES, null, "late-joining student");
    await lateJoin(teacher.page, baseUrl, classId, STROKES, null, "teacher opening the classroom");

    console.log(`\n2. frame times on that page (requestAnimationFrame intervals)`);
    await Promise.all([startFrames(teacher.page), startFrames(student.page)]);
    await sleep(3_000);
    const [teacherIdle, studentIdle] = await Promise.all([stopFrames(teacher.page), stopFrames(student.page)]);
    console.log(`  idle, teacher's page: ${frameSummary(teacherIdle)}`);
    console.log(`  idle, student's page: ${frameSummary(studentIdle)}`);
    const random = seededRandom(2);
    const drawingProfile = await startPageProfile(student.page);
    await Promise.all([startFrames(teacher.page), startFrames(student.page)]);
    const load = loadAverage();
    for (let s = 0; s < DRAWN_STROKES; s++) {
      await drawWithMouse(teacher.page, penStroke(strokeLength(50, 150, random), random));
      await sleep(300);
    }
    await sleep(1_000);
    const [teacherDrawing, studentDrawing] = await Promise.all([stopFrames(teacher.page), stopFrames(student.page)]);
    await drawingProfile?.stop("student watching the teacher draw");
    console.log(`  the teacher drawing ${DRAWN_STROKES} strokes with the mouse (load average ${load}):`);
    console.log(`    teacher's page (drawing): ${frameSummary(teacherDrawing)}`);
    console.log(`    student's page (watching): ${frameSummary(studentDrawing)}`);
    await student.page
      .locator("[data-testid=board-shapes] [data-shape-id]")
      .nth(STROKES + DRAWN_STROKES - 1)
      .waitFor({ state: "attached" });
    console.log(`    the student's page shows all ${STROKES + DRAWN_STROKES} strokes`);
    // Free the browser for the next late joiner.
    await teacher.page.goto(`${baseUrl}/`);
    await student.page.goto(`${baseUrl}/`);

    console.log(`\n3. a ${DECK_PAGES}-page deck, the teacher on page ${DECK_PAGE} with ${DECK_STROKES} strokes on it`);
    const deck = await lectureDeck(DECK_PAGES);
    const deckId = await uploadDeck(baseUrl, teacher.account, classId, deck);
    console.log(`  uploaded ${(deck.byteLength / 1024).toFixed(0)} KiB`);
    const deckSurface: BoardSurface = { kind: "deck", deckId, page: DECK_PAGE };
    await channels[0]!.request("board.show", { surface: deckSurface });
    await drawMany(channels, deckSurface, DECK_STROKES, 3);
    await lateJoin(deckStudent.page, baseUrl, classId, DECK_STROKES, DECK_PAGE, "late-joining student");
  } finally {
    for (const channel of channels) channel.close();
    await browser.close();
    stack.stop();
  }
}

await main();
