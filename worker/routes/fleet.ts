import { asc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { Context } from "hono";
import { sfuNodes } from "../../schema/db";
import {
  FLEET_HEARTBEAT_INTERVAL_MS,
  FLEET_STALE_AFTER_MS,
  type FleetAck,
  FleetHeartbeatSchema,
  FleetRegisterSchema,
  type SfuNodeView,
} from "../../schema/protocol/fleet";
import type { AppEnv } from "../app-env";
import { requireRole } from "../auth/session";
import { ApiError } from "../errors";
import { jsonBody } from "../validate";

/**
 * The SFU fleet registry. sfu-nodes register and heartbeat with `Authorization: Bearer <FLEET_CREDENTIAL>`
 * (these paths are exempt from the same-origin check; the credential is their authentication). While
 * FLEET_CREDENTIAL is unset, the registry refuses every node. Admins list the fleet.
 */
export const fleetRoutes = new Hono<AppEnv>();

type SfuNode = typeof sfuNodes.$inferSelect;

fleetRoutes.post("/api/fleet/register", async (c) => {
  await requireFleetCredential(c);
  const body = await jsonBody(c, FleetRegisterSchema);
  const now = Date.now();
  const load = { cpuLoad: body.load.cpu, transports: body.load.transports, consumers: body.load.consumers, maxConsumers: body.load.maxConsumers };
  const [row] = await c.var.db
    .insert(sfuNodes)
    .values({ id: body.nodeId, region: body.region, publicUrl: body.publicUrl, ...load, registeredAt: now, lastHeartbeatAt: now })
    .onConflictDoUpdate({ target: sfuNodes.id, set: { region: body.region, publicUrl: body.publicUrl, ...load, registeredAt: now, lastHeartbeatAt: now } })
    .returning();
  return c.json(ack(row!, now));
});

fleetRoutes.post("/api/fleet/heartbeat", async (c) => {
  await requireFleetCredential(c);
  const body = await jsonBody(c, FleetHeartbeatSchema);
  const now = Date.now();
  const [row] = await c.var.db
    .update(sfuNodes)
    .set({ cpuLoad: body.load.cpu, transports: body.load.transports, consumers: body.load.consumers, maxConsumers: body.load.maxConsumers, lastHeartbeatAt: now })
    .where(eq(sfuNodes.id, body.nodeId))
    .returning();
  // An unknown node (the registry was reset) registers again on this answer.
  if (!row) throw new ApiError("NOT_FOUND", `Node ${body.nodeId} is not registered; register first`);
  return c.json(ack(row, now));
});

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

/** The bearer credential must equal FLEET_CREDENTIAL (compared in constant time, over SHA-256 digests). */
export async function requireFleetCredential(c: Context<AppEnv>): Promise<void> {
  const expected = c.env.FLEET_CREDENTIAL;
  if (!expected) throw new ApiError("UNAVAILABLE", "The fleet registry is disabled: FLEET_CREDENTIAL is not set on this Worker");
  const header = c.req.header("authorization") ?? "";
  const presented = /^Bearer (\S+)$/.exec(header)?.[1];
  if (!presented) throw new ApiError("UNAUTHORIZED", "A fleet credential is required (Authorization: Bearer …)");
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) throw new ApiError("UNAUTHORIZED", "The fleet credential is not valid");
}

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
