import type { UploadKind } from "../../schema/db";

/** What the first bytes of a file say it is, or why it is refused. */
export type Detected = { ok: true; kind: UploadKind; contentType: string } | { ok: false; reason: string };

/** How many leading bytes decide: browsers sniff HTML within the first 512; PDF readers look for %PDF in 1,024. */
export const SNIFF_BYTES = 1024;

const ascii = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));

function startsWith(bytes: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i += 1) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

const IMAGES: { magic: Uint8Array; at?: number; also?: { magic: Uint8Array; at: number }; contentType: string }[] = [
  { magic: Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), contentType: "image/png" },
  { magic: Uint8Array.of(0xff, 0xd8, 0xff), contentType: "image/jpeg" },
  { magic: ascii("GIF87a"), contentType: "image/gif" },
  { magic: ascii("GIF89a"), contentType: "image/gif" },
  { magic: ascii("RIFF"), also: { magic: ascii("WEBP"), at: 8 }, contentType: "image/webp" },
];

/** Programs: a shared file must never be one, whatever its name says. */
const EXECUTABLES: { magic: Uint8Array; what: string }[] = [
  { magic: ascii("MZ"), what: "a Windows program" },
  { magic: Uint8Array.of(0x7f, 0x45, 0x4c, 0x46), what: "a Linux program" },
  { magic: Uint8Array.of(0xfe, 0xed, 0xfa, 0xce), what: "a macOS program" },
  { magic: Uint8Array.of(0xfe, 0xed, 0xfa, 0xcf), what: "a macOS program" },
  { magic: Uint8Array.of(0xce, 0xfa, 0xed, 0xfe), what: "a macOS program" },
  { magic: Uint8Array.of(0xcf, 0xfa, 0xed, 0xfe), what: "a macOS program" },
  { magic: Uint8Array.of(0xca, 0xfe, 0xba, 0xbe), what: "a program" },
  { magic: ascii("#!"), what: "a script" },
  { magic: Uint8Array.of(0x00, 0x61, 0x73, 0x6d), what: "a WebAssembly program" },
];

/**
 * Markup a browser would run if it ever sniffed the file as a page: HTML and SVG carry scripts. Looked for in
 * the sniffed head of every file, so a polyglot (a valid image or PDF that is also a page) is refused too.
 */
const SCRIPT_CARRIERS = /<\s*(!doctype\s+html|html|head|body|script|iframe|svg|object|embed|meta|link|style|img|a\s)|<\?xml[^>]*>\s*<\s*svg/i;

/** Reads the kind of a file from its first {@link SNIFF_BYTES} bytes. */
export function detectFileType(head: Uint8Array): Detected {
  const sniffed = head.subarray(0, SNIFF_BYTES);
  for (const executable of EXECUTABLES) {
    if (startsWith(sniffed, executable.magic)) return { ok: false, reason: `This file is ${executable.what}; programs cannot be shared` };
  }
  const text = new TextDecoder("latin1").decode(sniffed);
  if (SCRIPT_CARRIERS.test(text)) {
    return {
      ok: false,
      reason: /<\s*svg|<\?xml/i.test(text)
        ? "SVG files can carry scripts and cannot be shared; export it as PNG or PDF"
        : "Web pages (HTML) cannot be shared; share a PDF instead",
    };
  }
  if (startsWith(sniffed, ascii("%PDF-"))) return { ok: true, kind: "pdf", contentType: "application/pdf" };
  // PDF readers accept a header after leading junk; a file that does so is a disguise, not a document.
  if (text.includes("%PDF-")) return { ok: false, reason: "This PDF does not start with a PDF header" };
  for (const image of IMAGES) {
    if (startsWith(sniffed, image.magic) && (!image.also || startsWith(sniffed, image.also.magic, image.also.at))) {
      return { ok: true, kind: "image", contentType: image.contentType };
    }
  }
  return { ok: true, kind: "other", contentType: "application/octet-stream" };
}
