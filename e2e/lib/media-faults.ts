/**
 * What the media tests look at in a page and on this machine: what the browser received of someone's camera, screen
 * or microphone (its own WebRTC statistics), and the processes of the stack this test run started (its sfu-node and
 * mediasoup workers).
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import type { PagePeerConnection } from "./peer-connections";

interface PageWindow {
  document: { querySelector(selector: string): { srcObject: { getTracks(): { id: string; readyState: "live" | "ended" }[] } | null } | null };
  __e2ePeerConnections: PagePeerConnection[];
}

/** What a page received so far of one person's camera, screen or microphone. */
export interface InboundFigures {
  /** The track the page plays it on (a new one after the media moved). */
  trackId: string;
  framesDecoded: number;
  /** Height of the last decoded frame: which simulcast layer arrives. */
  frameHeight: number;
  packetsReceived: number;
  totalSamplesReceived: number;
  trackEnded: boolean;
}

/**
 * The browser's inbound-rtp statistics for the track one tile (video/screen) or audio element (audio) plays for
 * `userId`; null while there is no such element. The page must register its peer connections (`openMediaPerson`).
 */
export async function inbound(page: Page, userId: string, source: "video" | "screen" | "audio"): Promise<InboundFigures | null> {
  return page.evaluate(
    async ({ userId, source }) => {
      const page = globalThis as unknown as PageWindow;
      const selector =
        source === "audio" ? `audio[data-user-id="${userId}"]` : `[data-testid="media-tile"][data-user-id="${userId}"][data-source="${source}"] video`;
      const track = page.document.querySelector(selector)?.srcObject?.getTracks()[0];
      if (!track) return null;
      const figures = {
        trackId: track.id,
        framesDecoded: 0,
        frameHeight: 0,
        packetsReceived: 0,
        totalSamplesReceived: 0,
        trackEnded: track.readyState === "ended",
      };
      for (const connection of page.__e2ePeerConnections) {
        if (connection.connectionState === "closed") continue;
        (await connection.getStats()).forEach((report) => {
          if (report.type !== "inbound-rtp" || report.trackIdentifier !== track.id) return;
          figures.framesDecoded = Number(report.framesDecoded ?? 0);
          figures.frameHeight = Number(report.frameHeight ?? 0);
          figures.packetsReceived = Number(report.packetsReceived ?? 0);
          figures.totalSamplesReceived = Number(report.totalSamplesReceived ?? 0);
        });
      }
      return figures;
    },
    { userId, source },
  );
}

/** What the page's tile of `userId`'s camera received: which track it plays and how many of its frames were decoded. */
export function cameraAt(page: Page, userId: string): Promise<InboundFigures | null> {
  return inbound(page, userId, "video");
}

/** What the page received so far of `userId`'s microphone (its audio element's track); null while there is none. */
export function microphoneAt(page: Page, userId: string): Promise<InboundFigures | null> {
  return inbound(page, userId, "audio");
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
