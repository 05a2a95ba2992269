import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { blocks, enrollments, type Role, sessions, type User, users } from "../../schema/db";
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
  return btoa(String.fromCharCode(...raw))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
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
    secure: secureCookie(url),
    path: "/",
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export async function endSession(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token) await c.var.db.delete(sessions).where(eq(sessions.id, await sha256Hex(token)));
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}

/** Cookies are Secure everywhere but on plain-http localhost, where a browser would drop a Secure one. */
export function secureCookie(url: URL): boolean {
  return url.protocol === "https:" || !isLocalHost(url.hostname);
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

/** The block lookups, built once per drizzle instance: building a query costs more CPU than running it. */
const blockQueries = new WeakMap<Db, ReturnType<typeof prepareBlockQueries>>();

function prepareBlockQueries(db: Db) {
  const notOver = and(isNull(blocks.liftedAt), or(isNull(blocks.expiresAt), gt(blocks.expiresAt, sql.placeholder("now"))));
  const forUser = eq(blocks.userId, sql.placeholder("userId"));
  const inClass = or(isNull(blocks.classId), eq(blocks.classId, sql.placeholder("classId")));
  return {
    /**
     * A row `blocked` for each active block (global or for the class) and a row `enrolled` when the user is
     * enrolled: both answers of a class-channel upgrade in one D1 round trip.
     */
    entry: db
      .select({ found: sql<"blocked" | "enrolled">`'blocked'` })
      .from(blocks)
      .where(and(forUser, notOver, inClass))
      .unionAll(
        db
          .select({ found: sql<"blocked" | "enrolled">`'enrolled'` })
          .from(enrollments)
          .where(and(eq(enrollments.classId, sql.placeholder("classId")), eq(enrollments.userId, sql.placeholder("userId")))),
      )
      .prepare(),
    global: db
      .select()
      .from(blocks)
      .where(and(forUser, notOver, isNull(blocks.classId)))
      .limit(1)
      .prepare(),
    inClass: db
      .select()
      .from(blocks)
      .where(and(forUser, notOver, inClass))
      .limit(1)
      .prepare(),
  };
}

function blockQueriesOf(db: Db) {
  let queries = blockQueries.get(db);
  if (!queries) {
    queries = prepareBlockQueries(db);
    blockQueries.set(db, queries);
  }
  return queries;
}

/**
 * The active block of a user (not lifted, not expired): global, or global or for `classId` when given. Asked on
 * every request and every class-channel upgrade, so its queries are prepared once per drizzle instance.
 */
export async function activeBlock(db: Db, userId: string, classId?: string) {
  const queries = blockQueriesOf(db);
  const now = Date.now();
  const rows = classId ? await queries.inClass.all({ userId, now, classId }) : await queries.global.all({ userId, now });
  return rows[0] ?? null;
}

/**
 * Whether the user has an active block (global or for the class) and whether they are enrolled in it: what a
 * class-channel upgrade must know, in one D1 statement (a class of 1,000 joining makes 1,000 of them).
 */
export async function classEntryStanding(db: Db, userId: string, classId: string): Promise<{ blocked: boolean; enrolled: boolean }> {
  const rows = await blockQueriesOf(db).entry.all({ userId, classId, now: Date.now() });
  return { blocked: rows.some((row) => row.found === "blocked"), enrolled: rows.some((row) => row.found === "enrolled") };
}

/**
 * Loads the signed-in user into `c.var.user`. A globally blocked user is treated as signed out at once:
 * the block takes effect on their very next request.
 */
export const loadUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await userForSessionToken(c.var.db, getCookie(c, SESSION_COOKIE));
  const block = user ? await activeBlock(c.var.db, user.id) : null;
  c.set("user", user && !block ? user : null);
  if (block) c.set("blockedMessage", blockedMessage(block));
  await next();
};

/** What a blocked user is told, wherever they meet the block: the reason and, for a timed block, its end. */
export function blockedMessage(block: { reason: string; expiresAt: number | null }): string {
  const until = block.expiresAt === null ? "" : ` until ${new Date(block.expiresAt).toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `Your account is blocked${until}${block.reason ? `: ${block.reason}` : ""}`;
}

/**
 * The signed-in user; 401 when nobody is, 403 with the reason when the session's user is blocked everywhere (so
 * the app can say why instead of showing a bare sign-in page).
 */
export function requireUser(c: Context<AppEnv>): User {
  const user = c.var.user;
  if (!user) throw c.var.blockedMessage ? new ApiError("FORBIDDEN", c.var.blockedMessage) : new ApiError("UNAUTHORIZED", "Sign in first");
  return user;
}

/** The signed-in user if they have one of `roles`, else 401/403. */
export function requireRole(c: Context<AppEnv>, ...roles: Role[]): User {
  const user = requireUser(c);
  if (!roles.includes(user.role)) throw new ApiError("FORBIDDEN", `Only ${roles.join(" or ")} accounts may do this`);
  return user;
}
