/**
 * kill -9 of the mediasoup worker under a live class, seen from the browser: a teacher and a student in real
 * Chromium against the whole stack, the worker forwarding the teacher's camera is killed, and the student's
 * page must decode the teacher's camera again without anyone touching anything (the node tells the media
 * session to reconnect; it rejoins).
 *
 * Then the whole sfu-node is killed (kill -9 of its process): `npm start` supervises it, so the Worker and the
 * local store stay up, the node is started again with the same id, and the student's page decodes the teacher's
 * camera again without anyone touching anything.
 *
 * Only processes of the stack this run started are candidates: descendants of this test run's processes.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openMediaPerson } from "./lib/live-class";
import { busiestWorker, cameraAt, ourMediaWorkers, parentOf } from "./lib/media-faults";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 30_000;

describe("kill -9 of the media plane under a live class, in the browser", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const open = (person: SsoPerson) => openMediaPerson(browser, baseUrl, person);

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

  it("a killed sfu-node comes back by itself under npm start, the rest of the stack stays up, and the student sees the teacher again", {
    timeout: 180_000,
  }, async () => {
    const teacher = await open(newPerson("teacher", "Nia Teacher"));
    const student = await open(newPerson("student", "Omar Student"));
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Node restart", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Node restart");
    await expect
      .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    const before = (await cameraAt(student.page, teacher.userId))!;

    const nodes = new Set(ourMediaWorkers().map(parentOf));
    expect(nodes.size).toBe(1);
    const node = [...nodes][0]!;
    const killedAt = Date.now();
    process.kill(node, "SIGKILL");

    // The Worker answers throughout (a dead node used to take the whole stack down).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await fetch(`${baseUrl}/api/health`)).status).toBe(200);

    // A new node process with its own workers, and the student decodes the teacher's camera on a new track.
    await expect
      .poll(
        async () => {
          const now = await cameraAt(student.page, teacher.userId);
          return now !== null && now.trackId !== before.trackId && now.framesDecoded > 0;
        },
        { timeout: 120_000, interval: 250 },
      )
      .toBe(true);
    const mediaAgainMs = Date.now() - killedAt;
    const restarted = new Set(ourMediaWorkers().map(parentOf));
    expect(restarted.size).toBe(1);
    expect(restarted.has(node)).toBe(false);
    expect((await fetch(`${baseUrl}/api/health`)).status).toBe(200);
    console.log(JSON.stringify({ figure: "node_kill_browser_media_again", mediaAgainMs }));
    await teacher.context.close();
    await student.context.close();
  });
});
