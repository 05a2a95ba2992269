import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { BlockListResponse, BlockResponse, ClassResponse } from "../../schema/api/portal";
import { blocks, enrollments, type User } from "../../schema/db";
import { api, createUser, db } from "./helpers";

async function createClass(teacher: User): Promise<string> {
  const res = await api("/api/classes", { as: teacher, body: { title: "Moderated class" } });
  return (await res.json<ClassResponse>()).class.id;
}

async function blockRows(userId: string) {
  return db.select().from(blocks).where(eq(blocks.userId, userId));
}

describe("blocks", () => {
  it("a teacher blocks a student from their own class: enrolling is refused, the catalog still shows the class", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const classId = await createClass(teacher);
    const res = await api("/api/blocks", { as: teacher, body: { userId: student.id, classId, reason: "Spamming the chat" } });
    expect(res.status).toBe(201);
    const { block } = await res.json<BlockResponse>();
    expect(block).toMatchObject({
      user: { id: student.id, displayName: student.displayName, email: student.email },
      classId,
      reason: "Spamming the chat",
      blockedBy: { id: teacher.id, displayName: teacher.displayName },
      expiresAt: null,
    });

    const enroll = await api(`/api/classes/${classId}/enrollment`, { as: student, method: "POST" });
    expect(enroll.status).toBe(403);
    expect(await db.select().from(enrollments).where(eq(enrollments.userId, student.id))).toHaveLength(0);
    const catalog = await (await api("/api/classes", { as: student })).json<{ classes: { id: string }[] }>();
    expect(catalog.classes.map((c) => c.id)).toContain(classId);
    // The teacher cannot enroll them by e-mail either while blocked.
    expect((await api(`/api/classes/${classId}/enrollments`, { as: teacher, body: { email: student.email } })).status).toBe(409);

    const list = await (await api(`/api/blocks?classId=${classId}`, { as: teacher })).json<BlockListResponse>();
    expect(list.blocks.map((b) => b.id)).toEqual([block.id]);
    const duplicate = await api("/api/blocks", { as: teacher, body: { userId: student.id, classId, reason: "Again" } });
    expect(duplicate.status).toBe(409);
    expect(await blockRows(student.id)).toHaveLength(1);
  });

  it("a teacher may not block from another teacher's class, nor globally", async () => {
    const teacher = await createUser("teacher");
    const otherTeacher = await createUser("teacher");
    const student = await createUser("student");
    const classId = await createClass(otherTeacher);
    expect((await api("/api/blocks", { as: teacher, body: { userId: student.id, classId, reason: "x" } })).status).toBe(403);
    expect((await api("/api/blocks", { as: teacher, body: { userId: student.id, reason: "x" } })).status).toBe(403);
    expect((await api(`/api/blocks?classId=${classId}`, { as: teacher })).status).toBe(403);
    expect(await blockRows(student.id)).toHaveLength(0);
  });

  it("an admin blocks globally: the user is signed out at once and told why; lifting lets them back in", async () => {
    const admin = await createUser("admin");
    const student = await createUser("student");
    expect((await api("/api/classes", { as: student })).status).toBe(200);
    const res = await api("/api/blocks", { as: admin, body: { userId: student.id, reason: "Abuse" } });
    expect(res.status).toBe(201);
    const { block } = await res.json<BlockResponse>();
    expect(block.classId).toBeNull();

    // Signed out at once, and told why (the sign-in page shows it) rather than a bare "sign in first".
    const refused = await api("/api/me", { as: student });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: { code: "FORBIDDEN", message: "Your account is blocked: Abuse" } });
    expect((await api("/api/classes", { as: student })).status).toBe(403);
    const all = await (await api("/api/blocks", { as: admin })).json<BlockListResponse>();
    expect(all.blocks.map((b) => b.id)).toContain(block.id);

    expect((await api(`/api/blocks/${block.id}`, { as: admin, method: "DELETE" })).status).toBe(204);
    expect((await api("/api/classes", { as: student })).status).toBe(200);
    const [row] = await blockRows(student.id);
    expect(row).toMatchObject({ liftedBy: admin.id });
    expect(row!.liftedAt).toEqual(expect.any(Number));
    const after = await (await api("/api/blocks", { as: admin })).json<BlockListResponse>();
    expect(after.blocks.map((b) => b.id)).not.toContain(block.id);
    expect((await api(`/api/blocks/${block.id}`, { as: admin, method: "DELETE" })).status).toBe(409);
  });

  it("a lifted class block lets the student enroll again; a teacher lifts only blocks of their classes", async () => {
    const teacher = await createUser("teacher");
    const otherTeacher = await createUser("teacher");
    const admin = await createUser("admin");
    const student = await createUser("student");
    const classId = await createClass(teacher);
    const { block } = await (await api("/api/blocks", { as: teacher, body: { userId: student.id, classId, reason: "Rude" } })).json<BlockResponse>();
    const globalBlock = await (
      await api("/api/blocks", { as: admin, body: { userId: (await createUser("student")).id, reason: "Bot" } })
    ).json<BlockResponse>();

    expect((await api(`/api/blocks/${block.id}`, { as: otherTeacher, method: "DELETE" })).status).toBe(403);
    expect((await api(`/api/blocks/${globalBlock.block.id}`, { as: teacher, method: "DELETE" })).status).toBe(403);
    expect((await blockRows(student.id))[0]!.liftedAt).toBeNull();

    expect((await api(`/api/blocks/${block.id}`, { as: teacher, method: "DELETE" })).status).toBe(204);
    expect((await api(`/api/classes/${classId}/enrollment`, { as: student, method: "POST" })).status).toBe(201);
  });

  it("an expired block no longer applies; expiry must lie in the future", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const classId = await createClass(teacher);
    const past = await api("/api/blocks", { as: teacher, body: { userId: student.id, classId, reason: "x", expiresAt: Date.now() - 1000 } });
    expect(past.status).toBe(400);
    expect(await blockRows(student.id)).toHaveLength(0);
    await db.insert(blocks).values({
      id: crypto.randomUUID(),
      userId: student.id,
      classId,
      reason: "old",
      blockedBy: teacher.id,
      createdAt: Date.now() - 10_000,
      expiresAt: Date.now() - 1,
    });
    expect((await api(`/api/classes/${classId}/enrollment`, { as: student, method: "POST" })).status).toBe(201);
    const list = await (await api(`/api/blocks?classId=${classId}`, { as: teacher })).json<BlockListResponse>();
    expect(list.blocks).toHaveLength(0);
  });

  it("teachers see blocks of the classes they teach; students see none", async () => {
    const teacher = await createUser("teacher");
    const otherTeacher = await createUser("teacher");
    const student = await createUser("student");
    const mine = await createClass(teacher);
    const theirs = await createClass(otherTeacher);
    const { block: myBlock } = await (
      await api("/api/blocks", { as: teacher, body: { userId: student.id, classId: mine, reason: "a" } })
    ).json<BlockResponse>();
    const { block: theirBlock } = await (
      await api("/api/blocks", { as: otherTeacher, body: { userId: student.id, classId: theirs, reason: "b" } })
    ).json<BlockResponse>();
    const list = await (await api("/api/blocks", { as: teacher })).json<BlockListResponse>();
    expect(list.blocks.map((b) => b.id)).toContain(myBlock.id);
    expect(list.blocks.map((b) => b.id)).not.toContain(theirBlock.id);
    expect((await api("/api/blocks", { as: student })).status).toBe(403);
  });

  it("nobody blocks themself, a class's teacher from it, or (as a teacher) an admin", async () => {
    const teacher = await createUser("teacher");
    const admin = await createUser("admin");
    const classId = await createClass(teacher);
    expect((await api("/api/blocks", { as: admin, body: { userId: admin.id, reason: "x" } })).status).toBe(409);
    expect((await api("/api/blocks", { as: admin, body: { userId: teacher.id, classId, reason: "x" } })).status).toBe(409);
    expect((await api("/api/blocks", { as: teacher, body: { userId: admin.id, classId, reason: "x" } })).status).toBe(403);
    expect((await api("/api/blocks", { as: admin, body: { userId: crypto.randomUUID(), reason: "x" } })).status).toBe(404);
    expect(await db.select().from(blocks).where(eq(blocks.blockedBy, admin.id))).toHaveLength(0);
    expect(await db.select().from(blocks).where(eq(blocks.blockedBy, teacher.id))).toHaveLength(0);
  });
});
