import { describe, expect, it } from "vitest";
import { classifyLocalTime, type LocalTimeKind, parseLocalDateTime, utcToZonedLocal, zonedLocalToUtc } from "../../schema/time-zone";

/**
 * The one wall-clock → UTC rule (schema/time-zone.ts) over zones and transitions of both hemispheres, with
 * half-hour and 45-minute offsets and a skipped day. Expected instants were worked out from each zone's rules,
 * not from the function.
 */
interface Case {
  zone: string;
  local: string;
  kind: LocalTimeKind["kind"];
  utc: string;
  /** Repeated: the second occurrence. Skipped: the length of the jump. */
  later?: string;
  gapMinutes?: number;
}

const CASES: Case[] = [
  { zone: "UTC", local: "2026-07-01T09:00", kind: "normal", utc: "2026-07-01T09:00Z" },
  { zone: "Asia/Kolkata", local: "2026-07-01T09:00", kind: "normal", utc: "2026-07-01T03:30Z" },
  { zone: "Europe/Berlin", local: "2026-03-29T09:00", kind: "normal", utc: "2026-03-29T07:00Z" },
  { zone: "Europe/Berlin", local: "2026-03-29T02:30", kind: "skipped", utc: "2026-03-29T01:30Z", gapMinutes: 60 },
  { zone: "Europe/Berlin", local: "2026-10-25T02:30", kind: "repeated", utc: "2026-10-25T00:30Z", later: "2026-10-25T01:30Z" },
  { zone: "Europe/London", local: "2026-03-29T01:30", kind: "skipped", utc: "2026-03-29T01:30Z", gapMinutes: 60 },
  { zone: "America/New_York", local: "2026-03-08T02:30", kind: "skipped", utc: "2026-03-08T07:30Z", gapMinutes: 60 },
  { zone: "America/New_York", local: "2026-11-01T01:30", kind: "repeated", utc: "2026-11-01T05:30Z", later: "2026-11-01T06:30Z" },
  { zone: "America/St_Johns", local: "2026-03-08T02:30", kind: "skipped", utc: "2026-03-08T06:00Z", gapMinutes: 60 },
  // Southern hemisphere: clocks go back in April and forward in October.
  { zone: "Australia/Sydney", local: "2026-04-05T02:30", kind: "repeated", utc: "2026-04-04T15:30Z", later: "2026-04-04T16:30Z" },
  { zone: "Australia/Sydney", local: "2026-10-04T02:30", kind: "skipped", utc: "2026-10-03T16:30Z", gapMinutes: 60 },
  { zone: "America/Santiago", local: "2026-04-04T23:30", kind: "repeated", utc: "2026-04-05T02:30Z", later: "2026-04-05T03:30Z" },
  // Lord Howe shifts by half an hour.
  { zone: "Australia/Lord_Howe", local: "2026-04-05T01:45", kind: "repeated", utc: "2026-04-04T14:45Z", later: "2026-04-04T15:15Z" },
  { zone: "Australia/Lord_Howe", local: "2026-10-04T02:15", kind: "skipped", utc: "2026-10-03T15:45Z", gapMinutes: 30 },
  // Chatham: +12:45 → +13:45.
  { zone: "Pacific/Chatham", local: "2026-09-27T03:00", kind: "skipped", utc: "2026-09-26T14:15Z", gapMinutes: 60 },
  // Samoa skipped 30 December 2011 altogether (−10 → +14).
  { zone: "Pacific/Apia", local: "2011-12-30T10:00", kind: "skipped", utc: "2011-12-30T20:00Z", gapMinutes: 1440 },
];

const ms = (iso: string) => Date.parse(iso.replace("Z", ":00Z"));

describe("one rule for local times a zone skips or repeats", () => {
  for (const c of CASES) {
    it(`${c.zone} ${c.local} is ${c.kind} and lands at ${c.utc}`, () => {
      const result = classifyLocalTime(c.local, c.zone);
      expect(result.kind).toBe(c.kind);
      expect(new Date(result.utcMs).toISOString()).toBe(new Date(ms(c.utc)).toISOString());
      expect(zonedLocalToUtc(c.local, c.zone)).toBe(result.utcMs);
      if (result.kind === "repeated") expect(new Date(result.laterUtcMs).toISOString()).toBe(new Date(ms(c.later!)).toISOString());
      if (result.kind === "skipped") expect(result.gapMinutes).toBe(c.gapMinutes);
    });
  }

  it("a repeated or normal time reads back as the same wall clock; a skipped one reads back moved forward by the gap", () => {
    for (const c of CASES) {
      const result = classifyLocalTime(c.local, c.zone);
      const back = utcToZonedLocal(result.utcMs, c.zone);
      const asked = parseLocalDateTime(c.local)!;
      const minutesApart =
        (Date.UTC(back.year, back.month - 1, back.day, back.hour, back.minute) - Date.UTC(asked.year, asked.month - 1, asked.day, asked.hour, asked.minute)) /
        60_000;
      expect(minutesApart).toBe(result.kind === "skipped" ? result.gapMinutes : 0);
    }
  });

  it("refuses text that is not a local date-time", () => {
    expect(() => classifyLocalTime("2026-13-01 09:00", "UTC")).toThrow(RangeError);
  });
});
