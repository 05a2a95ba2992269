import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AdminUserListResponse, UserResponse } from "../../schema/api/auth";
import { users } from "../../schema/db";
import { verifyPassword } from "../auth/password";
import { api, createUser, db } from "./helpers";

describe("admin users", () => {
  it("searches e-mail and name case-insensitively, filters by role, and never shows secrets", async () => {
    const admin = await createUser("admin");
    const ada = await createUser("teacher", { displayName: "Ada Lovelace", email: `ada-${crypto.randomUUID().slice(0, 6)}@analytical.test` });
    const grace = await createUser("student", { displayName: "Grace Hopper", email: `grace-${crypto.randomUUID().slice(0, 6)}@navy.test` });
    const percent = await createUser("student", { displayName: "100% Sure" });

    const byName = await (await api("/api/admin/users?q=LOVELACE", { as: admin })).json<AdminUserListResponse>();
    expect(byName.users.map((u) => u.id)).toEqual([ada.id]);
    expect(byName.users[0]).toEqual({
      id: ada.id,
      email: ada.email,
      displayName: "Ada Lovelace",
      role: "teacher",
      timezone: "UTC",
      timezoneChosen: false,
      phone: null,
      remindByEmail: true,
      remindBySms: false,
    });
    const byEmail = await (await api("/api/admin/users?q=NAVY.TEST", { as: admin })).json<AdminUserListResponse>();
    expect(byEmail.users.map((u) => u.id)).toEqual([grace.id]);
    // LIKE wildcards in the query are taken literally.
    const literal = await (await api("/api/admin/users?q=%25", { as: admin })).json<AdminUserListResponse>();
    expect(literal.users.map((u) => u.id)).toEqual([percent.id]);

    const teachers = await (await api("/api/admin/users?role=teacher", { as: admin })).json<AdminUserListResponse>();
    expect(teachers.users.every((u) => u.role === "teacher")).toBe(true);
    expect(teachers.users.map((u) => u.id)).toContain(ada.id);
    const page = await (await api("/api/admin/users?limit=2", { as: admin })).json<AdminUserListResponse>();
    expect(page.users).toHaveLength(2);
    expect((await api("/api/admin/users?limit=201", { as: admin })).status).toBe(400);
  });

  it("changes a role, but not the admin's own", async () => {
    const admin = await createUser("admin");
    const student = await createUser("student");
    const res = await api(`/api/admin/users/${student.id}`, { as: admin, method: "PATCH", body: { role: "teacher" } });
    expect(res.status).toBe(200);
    expect((await res.json<UserResponse>()).user).toMatchObject({ id: student.id, role: "teacher" });
    expect((await db.query.users.findFirst({ where: eq(users.id, student.id) }))!.role).toBe("teacher");
    // The promoted user may now create classes.
    expect((await api("/api/classes", { as: { ...student, role: "teacher" }, body: { title: "My first class" } })).status).toBe(201);

    const self = await api(`/api/admin/users/${admin.id}`, { as: admin, method: "PATCH", body: { role: "student" } });
    expect(self.status).toBe(409);
    expect((await db.query.users.findFirst({ where: eq(users.id, admin.id) }))!.role).toBe("admin");
    expect((await api(`/api/admin/users/${crypto.randomUUID()}`, { as: admin, method: "PATCH", body: { role: "student" } })).status).toBe(404);
  });

  it("creates a local account whose password works, and refuses a taken e-mail address", async () => {
    const admin = await createUser("admin");
    const email = `Local.${crypto.randomUUID().slice(0, 8)}@example.test`;
    const res = await api("/api/admin/users", { as: admin, body: { email, displayName: " Local Teacher ", role: "teacher", password: "a long passphrase" } });
    expect(res.status).toBe(201);
    const { user } = await res.json<UserResponse>();
    expect(user).toMatchObject({ email, displayName: "Local Teacher", role: "teacher" });
    expect(user).not.toHaveProperty("passwordHash");
    const row = await db.query.users.findFirst({ where: eq(users.id, user.id) });
    expect(row!.inspId).toBeNull();
    expect(await verifyPassword("a long passphrase", row!.passwordHash)).toBe(true);
    expect(await verifyPassword("wrong", row!.passwordHash)).toBe(false);

    const again = await api("/api/admin/users", {
      as: admin,
      body: { email: email.toUpperCase(), displayName: "Dup", role: "student", password: "another passphrase" },
    });
    expect(again.status).toBe(409);
    expect(await db.select().from(users).where(eq(users.displayName, "Dup"))).toHaveLength(0);

    const short = await api("/api/admin/users", { as: admin, body: { email: "short@example.test", displayName: "S", role: "student", password: "1234567" } });
    expect(short.status).toBe(400);
  });
});
