import { log } from "./log";
import type { MediaNode } from "./Node";

/** How often a draining node looks whether its last peer left. */
const PEERS_CHECK_MS = 100;

/** What a drain needs of the node's parts (each optional part may be missing: a node without a fleet key). */
export interface DrainParts {
  node: MediaNode;
  /** The media signaling server: refuses new joins from now on. */
  signaling: { refuseJoins(): void };
  /** The fleet registry link: says `draining` in a heartbeat now. */
  fleetLink?: { drain(): void };
  /** The class links: each class object hears `draining` and moves the node's people. */
  classLinks?: { drain(exitsAt: number): void };
}

/** How a drain ended: every peer left, or the deadline came first. */
export type DrainOutcome = "empty" | "deadline";

/** How many peers the node carries in all its rooms. */
export function peerCount(node: MediaNode): number {
  let peers = 0;
  for (const room of node.rooms.values()) peers += room.peers.size;
  return peers;
}

/**
 * A node shutting down (SIGTERM) without dropping its classes: it stops taking joins, tells the fleet registry
 * (no class assigns anyone to it any more) and every class object over its class link (each moves its people
 * to another node, spread over a short window), and resolves when its last peer has left or at `deadlineMs`,
 * whichever comes first. The caller then stops recordings and exits as before. A rolling restart of the fleet
 * is thus a rejoin of a second or two for each participant instead of an outage.
 */
export async function drain(parts: DrainParts, deadlineMs: number): Promise<DrainOutcome> {
  const startedAt = Date.now();
  const exitsAt = startedAt + deadlineMs;
  parts.signaling.refuseJoins();
  parts.fleetLink?.drain();
  parts.classLinks?.drain(exitsAt);
  log("info", "sfu_draining", { peers: peerCount(parts.node), rooms: parts.node.rooms.size, deadlineMs });
  const outcome = await new Promise<DrainOutcome>((resolve) => {
    const check = () => {
      if (peerCount(parts.node) === 0) return resolve("empty");
      if (Date.now() >= exitsAt) return resolve("deadline");
      setTimeout(check, PEERS_CHECK_MS);
    };
    check();
  });
  log("info", "sfu_drained", { outcome, peersLeft: peerCount(parts.node), tookMs: Date.now() - startedAt });
  return outcome;
}

/**
 * Makes `handler` the process's only SIGTERM listener, now and later. mediasoup registers one per worker that
 * closes the worker at once (every peer's media gone before a drain could move anyone); a worker started later
 * (one replacing a dead one) registers again, so listeners added afterwards are removed as they come.
 */
export function takeOverSigterm(handler: () => void): void {
  const others = (listener: unknown) => listener !== handler;
  for (const listener of process.listeners("SIGTERM").filter(others)) process.removeListener("SIGTERM", listener);
  process.on("newListener", (event, listener) => {
    // Called before the listener is added: remove it right after.
    if (event === "SIGTERM" && others(listener)) queueMicrotask(() => process.removeListener("SIGTERM", listener));
  });
  process.on("SIGTERM", handler);
}
