/**
 * kill -9 of the mediasoup worker under a live class, seen from the browser: a teacher and a student in real
 * Chromium against the whole stack, the worker forwarding the teacher's camera is killed, and the student's
 * page must decode the teacher's camera again without anyone touching anything (the node tells the media
 * session to reconnect; it rejoins).
 *
 * Only workers of the stack this run started are candidates: descendants of this test run's processes.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, newUserContext } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openIdentifiedPerson } from "./lib/live-class";
import { type PagePeerConnection, registerPeerConnections } from "./lib/peer-connections";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 30_000;

interface PageWindow {
  document: { querySelector(selector: string): { srcObject: { getTracks(): { id: string }[] } | null } | null };
  __e2ePeerConnections: PagePeerConnection[];
}

/** The track the student's tile of `userId`'s camera plays, and how many of its frames the browser decoded. */
async function cameraAt(page: Page, userId: string): Promise<{ trackId: string; framesDecoded: number } | null> {
  return page.evaluate(async (userId) => {
    const page = globalThis as unknown as PageWindow;
    const track = page.document.querySelector(`[data-testid="media-tile"][data-user-id="${userId}"][data-source="video"] video`)?.srcObject?.getTracks()[0];
    if (!track) return null;
    let framesDecoded = 0;
    for (const connection of page.__e2ePeerConnections) {
      if (connection.connectionState === "closed") continue;
      (await connection.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp" && report.trackIdentifier === track.id) framesDecoded = Number(report.framesDecoded ?? 0);
      });
    }
    return { trackId: track.id, framesDecoded };
  }, userId);
}

/** The mediasoup worker processes under this test run (the stack's sfu-node is started by the global setup). */
function ourMediaWorkers(): number[] {
  const parents = new Map<number, number>();
  const workers: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces, so read after its closing parenthesis.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
      if (comm.startsWith("mediasoup-worke")) workers.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  const ours = new Set([process.pid, process.ppid]);
  const descends = (pid: number): boolean => {
    for (let current = parents.get(pid); current !== undefined && current > 1; current = parents.get(current)) if (ours.has(current)) return true;
    return false;
  };
  return workers.filter(descends);
}

/** CPU time (clock ticks) a process used so far. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The worker forwarding the class's media: the one that works while the class runs (the other idles). */
async function busiestWorker(pids: number[]): Promise<number> {
  const before = new Map(pids.map((pid) => [pid, cpuTicks(pid)]));
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const used = pids.map((pid) => ({ pid, ticks: cpuTicks(pid) - before.get(pid)! }));
  used.sort((a, b) => b.ticks - a.ticks);
  if (used.length > 1 && used[0]!.ticks === used[1]!.ticks) throw new Error(`cannot tell which worker carries the class: ${JSON.stringify(used)}`);
  return used[0]!.pid;
}

describe("kill -9 of the mediasoup worker under a live class, in the browser", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const open = async (person: SsoPerson) => {
    const context = await newUserContext(browser, baseUrl);
    await context.addInitScript(registerPeerConnections);
    return openIdentifiedPerson(browser, baseUrl, person, context);
  };

  it("the student sees the teacher's camera again by itself, and the node has both its workers again", async () => {
    const teacher = await open(newPerson("teacher", "Tara Teacher"));
    const student = await open(newPerson("student", "Sam Student"));
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Resilient physics", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Resilient physics");
    await expect
      .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    const before = (await cameraAt(student.page, teacher.userId))!;

    const workers = ourMediaWorkers();
    expect(workers.length).toBeGreaterThanOrEqual(1);
    const victim = workers.length === 1 ? workers[0]! : await busiestWorker(workers);
    const killedAt = Date.now();
    process.kill(victim, "SIGKILL");

    // A new track (the rejoin's consumer) plays the teacher's camera, and frames of it are decoded.
    await expect
      .poll(
        async () => {
          const now = await cameraAt(student.page, teacher.userId);
          return now !== null && now.trackId !== before.trackId && now.framesDecoded > 0;
        },
        { timeout: MEDIA_TIMEOUT_MS, interval: 100 },
      )
      .toBe(true);
    const mediaAgainMs = Date.now() - killedAt;
    // And keeps coming.
    const first = (await cameraAt(student.page, teacher.userId))!;
    await expect
      .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(first.framesDecoded);

    // The node replaced the worker: as many workers as before, the killed one not among them.
    await expect.poll(() => ourMediaWorkers().length, { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBe(workers.length);
    expect(ourMediaWorkers()).not.toContain(victim);
    console.log(JSON.stringify({ figure: "worker_kill_browser_media_again", mediaAgainMs, workers: workers.length }));
    await teacher.context.close();
    await student.context.close();
  });
});
