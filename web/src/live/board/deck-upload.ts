import type { ClassFile } from "../../../../schema/api/files";
import { type UploadProgress, uploadClassFile } from "../file-upload";

export type { UploadProgress };

/** Uploads a PDF as a deck of the class (see {@link uploadClassFile}); null when the user cancelled. */
export function uploadDeck(classId: string, file: File, onProgress: (progress: UploadProgress) => void, signal: AbortSignal): Promise<ClassFile | null> {
  return uploadClassFile(classId, file, "deck", onProgress, signal);
}
