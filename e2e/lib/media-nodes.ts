/**
 * A live class with media on a node, which sfu-node a page's media is on, and whether a node's process still runs:
 * for the tests that kill, drain or move nodes under a live class.
 */
import { readFileSync } from "node:fs";
import type { Browser, Locator, Page } from "playwright-core";
import { expect } from "vitest";
import type { RecordingView } from "../../schema/api/recordings";
import { createClassWithStudents, enterLiveClass, type IdentifiedPerson, openMediaPerson } from "./live-class";
import { cameraAt, ourMediaWorkers, parentOf } from "./media-faults";
import { newPerson } from "./sso";

/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 30_000;

/** A live class whose student decodes its teacher's camera, both on node `nodeId`. */
export interface ClassWithMedia {
  classId: string;
  teacher: IdentifiedPerson;
  student: IdentifiedPerson;
  nodeId: string;
}

/**
 * A teacher and a student (named after `title`) in a new live class `title`, once the student decodes the teacher's
 * camera; both must be on one node, one of `nodeIds` (the nodes the test expects the class on).
 */
export async function classWithMedia(browser: Browser, baseUrl: string, title: string, nodeIds: readonly string[]): Promise<ClassWithMedia> {
  const teacher = await openMediaPerson(browser, baseUrl, newPerson("teacher", `${title} Teacher`));
  const student = await openMediaPerson(browser, baseUrl, newPerson("student", `${title} Student`));
  const classId = await createClassWithStudents(baseUrl, teacher, [student], { title, startsAt: Date.now() + 5 * 60_000 });
  for (const who of [teacher, student]) await enterLiveClass(who, classId, title);
  await expect
    .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
    .toBeGreaterThan(0);
  const nodeId = (await nodeOf(teacher.page))!;
  expect(nodeIds).toContain(nodeId);
  expect(await nodeOf(student.page)).toBe(nodeId);
  return { classId, teacher, student, nodeId };
}

/** The stack's own node: `npm start` runs it on the Worker's port + 40 with id `local-<port>`. */
export function stackNodeOf(baseUrl: string): { nodeId: string; httpUrl: string } {
  const port = Number(new URL(baseUrl).port) + 40;
  return { nodeId: `local-${port}`, httpUrl: `http://127.0.0.1:${port}` };
}

/** The node id a page's media is on (the media stage says it), once connected. */
export function nodeOf(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const stage = (globalThis as unknown as { document: { querySelector(s: string): { dataset: Record<string, string> } | null } }).document.querySelector(
      '[data-testid="media-stage"][data-status="connected"]',
    );
    return stage?.dataset.nodeId || null;
  });
}

/** Whether process `pid` still runs (an exited child not yet reaped counts as gone). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The sfu-node process of the stack: the one parent of mediasoup workers besides the extra nodes `others`. */
export function stackNodePid(...others: { pid: number }[]): number {
  const skip = new Set(others.map((node) => node.pid));
  const parents = new Set(
    ourMediaWorkers()
      .map(parentOf)
      .filter((pid): pid is number => pid !== null && !skip.has(pid)),
  );
  if (parents.size !== 1) throw new Error(`expected one stack sfu-node, found ${parents.size} parents of mediasoup workers`);
  return [...parents][0]!;
}

/**
 * The teacher stops the recording (REC goes off for `rec`'s page); resolves, oldest first, with the class's two
 * recording parts once both are published (`ready`), within `timeoutMs`.
 */
export async function stopForTwoParts(teacher: IdentifiedPerson, classId: string, rec: Locator, timeoutMs: number): Promise<[RecordingView, RecordingView]> {
  await teacher.page.getByRole("button", { name: "■ Stop recording" }).click();
  await rec.waitFor({ state: "detached" });
  let parts: RecordingView[] = [];
  await expect
    .poll(
      async () => {
        const response = await teacher.context.request.get(`/api/classes/${classId}/recordings`);
        parts = ((await response.json()) as { recordings: RecordingView[] }).recordings.sort((a, b) => a.startedAt - b.startedAt);
        return parts.map((part) => part.status);
      },
      { timeout: timeoutMs, interval: 1_000 },
    )
    .toEqual(["ready", "ready"]);
  return parts as [RecordingView, RecordingView];
}
