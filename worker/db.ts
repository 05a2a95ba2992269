import { drizzle } from "drizzle-orm/d1";
import * as schema from "../schema/db";

export type Db = ReturnType<typeof drizzle<typeof schema>>;

/**
 * drizzle with the relational schema, one per D1 binding: building it walks every table (~0.5 ms), which every
 * class-channel upgrade paid for its block check (bench/classroom.ts profile) before it was kept.
 */
const instances = new WeakMap<D1Database, Db>();

export function getDb(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    instances.set(d1, db);
  }
  return db;
}
