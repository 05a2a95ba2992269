import type { User } from "../schema/db";
import type { Db } from "./db";
import type { Env } from "./env";

/** Hono's environment for every route: bindings, the drizzle handle, and the signed-in user (if any). */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    db: Db;
    /** Set by the session middleware; null when nobody is signed in. */
    user: User | null;
  };
};
