import { env, SELF } from "cloudflare:test";
import { type Role, sessions, type User, users } from "../../schema/db";
import { sha256Hex } from "../auth/session";
import { getDb } from "../db";

export const ORIGIN = "http://localhost";
export const db = getDb(env.DB);

let counter = 0;

/** A user row as SSO or an admin would have created it (not yet stored): defaults, then `overrides`. */
export function userRow(role: Role, overrides: Partial<User> = {}): User {
  counter += 1;
  const now = Date.now();
  return {
    id: crypto.randomUUID(),
    inspId: null,
    email: `${role}${counter}-${crypto.randomUUID().slice(0, 8)}@example.test`,
    phone: null,
    displayName: `${role[0]!.toUpperCase()}${role.slice(1)} ${counter}`,
    role,
    passwordHash: null,
    timezone: "UTC",
    timezoneChosenAt: null,
    remindByEmail: true,
    remindBySms: false,
    calendarSecret: crypto.randomUUID(),
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** Inserts a user straight into D1 (the way SSO or an admin would have created it). */
export async function createUser(role: Role, overrides: Partial<User> = {}): Promise<User> {
  const row = userRow(role, overrides);
  await db.insert(users).values(row);
  return row;
}

/** A session cookie header for `user`, as if they had signed in. */
export async function sessionCookie(user: User): Promise<string> {
  const token = crypto.randomUUID();
  const now = Date.now();
  await db
    .insert(sessions)
    .values({ id: await sha256Hex(token), userId: user.id, createdAt: now, expiresAt: now + 3600_000, lastSeenAt: now, userAgent: "test" });
  return `insp_live_session=${token}`;
}

export interface ApiOptions {
  method?: string;
  /** Sent as JSON unless it is a string (sent raw, for malformed-body tests). */
  body?: unknown;
  as?: User | null;
  headers?: Record<string, string>;
}

/** Calls the Worker like the web app does: same-origin `Origin`, JSON body, the user's session cookie. */
export async function api(path: string, options: ApiOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { origin: ORIGIN, ...options.headers };
  if (options.as) headers.cookie = await sessionCookie(options.as);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return SELF.fetch(`${ORIGIN}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body, redirect: "manual" });
}
