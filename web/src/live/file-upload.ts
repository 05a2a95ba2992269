import * as v from "valibot";
import {
  type ClassFile,
  ClassFileResponseSchema,
  FILE_LIMITS,
  UPLOAD_TOKEN_HEADER,
  type UploadPart,
  UploadPartSchema,
  type UploadPurpose,
  UploadCreatedSchema,
} from "../../../schema/api/files";
import { HttpErrorSchema } from "../../../schema/errors";
import { api, ApiError } from "../api";
import { formatBytes } from "./board/format-bytes";

/** Times a failed part is sent again before the upload gives up (a flaky network, a busy edge). */
const PART_RETRIES = 3;
/** Waits before each retry, spread out so many clients that fail together do not return together. */
const RETRY_BASE_MS = 800;

export interface UploadProgress {
  sentBytes: number;
  totalBytes: number;
}

/** The upload was cancelled by the user. */
class UploadCancelled extends Error {
  override readonly name = "UploadCancelled";
  constructor() {
    super("Upload cancelled");
  }
}

/**
 * Uploads a file to the class (a deck for the board, or a file shared in chat): create, the parts one by one
 * (each retried up to three times when the network or the server fails, never when the server refused it), then
 * complete. `signal` cancels: the part in flight is aborted and the server is told to drop what it has, and the
 * answer is null. Refusals carry the server's message. This module (and the file shapes it reads) loads only
 * when someone uploads.
 */
export async function uploadClassFile(
  classId: string,
  file: File,
  purpose: UploadPurpose,
  onProgress: (progress: UploadProgress) => void,
  signal: AbortSignal,
): Promise<ClassFile | null> {
  try {
    return await upload(classId, file, purpose, onProgress, signal);
  } catch (error) {
    if (error instanceof UploadCancelled) return null;
    throw error;
  }
}

async function upload(
  classId: string,
  file: File,
  purpose: UploadPurpose,
  onProgress: (progress: UploadProgress) => void,
  signal: AbortSignal,
): Promise<ClassFile> {
  // Said before a byte is sent; the server refuses the same at create.
  if (file.size > FILE_LIMITS.maxFileBytes)
    throw new ApiError("INVALID_MESSAGE", `${file.name} is ${formatBytes(file.size)}; files may be at most ${formatBytes(FILE_LIMITS.maxFileBytes)}.`, 0);
  const created = await api(`/api/classes/${classId}/uploads`, UploadCreatedSchema, {
    method: "POST",
    body: { fileName: file.name, sizeBytes: file.size, purpose },
  });
  const token = created.uploadToken;
  try {
    const parts: UploadPart[] = [];
    let doneBytes = 0;
    for (let partNumber = 1; partNumber <= created.partCount; partNumber++) {
      const start = (partNumber - 1) * created.partBytes;
      const blob = file.slice(start, Math.min(file.size, start + created.partBytes));
      parts.push(await sendPartWithRetries(partNumber, blob, token, (sent) => onProgress({ sentBytes: doneBytes + sent, totalBytes: file.size }), signal));
      doneBytes += blob.size;
    }
    if (signal.aborted) throw new UploadCancelled();
    const response = await fetch("/api/uploads/complete", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", [UPLOAD_TOKEN_HEADER]: token },
      body: JSON.stringify({ parts }),
    });
    if (!response.ok) throw await refusal(response.status, await response.text());
    return v.parse(ClassFileResponseSchema, await response.json()).file;
  } catch (error) {
    if (signal.aborted) {
      // Tell the server to drop the parts it already holds; the user is not waiting for the answer.
      void fetch("/api/uploads", { method: "DELETE", credentials: "same-origin", headers: { [UPLOAD_TOKEN_HEADER]: token } }).catch(() => undefined);
      throw new UploadCancelled();
    }
    throw error;
  }
}

async function sendPartWithRetries(partNumber: number, blob: Blob, token: string, onSent: (bytes: number) => void, signal: AbortSignal): Promise<UploadPart> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendPart(partNumber, blob, token, onSent, signal);
    } catch (error) {
      const retryable = error instanceof ApiError && (error.status === 0 || error.status >= 500 || error.status === 429);
      if (signal.aborted || !retryable || attempt >= PART_RETRIES) throw error;
      onSent(0);
      await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

/** One part over XMLHttpRequest, whose upload progress events fetch does not give. */
function sendPart(partNumber: number, blob: Blob, token: string, onSent: (bytes: number) => void, signal: AbortSignal): Promise<UploadPart> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new UploadCancelled());
    const request = new XMLHttpRequest();
    request.open("PUT", `/api/uploads/parts/${partNumber}`);
    request.setRequestHeader(UPLOAD_TOKEN_HEADER, token);
    request.upload.onprogress = (event) => onSent(event.loaded);
    const abort = () => request.abort();
    signal.addEventListener("abort", abort, { once: true });
    request.onloadend = () => {
      signal.removeEventListener("abort", abort);
      if (signal.aborted) return reject(new UploadCancelled());
      if (request.status === 0) return reject(new ApiError("UNAVAILABLE", "The upload lost its connection", 0));
      if (request.status < 200 || request.status >= 300) return reject(refusal(request.status, request.responseText));
      try {
        onSent(blob.size);
        resolve(v.parse(UploadPartSchema, JSON.parse(request.responseText)));
      } catch {
        reject(new ApiError("INTERNAL", "The server's answer to a part was not understood", request.status));
      }
    };
    request.send(blob);
  });
}

/** The server's refusal as an ApiError with its own message (or the status when it sent none). */
function refusal(status: number, body: string): ApiError {
  try {
    const parsed = v.safeParse(HttpErrorSchema, JSON.parse(body));
    if (parsed.success) return new ApiError(parsed.output.error.code, parsed.output.error.message, status);
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return new ApiError(status >= 500 ? "UNAVAILABLE" : "INTERNAL", `The server answered ${status}`, status);
}
