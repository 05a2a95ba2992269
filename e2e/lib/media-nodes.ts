/**
 * Which sfu-node a page's media is on, and whether a node's process still runs: for the tests that kill, drain or
 * move nodes under a live class.
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { ourMediaWorkers, parentOf } from "./media-faults";

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
