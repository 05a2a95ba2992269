import * as v from "valibot";

/**
 * Fan-out of a large class over child objects (`ClassroomShard`, durable-objects/ClassroomShard.ts).
 *
 * The class object (`Classroom`) stays the single authority: state, order (`seq`), authorization. A class token
 * may name a number of fan-out objects (`fanOut`, decided by the join route from the class's size); the edge then
 * sends the socket to one of them, picked by a stable hash of the user id, instead of to the class object. The
 * fan-out object holds the browser's socket, forwards what it says to the class object with the identity the edge
 * verified, and relays what the class object sends: the browser cannot tell the difference.
 *
 * Class object → fan-out object: {@link FanOutDeliverySchema}, one call per batch, one batch in flight per fan-out
 * object, retried until it is taken (so a batch sent while the fan-out object restarts arrives after it, in order).
 */

/** The most fan-out objects one class may use (a class token naming more is refused). */
export const MAX_FAN_OUT = 64;

/** Which of `count` fan-out objects holds the sockets of `userId` (FNV-1a: the same on every edge, every time). */
export function fanOutIndex(userId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i += 1) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

/** The name of a class's fan-out object: `<classId>~<index>` (class ids never hold `~`: they are UUIDs or slugs). */
export function fanOutName(classId: string, index: number): string {
  return `${classId}~${index}`;
}

/** The class id of a fan-out object's name, or null when the name is not one. */
export function classOfFanOut(name: string): string | null {
  const at = name.lastIndexOf("~");
  if (at <= 0 || !/^\d+$/.test(name.slice(at + 1))) return null;
  return name.slice(0, at);
}

/** The tag of one socket on a fan-out object: items addressed to a single socket (its snapshot, its replies). */
export const SOCKET_TAG = (socketId: string) => `socket:${socketId}`;

/** One thing the class object has a fan-out object do, in order. */
export const FanOutItemSchema = v.variant("kind", [
  /** Send `frame` to every ready socket with tag `to` (an audience, a user, or one socket). */
  v.strictObject({ kind: v.literal("send"), to: v.string(), frame: v.string() }),
  /** Close one socket (kicked, blocked, the class ended, refused at the door). */
  v.strictObject({ kind: v.literal("close"), socketId: v.string(), code: v.number(), reason: v.string() }),
]);
export type FanOutItem = v.InferOutput<typeof FanOutItemSchema>;

/**
 * A batch: `epoch` names the class object's instance (it starts again at 1 after a restart of the class object),
 * `batch` counts its batches; a fan-out object takes each batch once, so a retry after a lost answer repeats nothing.
 */
export const FanOutDeliverySchema = v.strictObject({
  epoch: v.number(),
  batch: v.pipe(v.number(), v.integer(), v.minValue(1)),
  items: v.array(FanOutItemSchema),
});
export type FanOutDelivery = v.InferOutput<typeof FanOutDeliverySchema>;

/**
 * A fan-out object's answer to a delivery. `sockets` lists the socket ids it holds when it has just started
 * (after an eviction or a restart): the class object forgets the sockets of that fan-out object that are gone.
 */
export interface FanOutReceipt {
  sockets: string[] | null;
}

/**
 * When a class fans out (settings `CLASS_FAN_OUT_ABOVE`, `CLASS_FAN_OUT_SOCKETS`): above `above` enrolled students,
 * one fan-out object per `socketsEach` of them. Smaller classes talk to the class object directly, as before.
 */
export interface FanOutPolicy {
  above: number;
  socketsEach: number;
}

const Count = v.pipe(v.string(), v.regex(/^\d+$/, "a whole number"), v.transform(Number));

/** The policy from settings (defaults: above 1,000 enrolled, 1,000 sockets each); a bad setting is named. */
export function fanOutPolicy(settings: { CLASS_FAN_OUT_ABOVE?: string; CLASS_FAN_OUT_SOCKETS?: string }): FanOutPolicy {
  const above = v.safeParse(Count, settings.CLASS_FAN_OUT_ABOVE ?? "1000");
  if (!above.success) throw new Error(`CLASS_FAN_OUT_ABOVE must be a whole number of enrolled students, not "${settings.CLASS_FAN_OUT_ABOVE}"`);
  const each = v.safeParse(v.pipe(Count, v.minValue(1)), settings.CLASS_FAN_OUT_SOCKETS ?? "1000");
  if (!each.success) throw new Error(`CLASS_FAN_OUT_SOCKETS must be a whole number above 0, not "${settings.CLASS_FAN_OUT_SOCKETS}"`);
  return { above: above.output, socketsEach: each.output };
}

/** How many fan-out objects a class of `enrolled` students uses (0: none, sockets go to the class object). */
export function fanOutCount(policy: FanOutPolicy, enrolled: number): number {
  if (enrolled <= policy.above) return 0;
  return Math.min(MAX_FAN_OUT, Math.max(1, Math.ceil(enrolled / policy.socketsEach)));
}
