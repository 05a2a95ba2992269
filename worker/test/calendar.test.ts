import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { CalendarEvent, CalendarResponse, ClassResponse, Occurrence, OccurrencesResponse } from "../../schema/api/portal";
import { classSeries, enrollments, type User } from "../../schema/db";
import { buildCalendar, foldLine } from "../calendar/ics";
import { utcToZonedLocal } from "../../schema/time-zone";
import { api, createUser, db, ORIGIN } from "./helpers";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function createClass(teacher: User, title = "Calendar class"): Promise<string> {
  const res = await api("/api/classes", { as: teacher, body: { title } });
  expect(res.status).toBe(201);
  return (await res.json<ClassResponse>()).class.id;
}

async function schedule(teacher: User, classId: string, body: object): Promise<Occurrence[]> {
  // These tests are about dates (DST changes of 2026, ranges of the past), not about when they are entered.
  const res = await api(`/api/classes/${classId}/occurrences`, { as: teacher, body: { ...body, allowPast: true } });
  expect(res.status).toBe(201);
  return (await res.json<OccurrencesResponse>()).occurrences;
}

const iso = (ms: number) => new Date(ms).toISOString();

describe("series", () => {
  it("a weekly 09:00 Europe/Berlin class stays at 09:00 local across 2026-03-29 (UTC 08:00 → 07:00)", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const list = await schedule(teacher, classId, {
      series: { firstStartLocal: "2026-03-15T09:00", durationMinutes: 90, timezone: "Europe/Berlin", frequency: "weekly", count: 4 },
    });
    expect(list.map((o) => iso(o.startsAt))).toEqual([
      "2026-03-15T08:00:00.000Z",
      "2026-03-22T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-04-05T07:00:00.000Z",
    ]);
    for (const o of list) {
      expect(utcToZonedLocal(o.startsAt, "Europe/Berlin")).toMatchObject({ hour: 9, minute: 0 });
      expect(o.endsAt - o.startsAt).toBe(90 * 60_000);
      expect(o).toMatchObject({ timezone: "Europe/Berlin", status: "scheduled", classId });
    }
    expect(new Set(list.map((o) => o.seriesId)).size).toBe(1);
    const [series] = await db.select().from(classSeries).where(eq(classSeries.classId, classId));
    expect(series).toMatchObject({ id: list[0]!.seriesId, frequency: "weekly", count: 4, firstStartLocal: "2026-03-15T09:00" });
  });

  it("America/New_York on Tuesdays and Thursdays keeps 09:00 local across 2026-03-08", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const list = await schedule(teacher, classId, {
      series: { firstStartLocal: "2026-03-03T09:00", durationMinutes: 60, timezone: "America/New_York", frequency: "weekly", weekdays: [4, 2], count: 4 },
    });
    expect(list.map((o) => iso(o.startsAt))).toEqual([
      "2026-03-03T14:00:00.000Z",
      "2026-03-05T14:00:00.000Z",
      "2026-03-10T13:00:00.000Z",
      "2026-03-12T13:00:00.000Z",
    ]);
  });

  it("daily every other day, and every second week", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const daily = await schedule(teacher, classId, {
      series: { firstStartLocal: "2026-10-24T18:00", durationMinutes: 30, timezone: "Europe/Berlin", frequency: "daily", interval: 2, count: 3 },
    });
    expect(daily.map((o) => iso(o.startsAt))).toEqual(["2026-10-24T16:00:00.000Z", "2026-10-26T17:00:00.000Z", "2026-10-28T17:00:00.000Z"]);
    const biweekly = await schedule(teacher, classId, {
      series: { firstStartLocal: "2026-06-03T10:00", durationMinutes: 30, timezone: "UTC", frequency: "weekly", interval: 2, weekdays: [1, 3], count: 3 },
    });
    // Starts on Wednesday 06-03: Monday 06-01 of that week is before the first date and skipped.
    expect(biweekly.map((o) => iso(o.startsAt).slice(0, 10))).toEqual(["2026-06-03", "2026-06-15", "2026-06-17"]);
  });

  it("refuses a bad series and writes nothing", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const base = { firstStartLocal: "2026-06-01T10:00", durationMinutes: 60, timezone: "UTC", frequency: "weekly", count: 3 };
    for (const series of [
      { ...base, count: 101 },
      { ...base, count: 0 },
      { ...base, durationMinutes: 721 },
      { ...base, firstStartLocal: "2026-02-30T10:00" },
      { ...base, firstStartLocal: "2026-06-01 10:00" },
      { ...base, frequency: "daily", weekdays: [1] },
      { ...base, weekdays: [8] },
      { ...base, timezone: "Nowhere/Town" },
    ]) {
      const res = await api(`/api/classes/${classId}/occurrences`, { as: teacher, body: { series } });
      expect(res.status, JSON.stringify(series)).toBe(400);
    }
    expect(await db.select().from(classSeries).where(eq(classSeries.classId, classId))).toHaveLength(0);
    const detail = await (await api(`/api/classes/${classId}`, { as: teacher })).json<ClassResponse>();
    expect(detail.class.occurrences).toHaveLength(0);
  });
});

describe("series at the edges of the calendar", () => {
  it("refuses a series that would run past year 9999 or start before 1970 UTC, names the occurrence, and writes nothing", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const refusals: [unknown, RegExp][] = [
      [
        { firstStartLocal: "9999-12-29T10:00", durationMinutes: 60, timezone: "UTC", frequency: "daily", count: 5 },
        /occurrence 4 of 5 \(10000-01-01\) ends after year 9999/,
      ],
      [
        { firstStartLocal: "9999-11-01T10:00", durationMinutes: 60, timezone: "Europe/Berlin", frequency: "weekly", interval: 8, count: 3 },
        /occurrence 3 of 3 \(10000-02-21\) ends after year 9999/,
      ],
      // The last local date is in 9999, but 23:30 for an hour ends in year 10000.
      [
        { firstStartLocal: "9999-12-31T23:30", durationMinutes: 60, timezone: "UTC", frequency: "daily", count: 1 },
        /occurrence 1 of 1 \(9999-12-31\) ends after year 9999/,
      ],
      // 00:30 in Berlin on 1970-01-01 is 23:30 UTC the day before.
      [
        { firstStartLocal: "1970-01-01T00:30", durationMinutes: 60, timezone: "Europe/Berlin", frequency: "daily", count: 2 },
        /occurrence 1 of 2 \(1970-01-01\) starts before 1970/,
      ],
    ];
    for (const [series, message] of refusals) {
      const res = await api(`/api/classes/${classId}/occurrences`, { as: teacher, body: { series } });
      const text = await res.text();
      expect(res.status, text).toBe(400);
      expect(JSON.parse(text)).toEqual({ error: { code: "INVALID_MESSAGE", message: expect.stringMatching(message) } });
    }
    expect(await db.select().from(classSeries).where(eq(classSeries.classId, classId))).toHaveLength(0);
    expect((await (await api(`/api/classes/${classId}`, { as: teacher })).json<ClassResponse>()).class.occurrences).toHaveLength(0);
  });

  it("accepts a series that ends on the last day of 9999, and its last occurrence can still be moved", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    const list = await schedule(teacher, classId, {
      series: { firstStartLocal: "9999-12-29T10:00", durationMinutes: 60, timezone: "UTC", frequency: "daily", count: 3 },
    });
    expect(list.map((o) => iso(o.startsAt))).toEqual(["9999-12-29T10:00:00.000Z", "9999-12-30T10:00:00.000Z", "9999-12-31T10:00:00.000Z"]);
    const last = list[2]!;
    const moved = await api(`/api/occurrences/${last.id}`, {
      method: "PATCH",
      as: teacher,
      body: { startsAt: last.startsAt + HOUR, endsAt: last.endsAt + HOUR },
    });
    expect(moved.status, await moved.clone().text()).toBe(200);
  });
});

describe("GET /api/calendar", () => {
  it("shows each viewer the events of their classes in the range, tagged by relation", async () => {
    const teacher = await createUser("teacher");
    const otherTeacher = await createUser("teacher");
    const student = await createUser("student");
    const admin = await createUser("admin");
    const mine = await createClass(teacher, "Mine");
    const theirs = await createClass(otherTeacher, "Theirs");
    const base = Date.UTC(2030, 0, 7, 9);
    const [inRange] = await schedule(teacher, mine, { startsAt: base, endsAt: base + HOUR, timezone: "UTC" });
    const [overlapsStart] = await schedule(teacher, mine, { startsAt: base - 30 * 60_000 - DAY, endsAt: base + 30 * 60_000 - DAY, timezone: "UTC" });
    await schedule(teacher, mine, { startsAt: base + 10 * DAY, endsAt: base + 10 * DAY + HOUR, timezone: "UTC" });
    const [theirsEvent] = await schedule(otherTeacher, theirs, { startsAt: base + 2 * HOUR, endsAt: base + 3 * HOUR, timezone: "Europe/Berlin" });
    await api(`/api/classes/${mine}/enrollment`, { as: student, method: "POST" });
    await api(`/api/classes/${theirs}/enrollment`, { as: teacher, method: "POST" });

    const from = base - DAY;
    const to = base + 7 * DAY;
    const events = async (user: User) => {
      const res = await api(`/api/calendar?from=${from}&to=${to}`, { as: user });
      expect(res.status).toBe(200);
      return (await res.json<CalendarResponse>()).events.filter((e) => e.classId === mine || e.classId === theirs);
    };
    const summary = (list: CalendarEvent[]) => list.map((e) => [e.occurrenceId, e.relation]);

    expect(summary(await events(student))).toEqual([
      [overlapsStart!.id, "enrolled"],
      [inRange!.id, "enrolled"],
    ]);
    expect(summary(await events(teacher))).toEqual([
      [overlapsStart!.id, "teaching"],
      [inRange!.id, "teaching"],
      [theirsEvent!.id, "enrolled"],
    ]);
    expect(summary(await events(otherTeacher))).toEqual([[theirsEvent!.id, "teaching"]]);
    expect(summary(await events(admin))).toEqual([
      [overlapsStart!.id, "admin"],
      [inRange!.id, "admin"],
      [theirsEvent!.id, "admin"],
    ]);
    const [first] = await events(student);
    expect(first).toMatchObject({
      classId: mine,
      title: "Mine",
      startsAt: overlapsStart!.startsAt,
      endsAt: overlapsStart!.endsAt,
      timezone: "UTC",
      status: "scheduled",
    });
  });

  it("caps a page at `limit` and says it was truncated", async () => {
    const teacher = await createUser("teacher");
    const classId = await createClass(teacher);
    await schedule(teacher, classId, { series: { firstStartLocal: "2031-01-01T10:00", durationMinutes: 60, timezone: "UTC", frequency: "daily", count: 5 } });
    const from = Date.UTC(2031, 0, 1);
    const res = await api(`/api/calendar?from=${from}&to=${from + 10 * DAY}&limit=3`, { as: teacher });
    const body = await res.json<CalendarResponse>();
    expect(body.events).toHaveLength(3);
    expect(body.truncated).toBe(true);
    const all = await (await api(`/api/calendar?from=${from}&to=${from + 10 * DAY}`, { as: teacher })).json<CalendarResponse>();
    expect(all.events).toHaveLength(5);
    expect(all.truncated).toBe(false);
  });

  it("refuses an inverted range or one longer than 366 days", async () => {
    const student = await createUser("student");
    for (const query of [`from=${2 * DAY}&to=${DAY}`, `from=0&to=${367 * DAY}`]) {
      const res = await api(`/api/calendar?${query}`, { as: student });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "INVALID_MESSAGE" } });
    }
    expect((await api(`/api/calendar?from=0&to=${366 * DAY}`, { as: student })).status).toBe(200);
  });
});

// ─── a strict RFC 5545 reader for the tests ─────────────────────────────────────────────────────────────────

interface IcsComponent {
  name: string;
  props: Map<string, string[]>;
  children: IcsComponent[];
}

function unescapeText(value: string): string {
  return value.replace(/\\([\\;,nN])/g, (_, ch: string) => (ch === "n" || ch === "N" ? "\n" : ch));
}

/** Parses an iCalendar object strictly: CRLF only, ≤ 75-octet lines, balanced BEGIN/END, required properties. */
function parseIcs(text: string): IcsComponent {
  expect(text.endsWith("\r\n")).toBe(true);
  const physical = text.slice(0, -2).split("\r\n");
  for (const line of physical) {
    expect(line, "bare CR or LF").not.toMatch(/[\r\n]/);
    expect(new TextEncoder().encode(line).length, `line too long: ${line}`).toBeLessThanOrEqual(75);
  }
  const logical: string[] = [];
  for (const line of physical) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      expect(logical.length).toBeGreaterThan(0);
      logical[logical.length - 1] += line.slice(1);
    } else logical.push(line);
  }
  const stack: IcsComponent[] = [];
  let root: IcsComponent | undefined;
  for (const line of logical) {
    const match = /^([A-Z0-9-]+)((?:;[^:]*)?):(.*)$/.exec(line);
    expect(match, `not a content line: ${line}`).not.toBeNull();
    const [, name, , value] = match!;
    if (name === "BEGIN") {
      const component: IcsComponent = { name: value!, props: new Map(), children: [] };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(component);
      else {
        expect(root).toBeUndefined();
        root = component;
      }
      stack.push(component);
    } else if (name === "END") {
      expect(stack.pop()?.name).toBe(value);
    } else {
      expect(stack.length).toBeGreaterThan(0);
      const props = stack[stack.length - 1]!.props;
      props.set(name!, [...(props.get(name!) ?? []), value!]);
    }
  }
  expect(stack).toHaveLength(0);
  expect(root?.name).toBe("VCALENDAR");
  for (const required of ["PRODID", "VERSION"]) expect(root!.props.get(required), required).toHaveLength(1);
  expect(root!.props.get("VERSION")).toEqual(["2.0"]);
  for (const event of root!.children.filter((c) => c.name === "VEVENT")) {
    for (const required of ["UID", "DTSTAMP", "DTSTART"]) expect(event.props.get(required), required).toHaveLength(1);
  }
  return root!;
}

const prop = (component: IcsComponent, name: string) => component.props.get(name)?.[0];
const icsUtc = (ms: number) => iso(ms).replace(/[-:]/g, "").replace(".000", "");

describe("ICS", () => {
  it("folds at 75 octets without splitting a multi-byte character", () => {
    const line = `SUMMARY:${"é".repeat(60)}`;
    const folded = foldLine(line);
    const pieces = folded.split("\r\n");
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(new TextEncoder().encode(piece).length).toBeLessThanOrEqual(75);
    expect(pieces.map((p, i) => (i === 0 ? p : p.slice(1))).join("")).toBe(line);
  });

  it("builds a single-event calendar that a strict reader accepts, with escaped text", () => {
    const start = Date.UTC(2030, 4, 1, 12);
    const text = buildCalendar({
      name: "Reminder",
      stamp: start - DAY,
      events: [
        {
          uid: "abc@insp-live",
          startsAt: start,
          endsAt: start + HOUR,
          summary: "Maths; part 1, intro\\basics",
          description: "Line one\nLine two",
          sequence: 2,
        },
      ],
    });
    const calendar = parseIcs(text);
    const [event] = calendar.children;
    expect(prop(event!, "SUMMARY")).toBe("Maths\\; part 1\\, intro\\\\basics");
    expect(unescapeText(prop(event!, "SUMMARY")!)).toBe("Maths; part 1, intro\\basics");
    expect(unescapeText(prop(event!, "DESCRIPTION")!)).toBe("Line one\nLine two");
    expect(prop(event!, "DTSTART")).toBe("20300501T120000Z");
    expect(prop(event!, "SEQUENCE")).toBe("2");
  });

  it("the personal feed lists the user's classes in UTC, marks cancelled ones, and dies when rotated", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student", { displayName: "Zoë Student" });
    const longTitle = "Advanced topics in harmonic analysis, spectral theory; and a rather long title indeed — über";
    const classId = await createClass(teacher, longTitle);
    const other = await createClass(teacher, "Not enrolled");
    const now = Date.now();
    const [kept, cancelled] = await schedule(teacher, classId, {
      series: {
        firstStartLocal: new Date(now + 7 * DAY).toISOString().slice(0, 10) + "T09:00",
        durationMinutes: 60,
        timezone: "Europe/Berlin",
        frequency: "weekly",
        count: 2,
      },
    });
    const [tooOld] = await schedule(teacher, classId, { startsAt: now - 40 * DAY, endsAt: now - 40 * DAY + HOUR, timezone: "UTC" });
    await schedule(teacher, other, { startsAt: now + DAY, endsAt: now + DAY + HOUR, timezone: "UTC" });
    expect((await api(`/api/occurrences/${cancelled!.id}/cancel`, { as: teacher, method: "POST" })).status).toBe(200);
    await db.insert(enrollments).values({ classId, userId: student.id, createdAt: now });

    const feedRes = await api("/api/me/calendar-feed", { as: student });
    const { url } = await feedRes.json<{ url: string }>();
    expect(url).toBe(`${ORIGIN}/calendar/${student.calendarSecret}.ics`);

    // No cookie: calendar apps fetch the feed with the secret alone.
    const ics = await SELF.fetch(url);
    expect(ics.status).toBe(200);
    expect(ics.headers.get("content-type")).toMatch(/^text\/calendar/);
    const calendar = parseIcs(await ics.text());
    expect(prop(calendar, "X-WR-CALNAME")).toBe("insp-live — Zoë Student");
    expect(prop(calendar, "CALSCALE")).toBe("GREGORIAN");
    const events = calendar.children.filter((c) => c.name === "VEVENT");
    expect(events.map((e) => prop(e, "UID"))).toEqual([`${kept!.id}@insp-live`, `${cancelled!.id}@insp-live`]);
    expect(events.map((e) => prop(e, "UID"))).not.toContain(`${tooOld!.id}@insp-live`);
    const [first, second] = events;
    expect(prop(first!, "DTSTART")).toBe(icsUtc(kept!.startsAt));
    expect(prop(first!, "DTEND")).toBe(icsUtc(kept!.endsAt));
    expect(prop(first!, "DTSTART")).toMatch(/^\d{8}T\d{6}Z$/);
    expect(prop(first!, "STATUS")).toBe("CONFIRMED");
    expect(unescapeText(prop(first!, "SUMMARY")!)).toBe(longTitle);
    expect(prop(first!, "URL")).toBe(`${ORIGIN}/classes/${classId}`);
    expect(unescapeText(prop(first!, "DESCRIPTION")!)).toContain(`${ORIGIN}/classes/${classId}`);
    expect(prop(second!, "STATUS")).toBe("CANCELLED");
    expect(prop(second!, "SEQUENCE")).toBe("1");

    const rotated = await api("/api/me/calendar-feed/rotate", { as: student, method: "POST" });
    expect(rotated.status).toBe(200);
    const { url: newUrl } = await rotated.json<{ url: string }>();
    expect(newUrl).not.toBe(url);
    expect((await SELF.fetch(url)).status).toBe(404);
    const fresh = await SELF.fetch(newUrl);
    expect(fresh.status).toBe(200);
    expect(parseIcs(await fresh.text()).children).toHaveLength(2);
  });

  it("answers 404 for an unknown or malformed feed secret", async () => {
    for (const path of ["/calendar/0123456789abcdef0123.ics", "/calendar/short.ics", "/calendar/0123456789abcdef0123"]) {
      expect((await SELF.fetch(`${ORIGIN}${path}`)).status, path).toBe(404);
    }
  });
});
