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
    /** Why a valid session counts as signed out: its user is blocked everywhere (the message says why). */
    blockedMessage?: string;
  };
};
