/**
 * Join → first decoded teacher frame in a student's browser (prints figures; not a test).
 *
 *   npm run bench:media-join           # 20 joins
 *   npm run bench:media-join -- 50     # another number of joins
 *
 * Runs itself inside a loopback-only network namespace (scripts/lib/loopback-netns.sh: Chromium's WebRTC and
 * the stack must share one), starts the stack the way `npm start` does (scripts/start.sh, PORT 8860 or
 * BENCH_PORT, state in /tmp/media-join-bench-state, output in that directory's stack.log), signs a teacher and a
 * student in through SSO links in Debian's Chromium (fake camera and microphone), and lets the teacher open the
 * live class (camera and microphone start by themselves). Then the student opens the live page once to warm up
 * and N more times; for each join it reads two spans ending at the first teacher video frame the student's page
 * presents (requestVideoFrameCallback on the teacher's tile):
 *   - from `media.join` (the app's `insp-media-join` User Timing mark: class channel open, media starts) — the
 *     figure to compare with a bare mediasoup + Chromium page pair;
 *   - from navigation start (page load, sign-in cookie, class channel and media together).
 * Between joins the student leaves to the class page, so each join is a fresh page, device and transport.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { launchBrowser, newUserContext } from "../e2e/lib/browser";
import { startStack, stopStack } from "./lib/stack";
import { newPerson, signInWithSso } from "../e2e/lib/sso";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = Number(process.env.BENCH_PORT ?? 8860);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/media-join-bench-state";
const JOINS = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 20);
const START_TIMEOUT_MS = 240_000;
const JOIN_TIMEOUT_MS = 30_000;
/** Time for the node to release the previous join's peer before the next one opens. */
const PAUSE_BETWEEN_JOINS_MS = 1_000;

if (process.env.INSP_LIVE_LOOPBACK_NETNS !== "1") {
  const result = spawnSync("bash", ["scripts/lib/loopback-netns.sh", "npx", "tsx", "bench/media-join.ts", ...process.argv.slice(2)], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}

/** The stack as `npm start` runs it, on fresh state. */
function startBenchStack(): ReturnType<typeof startStack> {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  return startStack({ port: PORT, stateDir: STATE_DIR, logPath: path.join(STATE_DIR, "stack.log"), timeoutMs: START_TIMEOUT_MS });
}

/**
 * In the student's pages: every video element, as it appears, records when it presents its first frame
 * (`data-bench-first-frame`, in the page's performance.now() time).
 */
function recordFirstFrames(): void {
  interface BenchVideo {
    dataset: Record<string, string>;
    requestVideoFrameCallback(callback: (now: number) => void): void;
  }
  const page = globalThis as unknown as { document: { querySelectorAll(selector: string): { forEach(visit: (video: BenchVideo) => void): void } } } & {
    MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void };
  };
  const seen = new WeakSet<BenchVideo>();
  new page.MutationObserver(() => {
    page.document.querySelectorAll("video").forEach((video) => {
      if (seen.has(video)) return;
      seen.add(video);
      video.requestVideoFrameCallback((now) => {
        video.dataset.benchFirstFrame = String(now);
      });
    });
  }).observe(page.document, { subtree: true, childList: true });
}

async function apiPost<T>(context: BrowserContext, baseUrl: string, route: string, body: unknown): Promise<T> {
  const response = await context.request.post(route, { data: body, headers: { Origin: baseUrl } });
  if (!response.ok()) throw new Error(`${route}: ${response.status()} ${await response.text()}`);
  return (await response.json()) as T;
}

/** One join: open the live page, wait for the teacher's first frame, return both spans in ms. */
async function join(page: Page, classId: string, teacherId: string): Promise<{ fromMediaJoin: number; fromNavigation: number }> {
  await page.goto(`/classes/${classId}/live`);
  const selector = `[data-testid="media-tile"][data-user-id="${teacherId}"][data-source="video"] video[data-bench-first-frame]`;
  await page.waitForSelector(selector, { state: "attached", timeout: JOIN_TIMEOUT_MS });
  return page.evaluate((query) => {
    const view = globalThis as unknown as {
      document: { querySelector(selector: string): { dataset: Record<string, string> } | null };
      performance: { getEntriesByName(name: string): { startTime: number }[] };
    };
    const frameAt = Number(view.document.querySelector(query)!.dataset.benchFirstFrame);
    const joinAt = view.performance.getEntriesByName("insp-media-join")[0]?.startTime ?? Number.NaN;
    return { fromMediaJoin: frameAt - joinAt, fromNavigation: frameAt };
  }, selector);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(name: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const ms = (value: number) => `${Math.round(value)} ms`;
  return `| ${name} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 95))} | ${ms(sorted[0]!)} | ${ms(sorted.at(-1)!)} |`;
}

async function main(): Promise<void> {
  console.log(`media join benchmark: ${JOINS} joins (+1 warm-up), stack on port ${PORT}, state ${STATE_DIR}`);
  const { url: baseUrl, child } = await startBenchStack();
  const browser = await launchBrowser();
  try {
    const teacherContext = await newUserContext(browser, baseUrl);
    const teacherPage = await teacherContext.newPage();
    const teacherPerson = newPerson("teacher", "Bench Teacher");
    await signInWithSso(teacherPage, baseUrl, teacherPerson, "/");
    const teacherId = ((await (await teacherContext.request.get("/api/me")).json()) as { user: { id: string } }).user.id;
    const created = await apiPost<{ class: { id: string } }>(teacherContext, baseUrl, "/api/classes", { title: "Join benchmark" });
    const classId = created.class.id;
    const startsAt = Date.now() + 5 * 60_000;
    await apiPost(teacherContext, baseUrl, `/api/classes/${classId}/occurrences`, { startsAt, endsAt: startsAt + 3_600_000, timezone: "UTC" });
    await teacherPage.goto(`/classes/${classId}/live`);
    await teacherPage.waitForSelector(`[data-testid="media-tile"][data-user-id="${teacherId}"][data-video="live"]`, { timeout: JOIN_TIMEOUT_MS });

    const studentContext = await newUserContext(browser, baseUrl);
    await studentContext.addInitScript(recordFirstFrames);
    const studentPage = await studentContext.newPage();
    await signInWithSso(studentPage, baseUrl, newPerson("student", "Bench Student"), "/");
    await apiPost(studentContext, baseUrl, `/api/classes/${classId}/enrollment`, {});

    const fromMediaJoin: number[] = [];
    const fromNavigation: number[] = [];
    for (let index = 0; index <= JOINS; index++) {
      const figures = await join(studentPage, classId, teacherId);
      if (index > 0) {
        fromMediaJoin.push(figures.fromMediaJoin);
        fromNavigation.push(figures.fromNavigation);
        console.log(
          `join ${String(index).padStart(2)}: media.join → first frame ${Math.round(figures.fromMediaJoin)} ms, page open → first frame ${Math.round(figures.fromNavigation)} ms`,
        );
      }
      await studentPage.goto(`/classes/${classId}`);
      await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_JOINS_MS));
    }
    console.log("");
    console.log("| span | p50 | p95 | min | max |");
    console.log("| --- | --- | --- | --- | --- |");
    console.log(summary("media.join → first teacher frame", fromMediaJoin));
    console.log(summary("page open → first teacher frame", fromNavigation));
  } finally {
    await browser.close();
    await stopStack(child);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
