/**
 * `GET /api/admin/classes/:id/media` (admins only): the live class's media as its class object sees it — which
 * sfu-nodes carry it, in which region, in what state, and who is on each. Answered by the class object; shared by
 * the Worker and any page that shows it.
 */
import * as v from "valibot";

/**
 * A node's state for this class: `linked` (its class link is open), `assigned` (people were sent there and its
 * link is not open yet), `lost` (its link closed and is not back; its people are being moved), `draining` (it is
 * shutting down; its people are being moved).
 */
export const CLASS_MEDIA_NODE_STATES = ["linked", "assigned", "lost", "draining"] as const;

export const ClassMediaNodeSchema = v.object({
  nodeId: v.string(),
  /** From the fleet registry; null when the registry no longer lists the node. */
  region: v.nullable(v.string()),
  state: v.picklist(CLASS_MEDIA_NODE_STATES),
  /** How many of the class's participants have their media on this node. */
  peopleCount: v.number(),
  people: v.array(v.object({ userId: v.string(), displayName: v.string() })),
});
export type ClassMediaNode = v.InferOutput<typeof ClassMediaNodeSchema>;

export const ClassMediaViewSchema = v.object({
  classId: v.string(),
  /** Nodes by id; a node appears while it is linked, carries someone, or is being moved off. */
  nodes: v.array(ClassMediaNodeSchema),
});
export type ClassMediaView = v.InferOutput<typeof ClassMediaViewSchema>;
