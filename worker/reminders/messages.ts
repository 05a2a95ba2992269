/**
 * The words of every reminder and notice: an e-mail (text + HTML + an .ics attachment) and an SMS that fits one
 * GSM-7 segment where possible. Times are written in the recipient's own timezone.
 */
import { buildCalendar } from "../calendar/ics";
import { fitSms } from "./gsm7";

/**
 * What a notification row's `kind` means. The series notices are one per student for a whole series: the row
 * hangs on the first session the change touched (its revision tells a later change apart), and the message lists
 * every session of the series that was cancelled or moved.
 */
export type NotificationKind =
  | { type: "reminder"; minutes: number; revision: number }
  | { type: "change"; revision: number }
  | { type: "cancel" }
  | { type: "restore"; revision: number }
  | { type: "series-cancel"; revision: number }
  | { type: "series-change"; revision: number };

export function reminderKind(minutes: number, revision: number): string {
  return `reminder:${minutes}@${revision}`;
}
export function changeKind(revision: number): string {
  return `change@${revision}`;
}
/** Rows written before sessions could be restored say just "cancel"; a session cancelled again after a restore needs a new key. */
export const CANCEL_KIND = "cancel";
export function cancelKind(revision: number): string {
  return `cancel@${revision}`;
}
export function restoreKind(revision: number): string {
  return `restore@${revision}`;
}
export function seriesNoticeKind(change: "cancelled" | "moved", revision: number): string {
  return `${change === "cancelled" ? "series-cancel" : "series-change"}@${revision}`;
}

/** Parses a stored kind; null for anything this code never writes. */
export function parseKind(kind: string): NotificationKind | null {
  const reminder = /^reminder:(\d+)@(\d+)$/.exec(kind);
  if (reminder) return { type: "reminder", minutes: Number(reminder[1]), revision: Number(reminder[2]) };
  const withRevision = /^(change|restore|series-cancel|series-change)@(\d+)$/.exec(kind);
  if (withRevision) return { type: withRevision[1] as "change" | "restore" | "series-cancel" | "series-change", revision: Number(withRevision[2]) };
  if (kind === CANCEL_KIND || /^cancel@\d+$/.test(kind)) return { type: "cancel" };
  return null;
}

/** One session listed in a series notice. */
export interface SessionTime {
  occurrenceId: string;
  startsAt: number;
  endsAt: number;
  revision: number;
}

/** Everything a message needs to say. */
export interface MessageContext {
  kind: NotificationKind;
  classId: string;
  classTitle: string;
  occurrenceId: string;
  startsAt: number;
  endsAt: number;
  revision: number;
  recipientName: string;
  /** IANA timezone of the recipient. */
  recipientTimezone: string;
  /** The site origin without a trailing slash. */
  publicUrl: string;
  /** When the message is written; reminders sent late (a move, a late enrolment) say the real time left. */
  now?: number;
  /** For a series notice: every session it is about, soonest first. */
  sessions?: readonly SessionTime[];
}

/** A series notice names at most this many sessions one by one; the rest are counted. */
const LISTED_SESSIONS = 30;

/**
 * How far a reminder may be off its window and still name the window: the cron ticks once a minute, so a
 * reminder on time leaves up to a minute less than its window. Anything later says the real time left.
 */
const WINDOW_SLACK_MINUTES = 1;

/**
 * The "starts in …" minutes of a reminder: its window when sent on time, otherwise the real time left (a late
 * scheduling, a move, a retry), rounded the way a person would say it: minutes below an hour and a half, whole
 * hours below two days, whole days beyond.
 */
export function minutesToSay(context: Pick<MessageContext, "startsAt" | "now">, windowMinutes: number): number {
  if (context.now === undefined) return windowMinutes;
  const exact = (context.startsAt - context.now) / 60_000;
  if (windowMinutes - exact <= WINDOW_SLACK_MINUTES && exact <= windowMinutes + WINDOW_SLACK_MINUTES) return windowMinutes;
  const minutes = Math.max(1, Math.round(exact));
  if (minutes < 90) return minutes;
  if (minutes < 2 * 1440) return Math.round(minutes / 60) * 60;
  return Math.round(minutes / 1440) * 1440;
}

export interface EmailAttachment {
  filename: string;
  /** MIME type, e.g. "text/calendar; method=PUBLISH". */
  type: string;
  /** Base64 of the file's bytes. */
  content: string;
}

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
  attachments: EmailAttachment[];
}

/** "24 hours", "1 hour", "10 minutes", "2 days". */
export function durationWords(minutes: number): string {
  if (minutes % 1440 === 0 && minutes > 2880) return plural(minutes / 1440, "day");
  if (minutes % 60 === 0) return plural(minutes / 60, "hour");
  return plural(minutes, "minute");
}

/** "24 h", "1 h", "10 min" for SMS. */
function durationShort(minutes: number): string {
  if (minutes % 1440 === 0 && minutes > 2880) return `${minutes / 1440} days`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

function safeTimezone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone });
    return timeZone;
  } catch {
    return "UTC";
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: string, timeZone: string): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}`;
  let cached = formatters.get(key);
  if (!cached) {
    cached = new Intl.DateTimeFormat(locale, {
      timeZone,
      weekday: "short",
      day: "numeric",
      month: "short",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
    formatters.set(key, cached);
  }
  return cached;
}

/** Where en-GB has no abbreviation for a zone, these locales may ("EDT" in en-US, "IST" for India in en-IN). */
const ABBREVIATION_LOCALES = ["en-US", "en-IN"];

/**
 * Date parts in `timeZone`. The zone abbreviation comes from whichever locale knows a name for it (en-GB says
 * "CEST" but "GMT-4" for New York, en-US the other way round, en-IN says "IST"); otherwise the GMT offset.
 */
function zonedParts(ms: number, timeZone: string): (type: Intl.DateTimeFormatPartTypes) => string {
  const zone = safeTimezone(timeZone);
  const date = new Date(ms);
  const parts = formatter("en-GB", zone).formatToParts(date);
  const get = (list: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes) => list.find((part) => part.type === type)?.value ?? "";
  let zoneName = get(parts, "timeZoneName");
  for (const locale of ABBREVIATION_LOCALES) {
    if (!/^GMT[+-]/.test(zoneName)) break;
    zoneName = get(formatter(locale, zone).formatToParts(date), "timeZoneName") || zoneName;
  }
  if (/^GMT[+-]/.test(zoneName)) zoneName = get(parts, "timeZoneName");
  return (type) => (type === "timeZoneName" ? zoneName : get(parts, type));
}

/** "Sun 29 Mar 2026, 09:00 CEST" in `timeZone`. */
export function formatInZone(ms: number, timeZone: string): string {
  const get = zonedParts(ms, timeZone);
  return `${get("weekday")} ${get("day")} ${get("month")} ${get("year")}, ${get("hour")}:${get("minute")} ${get("timeZoneName")}`;
}

/** Shorter form for SMS: "Sun 29 Mar 09:00 CEST". */
function formatShortInZone(ms: number, timeZone: string): string {
  const get = zonedParts(ms, timeZone);
  return `${get("weekday")} ${get("day")} ${get("month")} ${get("hour")}:${get("minute")} ${get("timeZoneName")}`;
}

export function joinLink(context: Pick<MessageContext, "publicUrl" | "classId">): string {
  return `${context.publicUrl}/classes/${context.classId}/live`;
}

function classLink(context: Pick<MessageContext, "publicUrl" | "classId">): string {
  return `${context.publicUrl}/classes/${context.classId}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function sessionCount(count: number): string {
  return count === 1 ? "session" : `${count} sessions`;
}

function headline(context: MessageContext): { subject: string; lead: string } {
  const { kind, classTitle } = context;
  const count = context.sessions?.length ?? 0;
  switch (kind.type) {
    case "reminder": {
      const words = durationWords(minutesToSay(context, kind.minutes));
      return { subject: `Reminder: ${classTitle} starts in ${words}`, lead: `${classTitle} starts in ${words}.` };
    }
    case "change":
      return { subject: `New time: ${classTitle}`, lead: `${classTitle} has moved to a new time.` };
    case "cancel":
      return { subject: `Cancelled: ${classTitle}`, lead: `${classTitle} has been cancelled.` };
    case "restore":
      return { subject: `Back on: ${classTitle}`, lead: `${classTitle} is back on: the session takes place after all.` };
    case "series-cancel":
      return {
        subject: `Cancelled: ${classTitle} (${sessionCount(count)})`,
        lead:
          count === 1 ? `The remaining session of ${classTitle} has been cancelled.` : `The remaining ${count} sessions of ${classTitle} have been cancelled.`,
      };
    case "series-change":
      return {
        subject: `New times: ${classTitle} (${sessionCount(count)})`,
        lead: count === 1 ? `The next session of ${classTitle} has a new time.` : `The next ${count} sessions of ${classTitle} have a new time.`,
      };
  }
}

/** The lines of a series notice: one per session in the recipient's zone, the rest counted. */
function sessionLines(context: MessageContext): string[] {
  const sessions = context.sessions ?? [];
  const lines = sessions
    .slice(0, LISTED_SESSIONS)
    .map((session) => `${formatInZone(session.startsAt, context.recipientTimezone)} (until ${formatInZone(session.endsAt, context.recipientTimezone)})`);
  if (sessions.length > LISTED_SESSIONS) lines.push(`and ${sessions.length - LISTED_SESSIONS} more`);
  return lines;
}

/** The e-mail for one notification: text and HTML parts and the occurrence (or, for a series notice, every session) as an .ics file. */
export function buildEmail(context: MessageContext): EmailContent {
  const { subject, lead } = headline(context);
  const when = formatInZone(context.startsAt, context.recipientTimezone);
  const until = formatInZone(context.endsAt, context.recipientTimezone);
  const cancelled = context.kind.type === "cancel" || context.kind.type === "series-cancel";
  const series = context.kind.type === "series-cancel" || context.kind.type === "series-change";
  const link = cancelled ? classLink(context) : joinLink(context);
  const listTitle = context.kind.type === "series-cancel" ? "Sessions that will not take place" : "New times";
  const whenText = series
    ? [`${listTitle}:`, ...sessionLines(context).map((line) => `- ${line}`)]
    : [`${cancelled ? "It was planned for" : "When"}: ${when} (until ${until})`];
  const whenHtml = series
    ? `<p>${listTitle}:</p>\n<ul>${sessionLines(context)
        .map((line) => `<li>${escapeHtml(line)}</li>`)
        .join("")}</ul>`
    : `<p>${cancelled ? "It was planned for" : "When"}: ${escapeHtml(when)} (until ${escapeHtml(until)})</p>`;
  const text = [
    `Hello ${context.recipientName},`,
    "",
    lead,
    "",
    ...whenText,
    `${cancelled ? "Class page" : "Join"}: ${link}`,
    "",
    "You get these messages because you take or teach this class. Change your reminder settings in insp live under Settings.",
  ].join("\n");
  const html = [
    "<!doctype html>",
    '<html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1d2330">',
    `<p>Hello ${escapeHtml(context.recipientName)},</p>`,
    `<p><strong>${escapeHtml(lead)}</strong></p>`,
    whenHtml,
    `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:8px 16px;background:#2f5bea;color:#fff;border-radius:6px;text-decoration:none">${cancelled ? "Open the class page" : "Join the class"}</a></p>`,
    `<p style="color:#5b6475;font-size:13px">You get these messages because you take or teach this class. Change your reminder settings in insp live under Settings.</p>`,
    "</body></html>",
  ].join("\n");
  const events = series
    ? (context.sessions ?? [])
    : [{ occurrenceId: context.occurrenceId, startsAt: context.startsAt, endsAt: context.endsAt, revision: context.revision }];
  const calendar = buildCalendar({
    name: context.classTitle,
    events: events.map((session) => ({
      uid: `${session.occurrenceId}@insp-live`,
      startsAt: session.startsAt,
      endsAt: session.endsAt,
      summary: context.classTitle,
      description: `Join: ${joinLink(context)}`,
      url: joinLink(context),
      cancelled,
      sequence: session.revision,
    })),
  });
  return { subject, text, html, attachments: [{ filename: "class.ics", type: "text/calendar; method=PUBLISH", content: base64Utf8(calendar) }] };
}

/** The SMS for one notification: one 160-character GSM-7 segment where possible. */
export function buildSms(context: MessageContext): string {
  const when = formatShortInZone(context.startsAt, context.recipientTimezone);
  const sessions = context.sessions ?? [];
  const first = sessions[0] ? formatShortInZone(sessions[0].startsAt, context.recipientTimezone) : when;
  const last = sessions.at(-1) ? formatShortInZone(sessions.at(-1)!.startsAt, context.recipientTimezone) : when;
  switch (context.kind.type) {
    case "reminder":
      return fitSms(`{title} starts in ${durationShort(minutesToSay(context, context.kind.minutes))}, ${when}. Join: ${joinLink(context)}`, context.classTitle);
    case "change":
      return fitSms(`{title} moved to ${when}. Join: ${joinLink(context)}`, context.classTitle);
    case "cancel":
      return fitSms(`{title} on ${when} is cancelled.`, context.classTitle);
    case "restore":
      return fitSms(`{title} on ${when} is back on. Join: ${joinLink(context)}`, context.classTitle);
    case "series-cancel":
      return fitSms(
        sessions.length === 1 ? `{title} on ${first} is cancelled.` : `{title}: all ${sessions.length} sessions from ${first} to ${last} are cancelled.`,
        context.classTitle,
      );
    case "series-change":
      return fitSms(`{title}: ${sessionCount(sessions.length)} moved, next on ${first}. Times: ${classLink(context)}`, context.classTitle);
  }
}
