/**
 * An RFC 5545 iCalendar writer: the subscription feed (GET /calendar/<secret>.ics) and single-event files
 * attached to reminder e-mails both come from `buildCalendar`.
 */

/** One VEVENT. Times are UTC milliseconds and are written in UTC ("Z") form. */
export interface IcsEvent {
  /** Globally unique and stable across updates, e.g. `<occurrenceId>@insp-live`. */
  uid: string;
  startsAt: number;
  endsAt: number;
  summary: string;
  description?: string;
  url?: string;
  cancelled?: boolean;
  /** Increases on every change so calendar clients replace their copy (the occurrence's revision). */
  sequence?: number;
}

export interface IcsCalendar {
  /** Shown by calendar apps as the subscription's name (X-WR-CALNAME). */
  name: string;
  events: readonly IcsEvent[];
  /** DTSTAMP of every event; defaults to now. */
  stamp?: number;
  /** iTIP method; "PUBLISH" for feeds and informational attachments. */
  method?: "PUBLISH" | "REQUEST" | "CANCEL";
}

const PRODID = "-//insp//insp-live//EN";
const MAX_LINE_OCTETS = 75;
const encoder = new TextEncoder();

/** TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines. */
export function escapeText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/;/g, "\\;")
    .replace(/,/g, "\\,")
    .replace(/\r\n|\r|\n/g, "\\n");
}

/** DATE-TIME in UTC form: 20260329T070000Z. */
export function formatUtc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * Folds a content line at 75 octets (RFC 5545 §3.1): continuation lines start with one space. Splits only
 * between characters, never inside a multi-byte UTF-8 sequence.
 */
export function foldLine(line: string): string {
  if (encoder.encode(line).length <= MAX_LINE_OCTETS) return line;
  const pieces: string[] = [];
  let current = "";
  let currentOctets = 0;
  // The first line may hold 75 octets; continuation lines hold 74 after their leading space.
  let limit = MAX_LINE_OCTETS;
  for (const char of line) {
    const octets = encoder.encode(char).length;
    if (currentOctets + octets > limit) {
      pieces.push(current);
      current = "";
      currentOctets = 0;
      limit = MAX_LINE_OCTETS - 1;
    }
    current += char;
    currentOctets += octets;
  }
  pieces.push(current);
  return pieces.join("\r\n ");
}

/** A VCALENDAR holding `calendar.events`, with CRLF line endings and folded lines. */
export function buildCalendar(calendar: IcsCalendar): string {
  const stamp = formatUtc(calendar.stamp ?? Date.now());
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    `PRODID:${PRODID}`,
    "CALSCALE:GREGORIAN",
    `METHOD:${calendar.method ?? "PUBLISH"}`,
    `X-WR-CALNAME:${escapeText(calendar.name)}`,
  ];
  for (const event of calendar.events) {
    lines.push(
      "BEGIN:VEVENT",
      `UID:${event.uid}`,
      `DTSTAMP:${stamp}`,
      `DTSTART:${formatUtc(event.startsAt)}`,
      `DTEND:${formatUtc(event.endsAt)}`,
      `SEQUENCE:${event.sequence ?? 0}`,
      `SUMMARY:${escapeText(event.summary)}`,
    );
    if (event.description !== undefined) lines.push(`DESCRIPTION:${escapeText(event.description)}`);
    if (event.url !== undefined) lines.push(`URL:${event.url}`);
    lines.push(`STATUS:${event.cancelled ? "CANCELLED" : "CONFIRMED"}`, "END:VEVENT");
  }
  lines.push("END:VCALENDAR");
  return `${lines.map(foldLine).join("\r\n")}\r\n`;
}
