/**
 * What the fault tests look at in a page and on this machine: which camera track a tile plays and how many of its
 * frames were decoded, and the processes of the stack this test run started (its sfu-node and mediasoup workers).
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import type { PagePeerConnection } from "./peer-connections";

interface PageWindow {
  document: { querySelector(selector: string): { srcObject: { getTracks(): { id: string }[] } | null } | null };
  __e2ePeerConnections: PagePeerConnection[];
}

/** The track the student's tile of `userId`'s camera plays, and how many of its frames the browser decoded. */
export async function cameraAt(page: Page, userId: string): Promise<{ trackId: string; framesDecoded: number } | null> {
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

/** What the page received so far of `userId`'s microphone (its audio element's track); null while there is none. */
export async function microphoneAt(page: Page, userId: string): Promise<{ packetsReceived: number; totalSamplesReceived: number } | null> {
  return page.evaluate(async (userId) => {
    const page = globalThis as unknown as PageWindow;
    const track = page.document.querySelector(`audio[data-user-id="${userId}"]`)?.srcObject?.getTracks()[0];
    if (!track) return null;
    const figures = { packetsReceived: 0, totalSamplesReceived: 0 };
    for (const connection of page.__e2ePeerConnections) {
      if (connection.connectionState === "closed") continue;
      (await connection.getStats()).forEach((report) => {
        if (report.type !== "inbound-rtp" || report.trackIdentifier !== track.id) return;
        figures.packetsReceived = Number(report.packetsReceived ?? 0);
        figures.totalSamplesReceived = Number(report.totalSamplesReceived ?? 0);
      });
    }
    return figures;
  }, userId);
}

/** The mediasoup worker processes under this test run (the stack's sfu-node is started by the global setup). */
export function ourMediaWorkers(): number[] {
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
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The worker forwarding the class's media: the one that works while the class runs (the other idles). */
export async function busiestWorker(pids: number[]): Promise<number> {
  const before = new Map(pids.map((pid) => [pid, cpuTicks(pid)]));
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const used = pids.map((pid) => ({ pid, ticks: cpuTicks(pid) - before.get(pid)! }));
  used.sort((a, b) => b.ticks - a.ticks);
  if (used.length > 1 && used[0]!.ticks === used[1]!.ticks) throw new Error(`cannot tell which worker carries the class: ${JSON.stringify(used)}`);
  return used[0]!.pid;
}

/** The parent process of `pid` (the sfu-node of a mediasoup worker), or null when it is gone. */
export function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}
