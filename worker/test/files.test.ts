import { env, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { PDFDocument } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { type ClassFile, FILE_LIMITS, type UploadCreated, type UploadPart } from "../../schema/api/files";
import { mediaUploads, slideDecks, type User } from "../../schema/db";
import { api, createUser, db, ORIGIN, sessionCookie } from "./helpers";
import { upload } from "./upload-helpers";
import { createLiveClass } from "./ws-client";

type Refusal = { error: { code: string; message: string } };

/** A PDF of `pages` pages made by pdf-lib, each page a different colour. */
async function makePdf(pages: number): Promise<Uint8Array> {
  const document = await PDFDocument.create();
  for (let i = 0; i < pages; i += 1) document.addPage([200, 150]);
  return document.save({ addDefaultPage: false });
}

const text = (value: string) => new TextEncoder().encode(value);

async function storedCount(classId: string): Promise<{ rows: number; objects: number }> {
  const rows = await db.select().from(mediaUploads).where(eq(mediaUploads.classId, classId));
  const listed = await env.UPLOADS.list({ prefix: `classes/${classId}/` });
  return { rows: rows.length, objects: listed.objects.length };
}

describe("uploading a deck", () => {
  it("a teacher uploads a PDF deck in several parts; its page count is read by the server; members download it, others cannot", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const pdf = await makePdf(12);
    // Padded past one part so the multipart path is used (the padding after %%EOF is ignored by PDF readers).
    const padded = new Uint8Array(FILE_LIMITS.partBytes + 1000);
    padded.set(pdf);
    padded.set(text("\n%%EOF\n"), padded.length - 7);
    const response = await upload(teacher, classId, "../../Week 1: vectors.pdf", padded);
    expect(response.status).toBe(201);
    const { file } = await response.json<{ file: ClassFile }>();
    expect(file).toMatchObject({
      kind: "pdf",
      contentType: "application/pdf",
      fileName: "Week 1: vectors.pdf",
      sizeBytes: padded.length,
      deck: { title: "Week 1: vectors", pageCount: 12 },
    });
    expect((await db.select().from(slideDecks).where(eq(slideDecks.classId, classId))).map((deck) => deck.pageCount)).toEqual([12]);

    const download = await api(file.url, { as: students[0]! });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/pdf");
    expect(download.headers.get("x-content-type-options")).toBe("nosniff");
    expect(download.headers.get("content-disposition")).toMatch(/^attachment; filename="Week 1: vectors.pdf"/);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(padded);

    const listed = await (await api(`/api/classes/${classId}/files`, { as: students[0]! })).json<{ files: ClassFile[] }>();
    expect(listed.files.map((f) => f.id)).toEqual([file.id]);

    const outsider = await createUser("student");
    expect((await api(file.url, { as: outsider })).status).toBe(404);
    expect((await api(`/api/classes/${classId}/files`, { as: outsider })).status).toBe(404);
    expect((await api(file.url)).status).toBe(401);
  });

  it("a file that is not a PDF is stored as a download only, with a clean name", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const response = await upload(teacher, classId, "notes\u202Etxt.exe", text("Plain notes for the class\n"), "share");
    expect(response.status).toBe(201);
    const { file } = await response.json<{ file: ClassFile }>();
    expect(file).toMatchObject({ kind: "other", contentType: "application/octet-stream", fileName: "notestxt.exe", deck: null });
    const download = await api(file.url, { as: students[0]! });
    expect(download.headers.get("content-disposition")).toMatch(/^attachment; /);
  });

  it("a student may not upload a deck or share a file", async () => {
    const { classId, students } = await createLiveClass(1);
    const response = await upload(students[0]!, classId, "mine.pdf", await makePdf(1));
    expect(response.status).toBe(403);
    expect(await storedCount(classId)).toEqual({ rows: 0, objects: 0 });
  });
});

describe("files refused for what their bytes are, with nothing stored", () => {
  const polyglot = () => {
    const gif = new Uint8Array(200);
    gif.set(text("GIF89a"));
    gif.set(text("<script>alert(1)</script>"), 20);
    return gif;
  };
  const encrypted = () =>
    text(
      "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n3 0 obj << /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >> endobj\n" +
        "trailer << /Root 1 0 R /Encrypt 3 0 R /Size 4 >>\n%%EOF\n",
    );
  const cases: [string, string, () => Promise<Uint8Array> | Uint8Array, RegExp][] = [
    ["a Windows program renamed .pdf", "slides.pdf", () => text("MZ\u0090\u0000 this program cannot be run in DOS mode"), /Windows program/],
    ["a Linux program", "slides.pdf", () => Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0), /Linux program/],
    ["an HTML page", "slides.pdf", () => text("  <!DOCTYPE html><html><body>hi</body></html>"), /HTML/],
    ["an SVG image", "diagram.png", () => text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), /SVG/],
    ["an image that is also a page (polyglot)", "photo.gif", polyglot, /HTML/],
    ["a PDF header after leading junk", "slides.pdf", () => text("junk junk\n%PDF-1.7\n%%EOF\n"), /does not start with a PDF header/],
    ["a truncated PDF", "slides.pdf", async () => (await makePdf(3)).slice(0, 300), /incomplete/],
    ["a PDF that does not parse", "slides.pdf", () => text("%PDF-1.7\nthis is not a pdf body at all\n%%EOF\n"), /not a readable PDF/],
    ["an encrypted PDF", "slides.pdf", encrypted, /password-protected or encrypted/],
    ["a PDF with no pages", "slides.pdf", () => makePdf(0), /no pages/],
    [
      "a PDF over the page limit",
      "slides.pdf",
      () => makePdf(FILE_LIMITS.maxDeckPages + 1),
      new RegExp(`${FILE_LIMITS.maxDeckPages + 1} pages; a deck may have at most ${FILE_LIMITS.maxDeckPages}`),
    ],
    ["an image as a deck", "slides.pdf", () => Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0), /A deck must be a PDF/],
  ];

  it.each(cases)("%s", async (_what, fileName, bytes, message) => {
    const { classId, teacher } = await createLiveClass(0);
    const response = await upload(teacher, classId, fileName, await bytes());
    expect(response.status).toBe(400);
    expect((await response.json<Refusal>()).error.message).toMatch(message);
    expect(await storedCount(classId)).toEqual({ rows: 0, objects: 0 });
  });

  it("a file over 50 MB is refused before any byte is sent", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const response = await api(`/api/classes/${classId}/uploads`, {
      as: teacher,
      body: { fileName: "huge.pdf", sizeBytes: FILE_LIMITS.maxFileBytes + 1, purpose: "deck" },
    });
    expect(response.status).toBe(400);
    expect((await response.json<Refusal>()).error.message).toMatch(/at most 50 MB/);
  });

  it("a part longer than announced is refused, a cancelled upload leaves nothing, and another user's token is refused", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const created = await (
      await api(`/api/classes/${classId}/uploads`, { as: teacher, body: { fileName: "a.pdf", sizeBytes: 10, purpose: "deck" } })
    ).json<UploadCreated>();
    const put = async (as: User, body: Uint8Array) =>
      SELF.fetch(`${ORIGIN}/api/uploads/parts/1`, {
        method: "PUT",
        headers: { origin: ORIGIN, cookie: await sessionCookie(as), "x-upload-token": created.uploadToken },
        body,
      });
    expect((await put(teacher, new Uint8Array(11))).status).toBe(400);
    expect((await put(await createUser("teacher"), new Uint8Array(10))).status).toBe(401);
    const cancel = await SELF.fetch(`${ORIGIN}/api/uploads`, {
      method: "DELETE",
      headers: { origin: ORIGIN, cookie: await sessionCookie(teacher), "x-upload-token": created.uploadToken },
    });
    expect(cancel.status).toBe(204);
    expect(await storedCount(classId)).toEqual({ rows: 0, objects: 0 });
  });
});
