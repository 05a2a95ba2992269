import type { Classroom } from "./Classroom";
import type { ClassroomShard } from "./ClassroomShard";

/**
 * The deployment's bindings the class object uses. They join the global `Cloudflare.Env` (as the Worker's own do,
 * in worker/env.ts), which is the environment partyserver hands the object, so the object needs nothing from the
 * layer above it.
 */
export interface ClassroomBindings {
  DB: D1Database;
  /** The class objects: a fan-out object forwards its sockets' frames to its class's. */
  CLASSROOM: DurableObjectNamespace<Classroom>;
  /** The fan-out objects of large classes (ClassroomShard.ts): the class object delivers its frames to them. */
  CLASSROOM_SHARD: DurableObjectNamespace<ClassroomShard>;
  /** The Worker's ES256 private key as a JWK (JSON string) with a `kid`; signs class and media tokens. */
  WORKER_SIGNING_KEY?: string;
}

declare global {
  namespace Cloudflare {
    interface Env extends ClassroomBindings {}
  }
}

/** The environment the class object is constructed with (the whole deployment's; it reads only the above). */
export type ClassroomEnv = Cloudflare.Env;
