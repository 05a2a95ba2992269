import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ClassFile, UploadCreated, UploadPart } from "../../schema/api/files";
import { chatMessages, classes, mediaUploads, type User } from "../../schema/db";
import type { ChatMessage } from "../../schema/protocol/classroom";
import { api, createUser, db, ORIGIN, sessionCookie } from "./helpers";
import { upload } from "./upload-helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

/** The eight bytes every PNG starts with, then a little more: the server reads the type from these. */
const PNG = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(120).fill(7));

/** A whole shared upload as the web app makes it (create, parts, complete); the last response. */
function share(user: User, classId: string, fileName: string, bytes: Uint8Array): Promise<Response> {
  return upload(user, classId, fileName, bytes, "share");
}

async function sharedFile(user: User, classId: string, fileName: string, bytes: Uint8Array): Promise<ClassFile> {
  const response = await share(user, classId, fileName, bytes);
  expect(response.status).toBe(201);
  return (await response.json<{ file: ClassFile }>()).file;
}

const storedChat = (classId: string) => db.select().from(chatMessages).where(eq(chatMessages.classId, classId)).orderBy(chatMessages.createdAt);

describe("files shared in chat", () => {
  it("a message with an attachment reaches everyone with the file's metadata, a late joiner's snapshot and D1", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const image = await sharedFile(teacher, classId, "board photo.png", PNG);
    const notes = await sharedFile(teacher, classId, "notes.txt", new TextEncoder().encode("Bring a calculator\n"));

    const { message } = await teacherClient.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "img", body: "", attachment: { fileId: image.id } });
    expect(message.attachment).toEqual({ fileId: image.id, fileName: "board photo.png", kind: "image", contentType: "image/png", sizeBytes: PNG.byteLength });
    await teacherClient.ok("chat.send", { clientMessageId: "txt", body: "Read this first", attachment: { fileId: notes.id } });
    await student.until(() => student.chat.length === 2, "both messages at the student");
    expect(student.chat[0]).toEqual(message);
    expect(student.chat[1]).toMatchObject({
      body: "Read this first",
      attachment: { fileId: notes.id, fileName: "notes.txt", kind: "other", contentType: "application/octet-stream" },
    });

    const late = await ChannelClient.join(students[0]!, classId);
    expect(late.snapshot!.chat.map((m) => m.attachment?.fileId)).toEqual([image.id, notes.id]);
    await eventually(async () =>
      expect((await storedChat(classId)).map((m) => [m.body, m.attachment?.fileId, m.attachment?.kind])).toEqual([
        ["", image.id, "image"],
        ["Read this first", notes.id, "other"],
      ]),
    );
  });

  it("a file of another class or of another user is refused, and nothing is sent or stored", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const admin = await createUser("admin");
    const now = Date.now();
    const otherClassId = crypto.randomUUID();
    await db.insert(classes).values({ id: otherClassId, title: "Other class", teacherId: teacher.id, createdAt: now, updatedAt: now });
    const elsewhere = await sharedFile(teacher, otherClassId, "elsewhere.png", PNG);
    const adminsFile = await sharedFile(admin, classId, "admin.png", PNG);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);

    for (const fileId of [elsewhere.id, adminsFile.id, "no-such-file"]) {
      const refused = await teacherClient.request("chat.send", { clientMessageId: `try-${fileId}`, body: "look", attachment: { fileId } });
      expect(refused.ok ? null : refused.error.code).toBe("NOT_FOUND");
    }
    // The student's own upload is refused to them too while sharing is off (see the next test).
    await teacherClient.ok("chat.send", { clientMessageId: "after", body: "only this one" });
    await student.until(() => student.chat.length === 1, "the one message that passed");
    expect(student.chat.map((m) => m.body)).toEqual(["only this one"]);
    await eventually(async () => expect((await storedChat(classId)).map((m) => m.body)).toEqual(["only this one"]));
    // A resend of a refused message id is not "already sent": it is checked again, and refused again.
    const again = await teacherClient.request("chat.send", { clientMessageId: `try-${elsewhere.id}`, body: "look", attachment: { fileId: elsewhere.id } });
    expect(again.ok ? null : again.error.code).toBe("NOT_FOUND");
  });

  it("a student shares a file only while the teacher allows it; files.allow is for moderators and reaches everyone", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const other = await ChannelClient.join(students[1]!, classId);
    expect(student.snapshot!.session.filesAllowed).toBe(false);

    const before = await share(students[0]!, classId, "homework.png", PNG);
    expect(before.status).toBe(403);
    expect((await before.json<{ error: { code: string } }>()).error.code).toBe("FORBIDDEN");
    const notYours = await student.request("files.allow", { allowed: true });
    expect(notYours.ok ? null : notYours.error.code).toBe("FORBIDDEN");
    expect(await db.select().from(mediaUploads).where(eq(mediaUploads.classId, classId))).toEqual([]);

    await teacherClient.ok("files.allow", { allowed: true });
    await other.until(() => other.events.some((e) => e.type === "files.allowed" && e.allowed), "the allowed notice");
    expect((await ChannelClient.join(students[1]!, classId)).snapshot!.session.filesAllowed).toBe(true);
    const file = await sharedFile(students[0]!, classId, "homework.png", PNG);
    const { message } = await student.ok<{ message: ChatMessage }>("chat.send", { clientMessageId: "hw", body: "my answer", attachment: { fileId: file.id } });
    await teacherClient.until(() => teacherClient.chat.some((m) => m.id === message.id), "the student's file at the teacher");
    expect(message.attachment).toMatchObject({ fileId: file.id, kind: "image" });
    // Another student cannot pass off a classmate's file as their own.
    const borrowed = await other.request("chat.send", { clientMessageId: "borrow", body: "mine", attachment: { fileId: file.id } });
    expect(borrowed.ok ? null : borrowed.error.code).toBe("NOT_FOUND");

    // Switched off: an upload that started before is refused at completion, and attaching a file is refused.
    const created = await api(`/api/classes/${classId}/uploads`, {
      as: students[0]!,
      body: { fileName: "late.png", sizeBytes: PNG.byteLength, purpose: "share" },
    });
    expect(created.status).toBe(201);
    await teacherClient.ok("files.allow", { allowed: false });
    const { uploadToken } = await created.json<UploadCreated>();
    const cookie = await sessionCookie(students[0]!);
    const part = await SELF.fetch(`${ORIGIN}/api/uploads/parts/1`, {
      method: "PUT",
      headers: { origin: ORIGIN, cookie, "x-upload-token": uploadToken },
      body: PNG,
    });
    const completed = await SELF.fetch(`${ORIGIN}/api/uploads/complete`, {
      method: "POST",
      headers: { origin: ORIGIN, cookie, "x-upload-token": uploadToken, "content-type": "application/json" },
      body: JSON.stringify({ parts: [await part.json<UploadPart>()] }),
    });
    expect(completed.status).toBe(403);
    const afterOff = await student.request("chat.send", { clientMessageId: "hw2", body: "again", attachment: { fileId: file.id } });
    expect(afterOff.ok ? null : afterOff.error).toEqual({ code: "FORBIDDEN", message: "The teacher has not allowed students to share files" });
    expect((await db.select().from(mediaUploads).where(eq(mediaUploads.classId, classId))).map((row) => row.id)).toEqual([file.id]);
  });
});
