import * as v from "valibot";
import { NodePublicJwkSchema } from "../tokens/node-token";

/**
 * The fleet registry link: every sfu-node registers with the Worker on start and then heartbeats, each request
 * signed by the node's own key (`Authorization: Bearer <node token>`, schema/tokens/node-token.ts).
 * `POST /api/fleet/register` creates or refreshes the node's row; `POST /api/fleet/heartbeat` updates its load
 * (a node the Worker does not know gets `NOT_FOUND` and registers again). The `nodeId` in a body must be the
 * node the token's key was enrolled for. Admins read the registry at `GET /api/fleet/nodes`.
 *
 * Enrolment (operators, with `Authorization: Bearer <FLEET_ENROLMENT_SECRET>`): `POST /api/fleet/keys` enrols
 * a node's public key ({@link FleetKeyEnrolSchema}), `GET /api/fleet/keys` lists keys,
 * `DELETE /api/fleet/keys/:kid` revokes one. A key belongs to one node id for good; a revoked key stays revoked.
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

export const FleetHeartbeatSchema = v.strictObject({
  nodeId: SfuNodeIdSchema,
  load: FleetLoadSchema,
  /**
   * The node is shutting down (SIGTERM) and takes no new participants: the registry counts it full (its
   * `maxConsumers` becomes 0), so no class assigns anyone to it. Sent at once when the drain starts.
   */
  draining: v.optional(v.boolean()),
});
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

/** A recording a lost node left in the store, offered to a node to finish (schema/api/recordings.ts). */
export const FleetRescueOfferSchema = v.object({ recordingId: v.string(), classId: v.string() });
export type FleetRescueOffer = v.InferOutput<typeof FleetRescueOfferSchema>;

/**
 * Reply to register and heartbeat. `rescue` (heartbeats of a node that is not draining): recordings whose node
 * went away with them, which this node may take and finish from the store.
 */
export const FleetAckSchema = v.object({
  node: SfuNodeViewSchema,
  heartbeatIntervalMs: v.number(),
  rescue: v.optional(v.array(FleetRescueOfferSchema)),
});
export type FleetAck = v.InferOutput<typeof FleetAckSchema>;

export const FleetNodesResponseSchema = v.object({ nodes: v.array(SfuNodeViewSchema) });

/** Enrols one public key for one node id (a second key for the same id is how a node rotates). */
export const FleetKeyEnrolSchema = v.strictObject({ nodeId: SfuNodeIdSchema, publicKey: NodePublicJwkSchema });
export type FleetKeyEnrol = v.InferOutput<typeof FleetKeyEnrolSchema>;

/** An enrolled key as the Worker reports it; times are UTC milliseconds. */
export const FleetKeyViewSchema = v.object({ kid: v.string(), nodeId: v.string(), enrolledAt: v.number(), revokedAt: v.nullable(v.number()) });
export type FleetKeyView = v.InferOutput<typeof FleetKeyViewSchema>;

/** Reply to enrol and revoke. */
export const FleetKeyResponseSchema = v.object({ key: FleetKeyViewSchema });
export type FleetKeyResponse = v.InferOutput<typeof FleetKeyResponseSchema>;
/** Reply to `GET /api/fleet/keys` (optionally `?nodeId=`). */
export const FleetKeysResponseSchema = v.object({ keys: v.array(FleetKeyViewSchema) });
export type FleetKeysResponse = v.InferOutput<typeof FleetKeysResponseSchema>;
