import * as v from "valibot";
import { UPLOAD_KINDS } from "../db";
import { IdSchema, TimestampSchema } from "./portal";

/**
 * Files in a class: PDF decks a teacher teaches over, and files shared into the class. They go through the Worker
 * into R2 as a multipart upload (create → parts → complete, or cancel); the type is read from the bytes, never
 * from the name or the declared content type.
 */
export const FILE_LIMITS = {
  /** Largest file, in bytes (refused at create, before any byte is sent). */
  maxFileBytes: 50 * 1024 * 1024,
  /** Most pages in a deck. */
  maxDeckPages: 500,
  /** Every part but the last is exactly this long (R2 wants at least 5 MiB per part but the last). */
  partBytes: 5 * 1024 * 1024,
  /** File names are cut to this many characters. */
  maxFileNameLength: 200,
  /** How long an upload may take from create to complete. */
  uploadLifetimeSeconds: 6 * 3600,
} as const;

/** Why a file is in the class: a deck to teach over (teachers), or a file shared with the class. */
export const UPLOAD_PURPOSES = ["deck", "share"] as const;
export type UploadPurpose = (typeof UPLOAD_PURPOSES)[number];

/** `POST /api/classes/:id/uploads` */
export const UploadCreateSchema = v.strictObject({
  fileName: v.pipe(v.string(), v.trim(), v.minLength(1, "The file has no name"), v.maxLength(1000, "The file name is too long")),
  sizeBytes: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(1, "The file is empty"),
    v.maxValue(FILE_LIMITS.maxFileBytes, `Files may be at most ${FILE_LIMITS.maxFileBytes / 1024 / 1024} MB`),
  ),
  purpose: v.picklist(UPLOAD_PURPOSES),
  /** A deck's title (default: the file name without its extension). */
  title: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(200))),
});
export type UploadCreate = v.InferOutput<typeof UploadCreateSchema>;

export const UploadCreatedSchema = v.object({
  /** Sent back with every part, the completion and a cancel (header `X-Upload-Token`). */
  uploadToken: v.string(),
  partBytes: v.number(),
  partCount: v.number(),
});
export type UploadCreated = v.InferOutput<typeof UploadCreatedSchema>;

/** The header that carries the upload token. */
export const UPLOAD_TOKEN_HEADER = "x-upload-token";

export const UploadPartSchema = v.object({ partNumber: v.number(), etag: v.string() });
export type UploadPart = v.InferOutput<typeof UploadPartSchema>;

/** `POST /api/uploads/complete` */
export const UploadCompleteSchema = v.strictObject({
  parts: v.pipe(
    v.array(v.strictObject({ partNumber: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), etag: v.pipe(v.string(), v.maxLength(200)) })),
    v.minLength(1),
  ),
});

export const DeckViewSchema = v.object({ id: IdSchema, title: v.string(), pageCount: v.number() });
export type DeckView = v.InferOutput<typeof DeckViewSchema>;

/** A stored file as the class page and the classroom show it. */
export const ClassFileSchema = v.object({
  id: IdSchema,
  classId: IdSchema,
  ownerId: IdSchema,
  ownerName: v.string(),
  kind: v.picklist(UPLOAD_KINDS),
  contentType: v.string(),
  fileName: v.string(),
  sizeBytes: v.number(),
  createdAt: TimestampSchema,
  /** Where members download it (session-checked). */
  url: v.string(),
  /** Present when the file is a deck. */
  deck: v.nullable(DeckViewSchema),
});
export type ClassFile = v.InferOutput<typeof ClassFileSchema>;

export const ClassFileResponseSchema = v.object({ file: ClassFileSchema });
export const ClassFilesResponseSchema = v.object({ files: v.array(ClassFileSchema) });
