import type { ClassMediaNode } from "../schema/api/class-media";
import type { ClassroomNotification, MediaMoveReason } from "../schema/protocol/classroom";
import { FLEET_STALE_AFTER_MS } from "../schema/protocol/fleet";
import type { RoomStorage } from "./storage";

/**
 * How long a node's class link may stay closed before its people are moved. A link drops and comes back within
 * a second or two when the network between the node and Cloudflare hiccups; a killed node's never comes back.
 */
export const NODE_LOST_GRACE_MS = 3_000;
/** Moves are spread over a window of this much per person moving (1 s per 100)… */
export const MOVE_WINDOW_PER_PERSON_MS = 10;
/** …at least this long (a handful of people still arrive at different moments)… */
export const MOVE_WINDOW_MIN_MS = 500;
/** …and at most this long, so the last of a large class is not kept waiting. */
export const MOVE_WINDOW_MAX_MS = 5_000;
/**
 * A lost or draining node is left out of assignment this long (or until its process registers again). By then
 * the fleet registry speaks for itself: a dead node's last heartbeat is older than {@link FLEET_STALE_AFTER_MS},
 * and a draining node's heartbeats say it is full.
 */
export const NODE_EXCLUDED_FOR_MS = FLEET_STALE_AFTER_MS + NODE_LOST_GRACE_MS;

/** The window a move of `count` people is spread over. */
export function moveWindowMs(count: number): number {
  return Math.min(MOVE_WINDOW_MAX_MS, Math.max(MOVE_WINDOW_MIN_MS, count * MOVE_WINDOW_PER_PERSON_MS));
}

const SCHEMA = [
  // Whose media is on which node: written at `media.join` (where the class sent them) and by the node's own
  // `sync` (who really is there); gone when they leave the node or the class.
  `CREATE TABLE IF NOT EXISTS media_assignments (user_id TEXT PRIMARY KEY, node_id TEXT NOT NULL)`,
  // Nodes left out of assignment for this class: lost (link closed) or draining, until `until`.
  `CREATE TABLE IF NOT EXISTS media_excluded_nodes (node_id TEXT PRIMARY KEY, reason TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER NOT NULL)`,
];

type ExclusionReason = "lost" | "draining";

interface ExcludedRow extends Record<string, string | number | null> {
  node_id: string;
  reason: ExclusionReason;
  since: number;
  until: number;
}

/** What the failover needs of the class object. */
export interface FailoverHost {
  /** Whether the node has an open class link now. */
  linked(nodeId: string): boolean;
  /** Sends a frame to every open socket of the participant. */
  sendTo(userId: string, frame: string): void;
  /** Whether the user is in the class now. */
  present(userId: string): boolean;
  /** The user's name, for the admins' view. */
  displayName(userId: string): string | null;
}

/**
 * The class object directing its people off a node that is gone or draining. A class link that closes without
 * a clean goodbye makes its node suspect at once (left out of assignment); if the link is not back within
 * {@link NODE_LOST_GRACE_MS}, everyone whose media is on it gets `media.move` — each at a random moment of a
 * window that grows with how many move ({@link moveWindowMs}) — and rejoins on another node. A draining node
 * (its `draining` notification) is left out and moved off at once. The clients' own rejoin ladder stays the
 * backstop; a person who already rejoined elsewhere is not moved.
 *
 * The timers are the object's own: a pending timer keeps it from hibernating for the few seconds they run.
 */
export class Failover {
  private readonly graceTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly storage: RoomStorage,
    private readonly host: FailoverHost,
    private readonly random: () => number = Math.random,
  ) {
    for (const statement of SCHEMA) storage.run(statement);
  }

  /** The class sent `userId` to `nodeId` (`media.join`, `media.renew`). */
  assigned(userId: string, nodeId: string): void {
    this.storage.run(`INSERT OR REPLACE INTO media_assignments (user_id, node_id) VALUES (?, ?)`, userId, nodeId);
  }

  /** The node reports the user there (`sync`); an assignment made since (`media.join`) is newer and stays. */
  seenOn(userId: string, nodeId: string): void {
    this.storage.run(`INSERT OR IGNORE INTO media_assignments (user_id, node_id) VALUES (?, ?)`, userId, nodeId);
  }

  /** The user's media socket on `nodeId` closed (their media may already be elsewhere: then nothing changes). */
  leftNode(userId: string, nodeId: string): void {
    this.storage.run(`DELETE FROM media_assignments WHERE user_id = ? AND node_id = ?`, userId, nodeId);
  }

  /** The user left the class. */
  leftClass(userId: string): void {
    this.storage.run(`DELETE FROM media_assignments WHERE user_id = ?`, userId);
  }

  /**
   * Nodes no one may be assigned to now. A node whose process registered again since it was left out (`registered`:
   * the registry's registration times, by node) is a new process: it takes people again at once.
   */
  excluded(now: number, registered: ReadonlyMap<string, number> = new Map()): Set<string> {
    this.storage.run(`DELETE FROM media_excluded_nodes WHERE until <= ?`, now);
    for (const row of this.activeExclusions(now)) {
      if ((registered.get(row.node_id) ?? 0) > row.since) this.storage.run(`DELETE FROM media_excluded_nodes WHERE node_id = ?`, row.node_id);
    }
    return new Set(this.storage.all<{ node_id: string }>(`SELECT node_id FROM media_excluded_nodes`).map((row) => row.node_id));
  }

  /**
   * The node's last class link closed. `clean`: the node said goodbye (code 1000: its room for the class closed
   * with its last peer, or it finished draining) — nobody is left there and it stays a good node.
   */
  linkClosed(nodeId: string, clean: boolean, now: number): void {
    if (clean) return;
    if (this.exclusion(nodeId)?.reason !== "draining") this.exclude(nodeId, "lost", now);
    clearTimeout(this.graceTimers.get(nodeId));
    this.graceTimers.set(
      nodeId,
      setTimeout(() => {
        this.graceTimers.delete(nodeId);
        if (this.host.linked(nodeId)) return;
        this.move(nodeId, "node-lost");
      }, NODE_LOST_GRACE_MS),
    );
  }

  /** The node's link is back (its `sync` arrived) within the grace: nobody moves, and it may be assigned again. */
  linkBack(nodeId: string): void {
    clearTimeout(this.graceTimers.get(nodeId));
    this.graceTimers.delete(nodeId);
    // A draining node's link may come back while it drains; it stays out.
    if (this.exclusion(nodeId)?.reason === "lost") this.storage.run(`DELETE FROM media_excluded_nodes WHERE node_id = ?`, nodeId);
  }

  /**
   * The node's heartbeats stopped in the fleet registry while its class link stays open (a hung process, or a
   * node cut off from the Worker but not from this object): it is left out and its people move now.
   */
  silent(nodeId: string, now: number): void {
    if (this.exclusion(nodeId)) return;
    this.exclude(nodeId, "lost", now);
    this.move(nodeId, "node-lost");
  }

  /**
   * A participant could not open a media socket on the node the class sent them to. A node killed without a word
   * stays healthy in the fleet registry until its heartbeats are stale (30 s), and the class would send every
   * newcomer there meanwhile; believed, it is left out like a lost node at the first failed try. Not believed of a
   * node linked to the class: that node is up, whatever one client's network says.
   */
  unreachable(nodeId: string, now: number): void {
    if (this.host.linked(nodeId) || this.exclusion(nodeId)) return;
    this.exclude(nodeId, "lost", now);
  }

  /** The node is shutting down: it is left out of assignment and its people move now. */
  draining(nodeId: string, now: number): void {
    if (this.exclusion(nodeId)?.reason === "draining") return;
    this.exclude(nodeId, "draining", now);
    this.move(nodeId, "node-draining");
  }

  /** The class's media by node, for admins: linked nodes, nodes being moved off, and nodes people are on. */
  view(linkedNodes: readonly string[], regions: ReadonlyMap<string, string>, now: number): ClassMediaNode[] {
    const excluded = new Map(this.activeExclusions(now).map((row) => [row.node_id, row.reason]));
    const people = new Map<string, { userId: string; displayName: string }[]>();
    for (const { user_id: userId, node_id: nodeId } of this.storage.all<{ user_id: string; node_id: string }>(
      `SELECT user_id, node_id FROM media_assignments ORDER BY node_id, user_id`,
    )) {
      const displayName = this.host.displayName(userId);
      if (displayName === null) continue;
      people.set(nodeId, [...(people.get(nodeId) ?? []), { userId, displayName }]);
    }
    const nodeIds = [...new Set([...linkedNodes, ...excluded.keys(), ...people.keys()])].sort();
    return nodeIds.map((nodeId) => {
      const reason = excluded.get(nodeId);
      const onNode = people.get(nodeId) ?? [];
      return {
        nodeId,
        region: regions.get(nodeId) ?? null,
        state: reason ?? (linkedNodes.includes(nodeId) ? "linked" : "assigned"),
        peopleCount: onNode.length,
        people: onNode,
      };
    });
  }

  /** Tells everyone still on `nodeId` to move, each at a random moment of the window. */
  private move(nodeId: string, reason: MediaMoveReason): void {
    const users = this.onNode(nodeId).filter((userId) => this.host.present(userId));
    const window = moveWindowMs(users.length);
    const frame = JSON.stringify({ notification: "media.move", data: { reason, nodeId } } satisfies ClassroomNotification);
    console.log(JSON.stringify({ event: "media_move", nodeId, reason, people: users.length, windowMs: window }));
    for (const userId of users) {
      setTimeout(
        () => {
          // Someone whose ladder already took them elsewhere stays where they are.
          if (this.onNode(nodeId).includes(userId) && this.host.present(userId)) this.host.sendTo(userId, frame);
        },
        Math.floor(this.random() * window),
      );
    }
  }

  private onNode(nodeId: string): string[] {
    return this.storage.all<{ user_id: string }>(`SELECT user_id FROM media_assignments WHERE node_id = ?`, nodeId).map((row) => row.user_id);
  }

  private exclude(nodeId: string, reason: ExclusionReason, now: number): void {
    this.storage.run(
      `INSERT OR REPLACE INTO media_excluded_nodes (node_id, reason, since, until) VALUES (?, ?, ?, ?)`,
      nodeId,
      reason,
      now,
      now + NODE_EXCLUDED_FOR_MS,
    );
  }

  private exclusion(nodeId: string): ExcludedRow | null {
    return this.storage.one<ExcludedRow>(`SELECT * FROM media_excluded_nodes WHERE node_id = ?`, nodeId);
  }

  private activeExclusions(now: number): ExcludedRow[] {
    return this.storage.all<ExcludedRow>(`SELECT * FROM media_excluded_nodes WHERE until > ?`, now);
  }
}
