import * as v from "valibot";

/**
 * The fleet registry link: every sfu-node registers with the Worker on start and then heartbeats, both with
 * `Authorization: Bearer <FLEET_CREDENTIAL>`. `POST /api/fleet/register` creates or refreshes the node's row;
 * `POST /api/fleet/heartbeat` updates its load (a node the Worker does not know gets `NOT_FOUND` and
 * registers again). Admins read the registry at `GET /api/fleet/nodes`.
 */

/** How often a node heartbeats; a node silent for {@link FLEET_STALE_AFTER_MS} counts as down. */
export const FLEET_HEARTBEAT_INTERVAL_MS = 10_000;
export const FLEET_STALE_AFTER_MS = 3 * FLEET_HEARTBEAT_INTERVAL_MS;

const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000));

export const SfuNodeIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/, "a node id is 1–64 letters, digits, '.', '_' or '-'"));
export const SfuRegionSchema = v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,32}$/, "a region is 1–32 lowercase letters, digits or '-'"));

/** A node's load: CPU is the mean busy fraction of its media workers (0–1). */
export const FleetLoadSchema = v.strictObject({
  cpu: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  transports: Count,
  consumers: Count,
  /** How many consumers the node takes before it counts as full (the Durable Object assigns elsewhere). */
  maxConsumers: Count,
});
export type FleetLoad = v.InferOutput<typeof FleetLoadSchema>;

export const FleetRegisterSchema = v.strictObject({
  nodeId: SfuNodeIdSchema,
  region: SfuRegionSchema,
  /** Where browsers open the media signaling socket (`https://…` or `http://…` locally; the node serves `/media`). */
  publicUrl: v.pipe(v.string(), v.url(), v.maxLength(512), v.regex(/^https?:\/\//, "publicUrl must be http(s)")),
  load: FleetLoadSchema,
});
export type FleetRegister = v.InferOutput<typeof FleetRegisterSchema>;

export const FleetHeartbeatSchema = v.strictObject({ nodeId: SfuNodeIdSchema, load: FleetLoadSchema });
export type FleetHeartbeat = v.InferOutput<typeof FleetHeartbeatSchema>;

/** One node as the registry reports it; times are UTC milliseconds. */
export const SfuNodeViewSchema = v.object({
  id: v.string(),
  region: v.string(),
  publicUrl: v.string(),
  load: FleetLoadSchema,
  registeredAt: v.number(),
  lastHeartbeatAt: v.number(),
  /** Heartbeat seen within {@link FLEET_STALE_AFTER_MS}. */
  healthy: v.boolean(),
});
export type SfuNodeView = v.InferOutput<typeof SfuNodeViewSchema>;

/** Reply to register and heartbeat. */
export const FleetAckSchema = v.object({ node: SfuNodeViewSchema, heartbeatIntervalMs: v.number() });
export type FleetAck = v.InferOutput<typeof FleetAckSchema>;

export const FleetNodesResponseSchema = v.object({ nodes: v.array(SfuNodeViewSchema) });
