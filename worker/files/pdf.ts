import { EncryptedPDFError, PDFDocument } from "pdf-lib";
import { FILE_LIMITS } from "../../schema/api/files";

/** A PDF the class can page through, or why it cannot. */
export type PdfCheck = { ok: true; pageCount: number } | { ok: false; reason: string };

/** A complete PDF ends with `%%EOF` (possibly followed by a little whitespace); a cut-off upload does not. */
function endsLikePdf(bytes: Uint8Array): boolean {
  const tail = new TextDecoder("latin1").decode(bytes.subarray(Math.max(0, bytes.length - 1024)));
  return tail.includes("%%EOF");
}

/**
 * Reads a PDF as the server's own judge of it: it must be complete, parse, not be encrypted (students could not
 * open it) and have between 1 and {@link FILE_LIMITS.maxDeckPages} pages. pdf-lib runs in workerd as plain
 * JavaScript and reads cross-reference streams and object streams, which a hand-written page counter would not.
 */
export async function checkPdf(bytes: Uint8Array): Promise<PdfCheck> {
  if (!endsLikePdf(bytes)) return { ok: false, reason: "This PDF is incomplete (it has no end marker): it may have been cut off; export it again" };
  const encrypted = { ok: false, reason: "This PDF is password-protected or encrypted; save a copy without protection" } as const;
  let pageCount: number;
  try {
    const document = await PDFDocument.load(bytes, { updateMetadata: false, ignoreEncryption: true });
    if (document.isEncrypted) return encrypted;
    pageCount = document.getPageCount();
  } catch (error) {
    if (error instanceof EncryptedPDFError) return encrypted;
    return { ok: false, reason: "This file is not a readable PDF" };
  }
  if (pageCount === 0) return { ok: false, reason: "This PDF has no pages" };
  if (pageCount > FILE_LIMITS.maxDeckPages)
    return { ok: false, reason: `This PDF has ${pageCount} pages; a deck may have at most ${FILE_LIMITS.maxDeckPages}` };
  return { ok: true, pageCount };
}
