import { and, desc, eq, ne } from "drizzle-orm";
import { Hono } from "hono";
import { getServerByName } from "partyserver";
import {
  type ClassFile,
  FILE_LIMITS,
  UPLOAD_TOKEN_HEADER,
  UploadCompleteSchema,
  type UploadCreated,
  UploadCreateSchema,
  type UploadPart,
  type UploadPurpose,
} from "../../schema/api/files";
import { IdSchema } from "../../schema/api/portal";
import type { ClassBoardResponse } from "../../schema/api/board";
import { boardOps, type ClassRow, mediaUploads, slideDecks, type User, users } from "../../schema/db";
import type { BoardOp, Shape } from "../../schema/protocol/board";
import type { AppEnv } from "../app-env";
import { activeBlock, requireUser } from "../auth/session";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { detectFileType, SNIFF_BYTES } from "../files/detect";
import { checkPdf } from "../files/pdf";
import { signUploadToken, type UploadClaims, verifyUploadToken } from "../files/upload-token";
import { isEnrolled, loadClass } from "../portal/classes";
import { canManageClass } from "../portal/permissions";
import { jsonBody, parse } from "../validate";

/**
 * Files of a class through the Worker into R2: a multipart upload (create → parts → complete, or cancel), the
 * type read from the bytes, a PDF read by the server itself; then a row in `media_uploads` (and `slide_decks`
 * for a deck). Downloads are for members of the class only.
 */
export const filesRoutes = new Hono<AppEnv>();

filesRoutes.post("/api/classes/:id/uploads", async (c) => {
  const user = requireUser(c);
  const cls = await loadClass(c.var.db, parse(IdSchema, c.req.param("id")));
  const body = await jsonBody(c, UploadCreateSchema);
  await requireMayUpload(c.env, c.var.db, user, cls, body.purpose);
  const fileName = cleanFileName(body.fileName);
  const key = `classes/${cls.id}/files/${crypto.randomUUID()}`;
  const upload = await c.env.UPLOADS.createMultipartUpload(key);
  const uploadToken = await signUploadToken(c.env, {
    userId: user.id,
    classId: cls.id,
    purpose: body.purpose,
    fileName,
    title: body.purpose === "deck" ? (body.title ?? fileName.replace(/\.[^.]{1,8}$/, "")) : null,
    sizeBytes: body.sizeBytes,
    key,
    r2UploadId: upload.uploadId,
  });
  return c.json<UploadCreated>({ uploadToken, partBytes: FILE_LIMITS.partBytes, partCount: partCount(body.sizeBytes) }, 201);
});

filesRoutes.put("/api/uploads/parts/:partNumber", async (c) => {
  const user = requireUser(c);
  const claims = await uploadClaims(c.env, c.req.header(UPLOAD_TOKEN_HEADER), user);
  const partNumber = Number(c.req.param("partNumber"));
  const parts = partCount(claims.sizeBytes);
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > parts) throw new ApiError("INVALID_MESSAGE", `Part numbers go from 1 to ${parts}`);
  const expected = partNumber < parts ? FILE_LIMITS.partBytes : claims.sizeBytes - (parts - 1) * FILE_LIMITS.partBytes;
  const bytes = await readExactly(c.req.raw, expected);
  const upload = c.env.UPLOADS.resumeMultipartUpload(claims.key, claims.r2UploadId);
  if (partNumber === 1) {
    const refusal = typeRefusal(claims, bytes.subarray(0, SNIFF_BYTES));
    if (refusal) {
      await upload.abort().catch(() => undefined);
      throw new ApiError("INVALID_MESSAGE", refusal);
    }
  }
  const part = await upload.uploadPart(partNumber, bytes);
  return c.json<UploadPart>({ partNumber: part.partNumber, etag: part.etag });
});

filesRoutes.post("/api/uploads/complete", async (c) => {
  const user = requireUser(c);
  const claims = await uploadClaims(c.env, c.req.header(UPLOAD_TOKEN_HEADER), user);
  const { parts } = await jsonBody(c, UploadCompleteSchema);
  if (parts.length !== partCount(claims.sizeBytes))
    throw new ApiError("INVALID_MESSAGE", `The upload has ${partCount(claims.sizeBytes)} parts; ${parts.length} were listed`);
  const cls = await loadClass(c.var.db, claims.classId);
  await requireMayUpload(c.env, c.var.db, user, cls, claims.purpose, "You may no longer add files to this class");
  const upload = c.env.UPLOADS.resumeMultipartUpload(claims.key, claims.r2UploadId);
  let object: R2Object;
  try {
    object = await upload.complete(parts.map((part) => ({ partNumber: part.partNumber, etag: part.etag })));
  } catch {
    throw new ApiError("CONFLICT", "The upload is incomplete or was cancelled; send the missing parts or start again");
  }
  // From here the object exists: anything refused is deleted again, so nothing half-written stays behind.
  try {
    return c.json({ file: await admitFile(c.env, c.var.db, user, cls, claims, object) }, 201);
  } catch (error) {
    await c.env.UPLOADS.delete(claims.key);
    throw error;
  }
});

filesRoutes.delete("/api/uploads", async (c) => {
  const user = requireUser(c);
  const claims = await uploadClaims(c.env, c.req.header(UPLOAD_TOKEN_HEADER), user);
  await c.env.UPLOADS.resumeMultipartUpload(claims.key, claims.r2UploadId)
    .abort()
    .catch(() => undefined);
  return c.body(null, 204);
});

filesRoutes.get("/api/classes/:id/files", async (c) => {
  const user = requireUser(c);
  const cls = await loadClass(c.var.db, parse(IdSchema, c.req.param("id")));
  await requireMember(c.var.db, user, cls);
  const rows = await fileRows(c.var.db).where(eq(mediaUploads.classId, cls.id)).orderBy(desc(mediaUploads.createdAt)).limit(500);
  return c.json({ files: rows.map(toClassFile) });
});

filesRoutes.get("/api/classes/:id/board", async (c) => {
  const user = requireUser(c);
  const cls = await loadClass(c.var.db, parse(IdSchema, c.req.param("id")));
  await requireMember(c.var.db, user, cls);
  const [decks, ops] = await Promise.all([
    c.var.db
      .select({ id: slideDecks.id, title: slideDecks.title, pageCount: slideDecks.pageCount })
      .from(slideDecks)
      .where(eq(slideDecks.classId, cls.id))
      .orderBy(slideDecks.createdAt),
    c.var.db
      .select()
      .from(boardOps)
      .where(and(eq(boardOps.classId, cls.id), ne(boardOps.surface, "screen")))
      .orderBy(boardOps.opSeq),
  ]);
  return c.json<ClassBoardResponse>({ decks, surfaces: replayBoard(ops.map((row) => ({ surface: row.surface, op: JSON.parse(row.op) as BoardOp }))) });
});

filesRoutes.get("/api/files/:id", async (c) => {
  const user = requireUser(c);
  const [row] = await fileRows(c.var.db)
    .where(eq(mediaUploads.id, parse(IdSchema, c.req.param("id"))))
    .limit(1);
  if (!row?.upload.classId) throw new ApiError("NOT_FOUND", "No such file");
  await requireMember(c.var.db, user, await loadClass(c.var.db, row.upload.classId), "No such file");
  const object = await c.env.UPLOADS.get(row.upload.storageKey);
  if (!object) throw new ApiError("NOT_FOUND", "The file is no longer stored");
  // Only images are shown inline (previews in <img>, which runs nothing); everything else is a download, PDFs
  // too: the board renders decks with pdf.js from these bytes, and a click on a file saves it. The sandbox keeps
  // a file that a browser might still render from running anything as this site.
  const inline = row.upload.kind === "image";
  return new Response(object.body, {
    headers: {
      "content-type": row.upload.contentType,
      "content-length": String(object.size),
      "content-disposition": contentDisposition(inline ? "inline" : "attachment", row.upload.fileName),
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
      "cache-control": "private, max-age=3600",
    },
  });
});

function partCount(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / FILE_LIMITS.partBytes));
}

async function uploadClaims(env: AppEnv["Bindings"], token: string | undefined, user: User): Promise<UploadClaims> {
  const claims = await verifyUploadToken(env, token, user.id);
  if (!claims) throw new ApiError("UNAUTHORIZED", "The upload token is missing, expired or not yours; start the upload again");
  return claims;
}

/** Why the first bytes of an upload refuse it, or null. */
function typeRefusal(claims: UploadClaims, head: Uint8Array): string | null {
  const detected = detectFileType(head);
  if (!detected.ok) return detected.reason;
  if (claims.purpose === "deck" && detected.kind !== "pdf") return "A deck must be a PDF file";
  return null;
}

/** Checks the whole stored file and writes its rows; throws (and the caller deletes the object) when refused. */
async function admitFile(env: AppEnv["Bindings"], db: Db, user: User, cls: ClassRow, claims: UploadClaims, object: R2Object): Promise<ClassFile> {
  if (object.size !== claims.sizeBytes) throw new ApiError("INVALID_MESSAGE", `The file has ${object.size} bytes; ${claims.sizeBytes} were announced`);
  const stored = await env.UPLOADS.get(claims.key);
  if (!stored) throw new ApiError("CONFLICT", "The upload disappeared while it was being checked; start again");
  const bytes = new Uint8Array(await stored.arrayBuffer());
  const detected = detectFileType(bytes.subarray(0, SNIFF_BYTES));
  if (!detected.ok) throw new ApiError("INVALID_MESSAGE", detected.reason);
  const refusal = typeRefusal(claims, bytes.subarray(0, SNIFF_BYTES));
  if (refusal) throw new ApiError("INVALID_MESSAGE", refusal);
  let pageCount: number | null = null;
  if (detected.kind === "pdf") {
    const pdf = await checkPdf(bytes);
    if (!pdf.ok) throw new ApiError("INVALID_MESSAGE", pdf.reason);
    pageCount = pdf.pageCount;
  }
  const now = Date.now();
  const upload = {
    id: crypto.randomUUID(),
    ownerId: user.id,
    classId: cls.id,
    kind: detected.kind,
    contentType: detected.contentType,
    fileName: claims.fileName,
    storageKey: claims.key,
    sizeBytes: object.size,
    createdAt: now,
  };
  const deck =
    claims.purpose === "deck" && pageCount !== null
      ? { id: crypto.randomUUID(), classId: cls.id, uploadId: upload.id, title: claims.title ?? claims.fileName, pageCount, createdAt: now }
      : null;
  if (deck) await db.batch([db.insert(mediaUploads).values(upload), db.insert(slideDecks).values(deck)]);
  else await db.insert(mediaUploads).values(upload);
  return toClassFile({ upload, ownerName: user.displayName, deck: deck && { id: deck.id, title: deck.title, pageCount: deck.pageCount } });
}

/**
 * Decks come from the class's teacher or an admin. Shared files too, and from an enrolled, unblocked student
 * while the class object says the teacher allows sharing (`files.allow`): the object holds that switch, so it is
 * asked at create and again at complete (the teacher may have switched it off in between).
 */
async function requireMayUpload(env: AppEnv["Bindings"], db: Db, user: User, cls: ClassRow, purpose: UploadPurpose, refusal?: string): Promise<void> {
  if (canManageClass(user, cls)) return;
  if (purpose === "deck") throw new ApiError("FORBIDDEN", refusal ?? "Only this class's teacher or an admin uploads decks");
  const notAllowed = refusal ?? "The teacher has not allowed students to share files in this class";
  if (!(await isEnrolled(db, cls.id, user.id))) throw new ApiError("FORBIDDEN", refusal ?? "Only this class's teacher or an admin shares files here");
  if (await activeBlock(db, user.id, cls.id)) throw new ApiError("FORBIDDEN", "You are blocked from this class");
  if (!(await (await getServerByName(env.CLASSROOM, cls.id)).studentsMayShareFiles())) throw new ApiError("FORBIDDEN", notAllowed);
}

/** Members of a class see its files: its teacher, admins, and enrolled students who are not blocked from it. */
async function requireMember(db: Db, user: User, cls: ClassRow, notFound = "No such class"): Promise<void> {
  if (canManageClass(user, cls)) return;
  if (!(await isEnrolled(db, cls.id, user.id))) throw new ApiError("NOT_FOUND", notFound);
  if (await activeBlock(db, user.id, cls.id)) throw new ApiError("FORBIDDEN", "You are blocked from this class");
}

function fileRows(db: Db) {
  return db
    .select({
      upload: mediaUploads,
      ownerName: users.displayName,
      deck: { id: slideDecks.id, title: slideDecks.title, pageCount: slideDecks.pageCount },
    })
    .from(mediaUploads)
    .innerJoin(users, eq(users.id, mediaUploads.ownerId))
    .leftJoin(slideDecks, and(eq(slideDecks.uploadId, mediaUploads.id)))
    .$dynamic();
}

function toClassFile(row: {
  upload: Omit<typeof mediaUploads.$inferSelect, "classId"> & { classId: string | null };
  ownerName: string;
  deck: { id: string; title: string; pageCount: number } | null;
}): ClassFile {
  const { upload } = row;
  return {
    id: upload.id,
    classId: upload.classId ?? "",
    ownerId: upload.ownerId,
    ownerName: row.ownerName,
    kind: upload.kind,
    contentType: upload.contentType,
    fileName: upload.fileName,
    sizeBytes: upload.sizeBytes,
    createdAt: upload.createdAt,
    url: `/api/files/${upload.id}`,
    deck: row.deck?.id ? row.deck : null,
  };
}

/**
 * A file name as people see it, safe to store and to put in a header: no folders, no control or bidirectional
 * override characters (which can disguise "exe.pdf" as "fdp.exe"), at most {@link FILE_LIMITS.maxFileNameLength}.
 */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const cleaned = base
    .replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "");
  return [...cleaned].slice(0, FILE_LIMITS.maxFileNameLength).join("") || "file";
}

/** RFC 6266: an ASCII fallback plus the exact name in RFC 5987 encoding. */
function contentDisposition(type: "inline" | "attachment", fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** Reads a request body of exactly `length` bytes, refusing more as it streams in (and less at the end). */
async function readExactly(request: Request, length: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) !== length) throw new ApiError("INVALID_MESSAGE", `This part must be ${length} bytes; it is ${declared}`);
  if (!request.body) throw new ApiError("INVALID_MESSAGE", "The part has no body");
  const bytes = new Uint8Array(length);
  let received = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > length) {
      await reader.cancel();
      throw new ApiError("INVALID_MESSAGE", `This part must be ${length} bytes; more were sent`);
    }
    bytes.set(value, received);
    received += value.byteLength;
  }
  if (received !== length) throw new ApiError("INVALID_MESSAGE", `This part must be ${length} bytes; ${received} arrived`);
  return bytes;
}

/** The shapes each surface holds after `ops`, applied in order (the class object's own rule, replayed). */
export function replayBoard(ops: { surface: string; op: BoardOp }[]): { surface: string; shapes: Shape[] }[] {
  const surfaces = new Map<string, Map<string, Shape>>();
  for (const { surface, op } of ops) {
    let shapes = surfaces.get(surface);
    if (!shapes) surfaces.set(surface, (shapes = new Map()));
    if (op.type === "add" || op.type === "update") shapes.set(op.shape.id, op.shape);
    else if (op.type === "delete") for (const id of op.shapeIds) shapes.delete(id);
    else shapes.clear();
  }
  return [...surfaces].filter(([, shapes]) => shapes.size > 0).map(([surface, shapes]) => ({ surface, shapes: [...shapes.values()] }));
}
