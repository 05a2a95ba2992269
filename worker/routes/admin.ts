import { and, asc, eq, or, type SQL, sql } from "drizzle-orm";
import { Hono } from "hono";
import { getServerByName } from "partyserver";
import * as v from "valibot";
import { ClassMediaViewSchema } from "../../schema/api/class-media";
import { AdminUserCreateSchema, AdminUserListQuerySchema, AdminUserPatchSchema, IdSchema } from "../../schema/api/portal";
import { classes, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { hashPassword } from "../auth/password";
import { toPublicUser } from "../auth/public-user";
import { randomToken, requireRole } from "../auth/session";
import { ApiError } from "../errors";
import { page } from "../portal/paging";
import { jsonBody, parse, queryParams } from "../validate";

/** User administration (admins only): search, change roles, create local accounts. */
export const adminRoutes = new Hono<AppEnv>();

/** `q` as a LIKE pattern matching anywhere, with LIKE's own wildcards taken literally. */
function containsPattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

adminRoutes.get("/api/admin/users", async (c) => {
  requireRole(c, "admin");
  const query = queryParams(c, AdminUserListQuerySchema);
  const q = query.q?.trim();
  const filters: (SQL | undefined)[] = [
    q
      ? or(sql`lower(${users.email}) like ${containsPattern(q)} escape '\\'`, sql`lower(${users.displayName}) like ${containsPattern(q)} escape '\\'`)
      : undefined,
    query.role ? eq(users.role, query.role) : undefined,
  ];
  const { limit, offset } = page(query);
  const rows = await c.var.db
    .select()
    .from(users)
    .where(and(...filters))
    .orderBy(asc(sql`lower(${users.displayName})`), asc(users.id))
    .limit(limit)
    .offset(offset);
  return c.json({ users: rows.map(toPublicUser) });
});

adminRoutes.patch("/api/admin/users/:id", async (c) => {
  const admin = requireRole(c, "admin");
  const userId = parse(IdSchema, c.req.param("id"));
  const body = await jsonBody(c, AdminUserPatchSchema);
  // An admin demoting themself could leave the site with no admin at all.
  if (userId === admin.id) throw new ApiError("CONFLICT", "You cannot change your own role");
  const [row] = await c.var.db.update(users).set({ role: body.role, updatedAt: Date.now() }).where(eq(users.id, userId)).returning();
  if (!row) throw new ApiError("NOT_FOUND", "No such user");
  return c.json({ user: toPublicUser(row) });
});

/** A local account (e-mail + password sign-in), e.g. for staff who have no insp account. */
adminRoutes.post("/api/admin/users", async (c) => {
  requireRole(c, "admin");
  const body = await jsonBody(c, AdminUserCreateSchema);
  const now = Date.now();
  const [row] = await c.var.db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      email: body.email,
      displayName: body.displayName,
      role: body.role,
      passwordHash: await hashPassword(body.password),
      calendarSecret: randomToken(),
      createdAt: now,
      updatedAt: now,
    })
    // E-mail addresses are unique case-insensitively (users_email_unique on lower(email)).
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ApiError("CONFLICT", "An account with this e-mail address exists already");
  return c.json({ user: toPublicUser(row) }, 201);
});

/**
 * The live class's media as its class object sees it (admins only): which sfu-nodes carry it, in which region
 * and state, and who is on each. A class nobody opened answers with no nodes.
 */
adminRoutes.get("/api/admin/classes/:id/media", async (c) => {
  requireRole(c, "admin");
  const classId = parse(IdSchema, c.req.param("id"));
  const cls = await c.var.db.query.classes.findFirst({ where: eq(classes.id, classId), columns: { id: true } });
  if (!cls) throw new ApiError("NOT_FOUND", "No such class");
  const view = await (await getServerByName(c.env.CLASSROOM, cls.id)).mediaView();
  return c.json(v.parse(ClassMediaViewSchema, view));
});
