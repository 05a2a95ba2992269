import { FLEET_STALE_AFTER_MS } from "../schema/protocol/fleet";
import { distanceKm, type JoinerLocation } from "../schema/regions";
import { MEDIA_TOKEN_ISSUER, type MediaTokenGrant } from "../schema/tokens/media-token";
import { signWithWorkerKey } from "../schema/tokens/worker-key";

/** Media tokens live 10 minutes; the web app renews with `media.renew` (same node) before then. */
export const MEDIA_TOKEN_LIFETIME_SECONDS = 600;

/** Two nodes closer than this to each other (as seen from the joiner) count as equally near. */
const SAME_DISTANCE_KM = 300;

export interface CandidateNode {
  id: string;
  region: string;
  publicUrl: string;
  consumers: number;
  maxConsumers: number;
  /** When the node's process last registered (UTC ms): a restart shows here. */
  registeredAt?: number;
}

/** How long the class object reuses the fleet registry it read: one D1 read serves a whole burst of joins. */
export const NODE_DIRECTORY_TTL_MS = 2_000;

type RegisteredNode = CandidateNode & { lastHeartbeatAt: number };

/**
 * The fleet registry (D1 `sfu_nodes`) as one class object sees it: read at most once per
 * {@link NODE_DIRECTORY_TTL_MS} (concurrent callers share the read), so 300 students pressing "join media" at the
 * start of a class cost one query, not 300. Health is judged at each call against the heartbeats read (a node
 * silent for {@link FLEET_STALE_AFTER_MS} is left out), so a cached list never revives a dead node; load figures
 * are at most that much older than the registry's, which itself moves only with the 10-second heartbeats.
 */
export class NodeDirectory {
  private read: { at: number; nodes: Promise<RegisteredNode[]> } | null = null;

  constructor(
    private readonly db: D1Database,
    private readonly ttlMs = NODE_DIRECTORY_TTL_MS,
  ) {}

  /** Healthy nodes (a heartbeat within {@link FLEET_STALE_AFTER_MS} of `now`). */
  async healthy(now: number): Promise<CandidateNode[]> {
    if (!this.read || now - this.read.at >= this.ttlMs || now < this.read.at) {
      const nodes = this.db
        .prepare(
          `SELECT id, region, public_url AS publicUrl, consumers, max_consumers AS maxConsumers, registered_at AS registeredAt, last_heartbeat_at AS lastHeartbeatAt FROM sfu_nodes`,
        )
        .all<RegisteredNode>()
        .then(({ results }) => results);
      const read = { at: now, nodes };
      this.read = read;
      // A failed read is not kept: the next caller tries again.
      nodes.catch(() => {
        if (this.read === read) this.read = null;
      });
    }
    const nodes = await this.read.nodes;
    return nodes.filter((node) => node.lastHeartbeatAt >= now - FLEET_STALE_AFTER_MS).map(({ lastHeartbeatAt: _, ...node }) => node);
  }
}

/**
 * The node for a joiner: among nodes with headroom (consumers below their maximum), the nearest to them, then
 * the least loaded. Where the class already is does not count: the class object pipes every stream a node's
 * participants watch from the node it lives on (./cascade.ts), so each participant gets their own nearest node
 * and a class spreads over as many nodes as its participants are near. Null when none has room.
 */
export function pickNode(nodes: readonly CandidateNode[], joiner: JoinerLocation): CandidateNode | null {
  const open = nodes.filter((node) => node.consumers < node.maxConsumers);
  if (open.length === 0) return null;
  const ranked = open.map((node) => ({ node, distance: distanceKm(joiner, node.region), load: node.consumers / Math.max(1, node.maxConsumers) }));
  ranked.sort((a, b) => {
    const near = bucket(a.distance) - bucket(b.distance);
    if (near !== 0) return near;
    return a.load - b.load || a.node.id.localeCompare(b.node.id);
  });
  return ranked[0]!.node;
}

function bucket(distance: number): number {
  return Number.isFinite(distance) ? Math.floor(distance / SAME_DISTANCE_KM) : Number.MAX_SAFE_INTEGER;
}

/** Signs a media token for `node` (audience = its id) with the Worker's key. */
export async function signMediaToken(
  signingKeySource: string | undefined,
  node: CandidateNode,
  userId: string,
  grant: MediaTokenGrant,
): Promise<{ token: string; expiresAt: number; expiresInMs: number }> {
  // The same second the signer puts in `exp`, so the client renews in time.
  const now = Date.now();
  const expiresAt = (Math.floor(now / 1000) + MEDIA_TOKEN_LIFETIME_SECONDS) * 1000;
  const token = await signWithWorkerKey(signingKeySource, grant, {
    audience: node.id,
    issuer: MEDIA_TOKEN_ISSUER,
    expiresInSeconds: MEDIA_TOKEN_LIFETIME_SECONDS,
    subject: userId,
  });
  return { token, expiresAt, expiresInMs: expiresAt - now };
}

/** `ws(s)://<node>/media/<classId>?token=…` from the node's public http(s) URL. */
export function signalingUrl(node: CandidateNode, classId: string, token: string): string {
  const url = new URL(node.publicUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/media/${encodeURIComponent(classId)}`;
  url.search = `?token=${encodeURIComponent(token)}`;
  return url.toString();
}
