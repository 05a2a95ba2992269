import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { blocks, type Role, sessions, type User, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import type { Db } from "../db";
import { ApiError } from "../errors";

export const SESSION_COOKIE = "insp_live_session";
const SESSION_TTL_MS = 14 * 24 * 60 * 60 * 1000;

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function randomToken(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Creates a session row and sets its cookie (HttpOnly, SameSite=Lax, Secure except on plain-http localhost). */
export async function startSession(c: Context<AppEnv>, userId: string): Promise<void> {
  const token = randomToken();
  const now = Date.now();
  await c.var.db.insert(sessions).values({
    id: await sha256Hex(token),
    userId,
    createdAt: now,
    expiresAt: now + SESSION_TTL_MS,
    lastSeenAt: now,
    userAgent: c.req.header("user-agent")?.slice(0, 300) ?? null,
  });
  const url = new URL(c.req.url);
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: url.protocol === "https:" || !isLocalHost(url.hostname),
    path: "/",
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export async function endSession(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token) await c.var.db.delete(sessions).where(eq(sessions.id, await sha256Hex(token)));
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}

function isLocalHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]" || hostname.endsWith(".localhost");
}

/** Finds the user behind a session cookie value, or null when it is unknown or expired. */
export async function userForSessionToken(db: Db, token: string | undefined): Promise<User | null> {
  if (!token || token.length > 200) return null;
  const rows = await db
    .select({ user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, await sha256Hex(token)), gt(sessions.expiresAt, Date.now())))
    .limit(1);
  return rows[0]?.user ?? null;
}

/** The active block of a user: global, or for `classId` when given. */
export async function activeBlock(db: Db, userId: string, classId?: string) {
  const now = Date.now();
  const rows = await db
    .select()
    .from(blocks)
    .where(
      and(
        eq(blocks.userId, userId),
        isNull(blocks.liftedAt),
        or(isNull(blocks.expiresAt), gt(blocks.expiresAt, now)),
        classId ? or(isNull(blocks.classId), eq(blocks.classId, classId)) : isNull(blocks.classId),
      ),
    )
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Whether `activeBlock(…, userId, classId)` would find a block (global or for `classId`, not lifted, not expired),
 * as one raw D1 statement: the class channel asks this on every upgrade, and building the drizzle query cost
 * more CPU than the query itself (bench/classroom.ts profile).
 */
export async function isBlocked(d1: D1Database, userId: string, classId: string): Promise<boolean> {
  const row = await d1
    .prepare(
      `SELECT 1 FROM blocks WHERE user_id = ? AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (class_id IS NULL OR class_id = ?) LIMIT 1`,
    )
    .bind(userId, Date.now(), classId)
    .first();
  return row !== null;
}

/**
 * Loads the signed-in user into `c.var.user`. A globally blocked user is treated as signed out at once:
 * the block takes effect on their very next request.
 */
export const loadUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await userForSessionToken(c.var.db, getCookie(c, SESSION_COOKIE));
  c.set("user", user && !(await activeBlock(c.var.db, user.id)) ? user : null);
  await next();
};

/** The signed-in user, or 401. */
export function requireUser(c: Context<AppEnv>): User {
  const user = c.var.user;
  if (!user) throw new ApiError("UNAUTHORIZED", "Sign in first");
  return user;
}

/** The signed-in user if they have one of `roles`, else 401/403. */
export function requireRole(c: Context<AppEnv>, ...roles: Role[]): User {
  const user = requireUser(c);
  if (!roles.includes(user.role)) throw new ApiError("FORBIDDEN", `Only ${roles.join(" or ")} accounts may do this`);
  return user;
}
