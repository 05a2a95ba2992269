import { and, asc, eq, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { sfuNodeKeys, sfuNodes } from "../../schema/db";
import {
  FLEET_HEARTBEAT_INTERVAL_MS,
  FLEET_STALE_AFTER_MS,
  type FleetAck,
  FleetHeartbeatSchema,
  FleetKeyEnrolSchema,
  type FleetKeyResponse,
  type FleetKeysResponse,
  type FleetKeyView,
  FleetRegisterSchema,
  SfuNodeIdSchema,
  type SfuNodeView,
} from "../../schema/protocol/fleet";
import { nodeKeyId } from "../../schema/tokens/node-token";
import type { AppEnv } from "../app-env";
import { requireRole } from "../auth/session";
import { ApiError } from "../errors";
import { requireEnrolmentSecret, requireNode } from "../fleet/node-auth";
import { rescueOffers } from "../portal/recording-rescue";
import { jsonBody, parse } from "../validate";

/**
 * The SFU fleet registry. Every node → Worker request carries a node token signed by the node's own enrolled
 * key (worker/fleet/node-auth.ts); a node registers and heartbeats only as the node its key was enrolled for,
 * so a node's key cannot move another node's classes to a new publicUrl. These paths are exempt from the
 * same-origin check: the tokens and the enrolment secret are their authentication. Operators enrol and revoke
 * node keys with FLEET_ENROLMENT_SECRET; admins list the fleet.
 */
export const fleetRoutes = new Hono<AppEnv>();

type SfuNode = typeof sfuNodes.$inferSelect;
type SfuNodeKey = typeof sfuNodeKeys.$inferSelect;

fleetRoutes.post("/api/fleet/register", async (c) => {
  const nodeId = await requireNode(c);
  const body = await jsonBody(c, FleetRegisterSchema);
  requireOwnId(nodeId, body.nodeId);
  const now = Date.now();
  const load = { cpuLoad: body.load.cpu, transports: body.load.transports, consumers: body.load.consumers, maxConsumers: body.load.maxConsumers };
  const [row] = await c.var.db
    .insert(sfuNodes)
    .values({ id: nodeId, region: body.region, publicUrl: body.publicUrl, ...load, registeredAt: now, lastHeartbeatAt: now })
    .onConflictDoUpdate({ target: sfuNodes.id, set: { region: body.region, publicUrl: body.publicUrl, ...load, registeredAt: now, lastHeartbeatAt: now } })
    .returning();
  return c.json(ack(row!, now));
});

fleetRoutes.post("/api/fleet/heartbeat", async (c) => {
  const nodeId = await requireNode(c);
  const body = await jsonBody(c, FleetHeartbeatSchema);
  requireOwnId(nodeId, body.nodeId);
  const now = Date.now();
  const [row] = await c.var.db
    .update(sfuNodes)
    .set({
      cpuLoad: body.load.cpu,
      transports: body.load.transports,
      consumers: body.load.consumers,
      // A draining node counts as full: no class assigns anyone to it (schema/protocol/fleet.ts).
      maxConsumers: body.draining ? 0 : body.load.maxConsumers,
      lastHeartbeatAt: now,
    })
    .where(eq(sfuNodes.id, nodeId))
    .returning();
  // An unknown node (the registry was reset) registers again on this answer.
  if (!row) throw new ApiError("NOT_FOUND", `Node ${nodeId} is not registered; register first`);
  // A node with room to work finishes what lost nodes left (portal/recording-rescue.ts).
  if (body.draining) return c.json(ack(row, now));
  const rescue = await rescueOffers(c.var.db, nodeId, now);
  return c.json(rescue.length > 0 ? { ...ack(row, now), rescue } : ack(row, now));
});

// ─── operators: node keys ───────────────────────────────────────────────────────────────────────────────────

fleetRoutes.post("/api/fleet/keys", async (c) => {
  await requireEnrolmentSecret(c);
  const body = await jsonBody(c, FleetKeyEnrolSchema);
  const kid = await nodeKeyId(body.publicKey);
  const existing = await c.var.db.query.sfuNodeKeys.findFirst({ where: eq(sfuNodeKeys.kid, kid) });
  if (existing) {
    // Enrolling the same key for the same node again is a no-op, so the start script and operators may retry.
    if (existing.nodeId !== body.nodeId) throw new ApiError("CONFLICT", `This key is enrolled for node ${existing.nodeId}; a key belongs to one node`);
    if (existing.revokedAt !== null) throw new ApiError("CONFLICT", "This key was revoked; generate a new one");
    return c.json({ key: keyView(existing) } satisfies FleetKeyResponse);
  }
  const [row] = await c.var.db
    .insert(sfuNodeKeys)
    .values({ kid, nodeId: body.nodeId, publicJwk: JSON.stringify(body.publicKey), enrolledAt: Date.now() })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ApiError("CONFLICT", "This key was enrolled meanwhile; list the keys and try again");
  return c.json({ key: keyView(row) } satisfies FleetKeyResponse, 201);
});

fleetRoutes.get("/api/fleet/keys", async (c) => {
  await requireEnrolmentSecret(c);
  const nodeId = c.req.query("nodeId");
  const rows = await c.var.db
    .select()
    .from(sfuNodeKeys)
    .where(nodeId === undefined ? undefined : eq(sfuNodeKeys.nodeId, parse(SfuNodeIdSchema, nodeId)))
    .orderBy(asc(sfuNodeKeys.nodeId), asc(sfuNodeKeys.enrolledAt));
  return c.json({ keys: rows.map(keyView) } satisfies FleetKeysResponse);
});

fleetRoutes.delete("/api/fleet/keys/:kid", async (c) => {
  await requireEnrolmentSecret(c);
  const kid = c.req.param("kid");
  const now = Date.now();
  const [row] = await c.var.db
    .update(sfuNodeKeys)
    .set({ revokedAt: now })
    .where(and(eq(sfuNodeKeys.kid, kid), isNull(sfuNodeKeys.revokedAt)))
    .returning();
  if (row) return c.json({ key: keyView(row) } satisfies FleetKeyResponse);
  const revoked = await c.var.db.query.sfuNodeKeys.findFirst({ where: eq(sfuNodeKeys.kid, kid) });
  if (!revoked) throw new ApiError("NOT_FOUND", "No such key");
  return c.json({ key: keyView(revoked) } satisfies FleetKeyResponse);
});

// ─── admins ─────────────────────────────────────────────────────────────────────────────────────────────────

fleetRoutes.get("/api/fleet/nodes", async (c) => {
  requireRole(c, "admin");
  const rows = await c.var.db.select().from(sfuNodes).orderBy(asc(sfuNodes.region), asc(sfuNodes.id));
  const now = Date.now();
  return c.json({ nodes: rows.map((row) => nodeView(row, now)) });
});

function ack(row: SfuNode, now: number): FleetAck {
  return { node: nodeView(row, now), heartbeatIntervalMs: FLEET_HEARTBEAT_INTERVAL_MS };
}

function nodeView(row: SfuNode, now: number): SfuNodeView {
  return {
    id: row.id,
    region: row.region,
    publicUrl: row.publicUrl,
    load: { cpu: row.cpuLoad, transports: row.transports, consumers: row.consumers, maxConsumers: row.maxConsumers },
    registeredAt: row.registeredAt,
    lastHeartbeatAt: row.lastHeartbeatAt,
    healthy: now - row.lastHeartbeatAt <= FLEET_STALE_AFTER_MS,
  };
}

/** A node speaks for itself only: a body naming another node is refused, whatever its key. */
function requireOwnId(tokenNodeId: string, bodyNodeId: string): void {
  if (bodyNodeId !== tokenNodeId) throw new ApiError("FORBIDDEN", `This node's key is enrolled for ${tokenNodeId}; it cannot speak for ${bodyNodeId}`);
}

function keyView(row: SfuNodeKey): FleetKeyView {
  return { kid: row.kid, nodeId: row.nodeId, enrolledAt: row.enrolledAt, revokedAt: row.revokedAt };
}
