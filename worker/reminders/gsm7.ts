/**
 * GSM 03.38 (GSM-7) awareness for SMS: a message of GSM-7 characters fits 160 per segment; a single character
 * outside it turns the whole message into UCS-2 with 70 per segment. Reminders are written to fit one segment.
 */

const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/** Extension-table characters: each costs two septets (an escape plus the character). */
const EXTENSION = "^{}\\[~]|€\f";

const basicSet = new Set(BASIC);
const extensionSet = new Set(EXTENSION);

/** One GSM-7 segment; a UCS-2 segment holds 70 UTF-16 units. */
export const GSM7_SEGMENT = 160;
export const UCS2_SEGMENT = 70;

/** Common typographic characters that have a plain GSM-7 look-alike. */
const LOOKALIKES: Record<string, string> = {
  "\u2018": "'",
  "\u2019": "'",
  "\u201C": '"',
  "\u201D": '"',
  "\u2013": "-",
  "\u2014": "-",
  "\u2026": "...",
  "\u00A0": " ",
  "\u202F": " ",
  "\u2009": " ",
  // Letters with a stroke do not decompose under NFD.
  "\u0141": "L",
  "\u0142": "l",
  "\u0110": "D",
  "\u0111": "d",
  "\u0152": "OE",
  "\u0153": "oe",
};

export function isGsm7(text: string): boolean {
  for (const char of text) if (!basicSet.has(char) && !extensionSet.has(char)) return false;
  return true;
}

/** Septets `text` takes in GSM-7 (extension characters count twice); only meaningful when isGsm7(text). */
export function gsm7Length(text: string): number {
  let length = 0;
  for (const char of text) length += extensionSet.has(char) ? 2 : 1;
  return length;
}

/**
 * Replaces characters outside GSM-7 with a look-alike where one exists: typographic quotes and dashes, and
 * accented letters by their base letter (é and ü are GSM-7 already and stay). Other characters are kept, so a
 * title in, say, Greek lower case or Chinese is never mangled; the message is then sent as UCS-2.
 */
export function toGsm7Where(text: string): string {
  let out = "";
  for (const char of text) {
    if (basicSet.has(char) || extensionSet.has(char)) {
      out += char;
      continue;
    }
    const lookalike = LOOKALIKES[char];
    if (lookalike !== undefined) {
      out += lookalike;
      continue;
    }
    const base = char.normalize("NFD").replace(/\p{M}+/gu, "");
    out += base.length > 0 && isGsm7(base) ? base : char;
  }
  return out;
}

/** The length of `text` in its encoding's units, and the one-segment budget of that encoding. */
export function smsMeasure(text: string): { units: number; segment: number; encoding: "GSM-7" | "UCS-2" } {
  if (isGsm7(text)) return { units: gsm7Length(text), segment: GSM7_SEGMENT, encoding: "GSM-7" };
  return { units: text.length, segment: UCS2_SEGMENT, encoding: "UCS-2" };
}

/**
 * Fills `template` (which holds one `{title}`) so the whole message fits one SMS segment where possible: the
 * title is shortened with "..." as needed. When even an empty title does not fit, the shortest sensible message
 * (title cut to 12 characters) is returned and takes more than one segment.
 */
export function fitSms(template: string, title: string): string {
  const cleanTemplate = toGsm7Where(template);
  const cleanTitle = toGsm7Where(title.replace(/\s+/g, " ").trim());
  // A replacer function, not a replacement string: a title holding `$&`, `$'` or `$$` must arrive as written.
  const fill = (text: string) => cleanTemplate.replace("{title}", () => text);
  const full = fill(cleanTitle);
  const measured = smsMeasure(full);
  if (measured.units <= measured.segment) return full;
  const chars = [...cleanTitle];
  for (let keep = chars.length - 1; keep >= 12; keep -= 1) {
    const candidate = fill(`${chars.slice(0, keep).join("").trimEnd()}...`);
    const size = smsMeasure(candidate);
    if (size.units <= size.segment) return candidate;
  }
  return fill(chars.length > 12 ? `${chars.slice(0, 12).join("").trimEnd()}...` : cleanTitle);
}
