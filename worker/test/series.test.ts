import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ClassResponse, Occurrence, OccurrenceResponse, OccurrencesResponse } from "../../schema/api/portal";
import { classSeries, type Notification, notifications, occurrences, type User } from "../../schema/db";
import { formatLocalDateTime, utcToZonedLocal } from "../../schema/time-zone";
import { api, createUser, db } from "./helpers";
import { createClass, createOccurrence, enroll, HOUR, MINUTE, pendingNotification, providerRequests, settled, uniquePhone } from "./reminders-helpers";

const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

interface SentMail {
  subject: string;
  text: string;
}

/** The e-mails the SendGrid look-alike accepted for `email`, in order. */
async function mails(email: string): Promise<SentMail[]> {
  return (await providerRequests("sendgrid", email))
    .filter((request) => request.answer === "ok")
    .map((request) => {
      const body = request.body as { subject: string; content: { type: string; value: string }[] };
      return { subject: body.subject, text: body.content.find((part) => part.type === "text/plain")!.value };
    });
}

async function seriesRequest(teacher: User, classId: string, series: object): Promise<Response> {
  return api(`/api/classes/${classId}/occurrences`, { as: teacher, body: { series, allowPast: true } });
}

async function createSeries(teacher: User, classId: string, series: object): Promise<Occurrence[]> {
  const response = await seriesRequest(teacher, classId, series);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json<OccurrencesResponse>()).occurrences;
}

async function occurrenceRows(seriesId: string) {
  return db.select().from(occurrences).where(eq(occurrences.seriesId, seriesId)).orderBy(occurrences.startsAt);
}

/**
 * A fixed-offset zone in which it is about noon now, so that "two hours from now" and "an hour ago" fall on
 * today's local date whenever the test runs.
 */
function noonZone(): string {
  const offset = 12 - new Date().getUTCHours();
  return offset === 0 ? "UTC" : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

/** `YYYY-MM-DDTHH:mm` of an instant in `timeZone`. */
const localText = (ms: number, timeZone: string) => formatLocalDateTime(utcToZonedLocal(ms, timeZone));

/** Every notification of a class's occurrences, settled (sent or otherwise finished). */
async function settledAll(occurrenceIds: string[]): Promise<Notification[]> {
  const rows: Notification[] = [];
  for (const id of occurrenceIds) {
    const mine = await db.select().from(notifications).where(eq(notifications.occurrenceId, id));
    if (mine.length > 0) rows.push(...(await settled(id)));
  }
  return rows;
}

describe("a series that ends on a date", () => {
  it("expands up to and including the end date, keeps the wall-clock time across DST, and records how many were made", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const list = await createSeries(teacher, cls.id, {
      firstStartLocal: "2026-03-15T09:00",
      durationMinutes: 60,
      timezone: "Europe/Berlin",
      frequency: "weekly",
      until: "2026-04-05",
    });
    // The last Sunday is the end date itself; Berlin changes to summer time on 2026-03-29.
    expect(list.map((o) => iso(o.startsAt))).toEqual([
      "2026-03-15T08:00:00.000Z",
      "2026-03-22T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-04-05T07:00:00.000Z",
    ]);
    for (const o of list) expect(utcToZonedLocal(o.startsAt, "Europe/Berlin")).toMatchObject({ hour: 9, minute: 0 });
    const [series] = await db.select().from(classSeries).where(eq(classSeries.classId, cls.id));
    expect(series).toMatchObject({ id: list[0]!.seriesId, count: 4, until: "2026-04-05" });

    // Weekdays and a daily interval honour the end date as well; an end date on the first day makes one session.
    const twice = await createSeries(teacher, cls.id, {
      firstStartLocal: "2027-01-04T18:00",
      durationMinutes: 30,
      timezone: "UTC",
      frequency: "weekly",
      weekdays: [1, 4],
      until: "2027-01-14",
    });
    expect(twice.map((o) => iso(o.startsAt).slice(0, 10))).toEqual(["2027-01-04", "2027-01-07", "2027-01-11", "2027-01-14"]);
    const single = await createSeries(teacher, cls.id, {
      firstStartLocal: "2027-01-04T18:00",
      durationMinutes: 30,
      timezone: "UTC",
      frequency: "daily",
      interval: 3,
      until: "2027-01-04",
    });
    expect(single).toHaveLength(1);
  });

  it("refuses an end date before the first session, too many sessions, and both or neither of count and end date, writing nothing", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const base = { firstStartLocal: "2027-02-10T10:00", durationMinutes: 60, timezone: "America/New_York", frequency: "daily" };
    const refusals: [object, string, RegExp][] = [
      [{ ...base, until: "2027-02-09" }, "series.until", /end date is before the first session/],
      [{ ...base, frequency: "weekly", weekdays: [1], until: "2027-02-12" }, "series.until", /No session falls between/],
      [{ ...base, until: "2027-05-21" }, "series.until", /at most 100 sessions/],
      [{ ...base, until: "9999-12-31" }, "series.until", /at most 100 sessions/],
      [{ ...base, count: 3, until: "2027-02-12" }, "series.count", /after a number of sessions, or on a date/],
      [base, "series.count", /after a number of sessions, or on a date/],
      [{ ...base, until: "2027-02-30" }, "series.until", /does not exist/],
    ];
    for (const [series, field, message] of refusals) {
      const response = await seriesRequest(teacher, cls.id, series);
      const body = await response.json<{ error: { code: string; message: string; fields?: Record<string, string> } }>();
      expect(response.status, JSON.stringify(series)).toBe(400);
      expect(body.error.code).toBe("INVALID_MESSAGE");
      expect(body.error.fields?.[field], JSON.stringify(body)).toMatch(message);
    }
    // 100 sessions exactly is allowed (2027-02-10 … 2027-05-20 daily).
    expect(await createSeries(teacher, cls.id, { ...base, until: "2027-05-20" })).toHaveLength(100);
    expect(await db.select().from(classSeries).where(eq(classSeries.classId, cls.id))).toHaveLength(1);
  });
});

/** A class with two enrolled students and a daily series at `now + 2 h`: three sessions past, three to come. */
async function seriesWithHistory(title: string) {
  const teacher = await createUser("teacher");
  const students = [await createUser("student", { phone: uniquePhone(), remindBySms: true }), await createUser("student", { timezone: "Asia/Tokyo" })];
  const cls = await createClass(teacher, { title });
  await enroll(cls, ...students);
  const base = Date.now() + 2 * HOUR;
  const timezone = noonZone();
  const list = await createSeries(teacher, cls.id, {
    firstStartLocal: localText(base - 3 * DAY, timezone),
    durationMinutes: 60,
    timezone,
    frequency: "daily",
    count: 6,
  });
  const now = Date.now();
  const past = list.filter((o) => o.startsAt < now);
  const future = list.filter((o) => o.startsAt > now);
  expect([past.length, future.length]).toEqual([3, 3]);
  return { teacher, students, cls, seriesId: list[0]!.seriesId!, past, future, timezone };
}

describe("cancelling a whole series", () => {
  it("cancels the sessions to come, keeps the past ones, stops their reminders and tells each student once", async () => {
    const { teacher, students, cls, seriesId, past, future } = await seriesWithHistory("Chemistry");
    const [first, second] = students as [User, User];
    const futureRows = (await occurrenceRows(seriesId)).filter((row) => row.startsAt > Date.now());
    const stale = await pendingNotification(second, futureRows[1]!, "email", "reminder:1440@0");

    for (const outsider of [first, await createUser("teacher")]) {
      const refused = await api(`/api/series/${seriesId}/cancel`, { method: "POST", as: outsider });
      expect(refused.status).toBe(403);
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe("FORBIDDEN");
    }
    expect((await occurrenceRows(seriesId)).every((row) => row.status === "scheduled")).toBe(true);

    const response = await api(`/api/series/${seriesId}/cancel`, { method: "POST", as: teacher });
    expect(response.status).toBe(200);
    expect((await response.json<OccurrencesResponse>()).occurrences.map((o) => o.id)).toEqual(future.map((o) => o.id));
    const rows = await occurrenceRows(seriesId);
    expect(rows.filter((row) => row.status === "cancelled").map((row) => row.id)).toEqual(future.map((o) => o.id));
    expect(rows.filter((row) => row.status === "scheduled").map((row) => row.id)).toEqual(past.map((o) => o.id));
    expect(rows.filter((row) => row.status === "cancelled").every((row) => row.revision === 1)).toBe(true);

    const sent = await settledAll(future.map((o) => o.id));
    expect(sent.find((row) => row.id === stale.id)).toMatchObject({ status: "cancelled", error: "The class was cancelled" });
    const notices = sent.filter((row) => row.kind.startsWith("series-cancel"));
    // One notice per student and channel (the first also by SMS), all on the first cancelled session.
    expect(notices.map((row) => `${row.userId}:${row.channel}`).sort()).toEqual([`${first.id}:email`, `${first.id}:sms`, `${second.id}:email`].sort());
    expect(new Set(notices.map((row) => row.occurrenceId))).toEqual(new Set([future[0]!.id]));
    expect(notices.every((row) => row.status === "sent")).toBe(true);

    const [mail] = await mails(second.email);
    expect(await mails(second.email)).toHaveLength(1);
    expect(mail!.subject).toBe("Cancelled: Chemistry (3 sessions)");
    expect(mail!.text).toContain("The remaining 3 sessions of Chemistry have been cancelled.");
    // Listed in the student's own zone, one line each.
    expect(mail!.text.split("\n").filter((line) => line.startsWith("- ") && line.includes("GMT+9"))).toHaveLength(3);
    const sms = (await providerRequests("twilio", first.phone!)).map((request) => (request.body as { Body: string }).Body);
    expect(sms).toEqual([expect.stringMatching(/^Chemistry: all 3 sessions from .* are cancelled\.$/)]);

    // Nothing is left to cancel, and the teacher is told so.
    const again = await api(`/api/series/${seriesId}/cancel`, { method: "POST", as: teacher });
    expect(again.status).toBe(409);
    const detail = await (await api(`/api/classes/${cls.id}`, { as: teacher })).json<ClassResponse>();
    expect(detail.class.occurrences.filter((o) => o.status === "cancelled")).toHaveLength(3);
  });

  it("an admin may cancel any class's series; an unknown series is 404", async () => {
    const { seriesId, future } = await seriesWithHistory("Physics");
    const admin = await createUser("admin");
    expect((await api(`/api/series/${seriesId}/cancel`, { method: "POST", as: admin })).status).toBe(200);
    expect((await occurrenceRows(seriesId)).filter((row) => row.status === "cancelled")).toHaveLength(future.length);
    expect((await api(`/api/series/${crypto.randomUUID()}/cancel`, { method: "POST", as: admin })).status).toBe(404);
  });
});

describe("moving a whole series", () => {
  it("gives every session to come a new local time on its own date across DST, bumps revisions and tells each student once", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student", { timezone: "Europe/Berlin" });
    const other = await createUser("teacher");
    const cls = await createClass(teacher, { title: "Drawing" });
    await enroll(cls, student);
    // Berlin moves to summer time on 2027-03-28.
    const list = await createSeries(teacher, cls.id, {
      firstStartLocal: "2027-03-14T09:00",
      durationMinutes: 90,
      timezone: "Europe/Berlin",
      frequency: "weekly",
      count: 4,
    });
    const seriesId = list[0]!.seriesId!;
    const stale = await pendingNotification(student, (await occurrenceRows(seriesId))[2]!, "email", "reminder:1440@0");

    for (const outsider of [student, other])
      expect((await api(`/api/series/${seriesId}`, { method: "PATCH", as: outsider, body: { startTime: "10:30" } })).status).toBe(403);
    for (const body of [{}, { startTime: "25:00" }, { durationMinutes: 0 }, { startTime: "10:30", extra: 1 }]) {
      expect((await api(`/api/series/${seriesId}`, { method: "PATCH", as: teacher, body })).status, JSON.stringify(body)).toBe(400);
    }
    expect((await occurrenceRows(seriesId)).map((row) => row.revision)).toEqual([0, 0, 0, 0]);

    const response = await api(`/api/series/${seriesId}`, { method: "PATCH", as: teacher, body: { startTime: "10:30", durationMinutes: 45 } });
    expect(response.status, await response.clone().text()).toBe(200);
    const moved = (await response.json<OccurrencesResponse>()).occurrences;
    expect(moved.map((o) => iso(o.startsAt))).toEqual([
      "2027-03-14T09:30:00.000Z",
      "2027-03-21T09:30:00.000Z",
      "2027-03-28T08:30:00.000Z",
      "2027-04-04T08:30:00.000Z",
    ]);
    expect(moved.every((o) => o.endsAt - o.startsAt === 45 * MINUTE)).toBe(true);
    const rows = await occurrenceRows(seriesId);
    expect(rows.map((row) => row.revision)).toEqual([1, 1, 1, 1]);

    const sent = await settledAll(rows.map((row) => row.id));
    expect(sent.find((row) => row.id === stale.id)).toMatchObject({ status: "cancelled", error: "The class moved to a new time" });
    const notices = sent.filter((row) => row.kind === "series-change@1");
    expect(notices.map((row) => [row.userId, row.channel, row.occurrenceId, row.status])).toEqual([[student.id, "email", rows[0]!.id, "sent"]]);
    const received = await mails(student.email);
    expect(received.map((mail) => mail.subject)).toEqual(["New times: Drawing (4 sessions)"]);
    expect(received[0]!.text).toContain("The next 4 sessions of Drawing have a new time.");
    expect(received[0]!.text).toContain("Sun 28 Mar 2027, 10:30 CEST (until Sun 28 Mar 2027, 11:15 CEST)");
    expect(received[0]!.text).toContain("Sun 14 Mar 2027, 10:30 CET");

    // Only the duration this time: each start stays.
    const longer = await api(`/api/series/${seriesId}`, { method: "PATCH", as: teacher, body: { durationMinutes: 120 } });
    expect((await longer.json<OccurrencesResponse>()).occurrences.map((o) => [iso(o.startsAt), o.endsAt - o.startsAt])).toEqual(
      moved.map((o) => [iso(o.startsAt), 120 * MINUTE]),
    );
  });

  it("leaves past sessions alone and refuses a time that would put a session to come in the past, writing nothing", async () => {
    const { teacher, seriesId, past, future, timezone } = await seriesWithHistory("Music");
    const before = await occurrenceRows(seriesId);
    // The next session is two hours away, today in the series' zone: an hour that has passed would put it in the past.
    const passed = localText(Date.now() - HOUR, timezone).slice(11, 16);
    const refused = await api(`/api/series/${seriesId}`, { method: "PATCH", as: teacher, body: { startTime: passed } });
    expect(refused.status).toBe(400);
    expect((await refused.json<{ error: { message: string } }>()).error.message).toMatch(/would then start in the past/);
    expect(await occurrenceRows(seriesId)).toEqual(before);

    const later = localText(future[0]!.startsAt + 30 * MINUTE, timezone).slice(11, 16);
    const response = await api(`/api/series/${seriesId}`, { method: "PATCH", as: teacher, body: { startTime: later } });
    expect(response.status, await response.clone().text()).toBe(200);
    const rows = await occurrenceRows(seriesId);
    for (const o of past) expect(rows.find((row) => row.id === o.id)).toMatchObject({ startsAt: o.startsAt, revision: 0 });
    for (const o of future) expect(rows.find((row) => row.id === o.id)).toMatchObject({ startsAt: o.startsAt + 30 * MINUTE, revision: 1 });
  });
});

describe("restoring a cancelled session", () => {
  it("puts it back on the schedule, tells the students, makes the reminders again, and can be cancelled again", async () => {
    const teacher = await createUser("teacher");
    const student = await createUser("student");
    const cls = await createClass(teacher, { title: "Latin" });
    await enroll(cls, student);
    const occurrence = await createOccurrence(cls, Date.now() + 45 * MINUTE);
    expect((await api(`/api/occurrences/${occurrence.id}/cancel`, { method: "POST", as: teacher })).status).toBe(200);
    await settled(occurrence.id);

    expect((await api(`/api/occurrences/${occurrence.id}/restore`, { method: "POST", as: student })).status).toBe(403);
    expect((await api(`/api/occurrences/${occurrence.id}/restore`, { method: "POST", as: await createUser("teacher") })).status).toBe(403);
    const response = await api(`/api/occurrences/${occurrence.id}/restore`, { method: "POST", as: teacher });
    expect(response.status).toBe(200);
    expect((await response.json<OccurrenceResponse>()).occurrence).toMatchObject({ id: occurrence.id, status: "scheduled", startsAt: occurrence.startsAt });
    const [row] = await db.select().from(occurrences).where(eq(occurrences.id, occurrence.id));
    expect(row).toMatchObject({ status: "scheduled", revision: 2 });

    const rows = await settled(occurrence.id);
    // The reminder for the 60-minute window, which opened while it was cancelled, is made again for the new revision.
    expect(
      rows
        .filter((n) => n.userId === student.id)
        .map((n) => n.kind)
        .sort(),
    ).toEqual(["cancel@1", "reminder:60@2", "restore@2"]);
    expect((await mails(student.email)).map((mail) => mail.subject)).toEqual([
      "Cancelled: Latin",
      expect.stringMatching(/^(Back on: Latin|Reminder: Latin starts in 4[45] minutes)$/),
      expect.stringMatching(/^(Back on: Latin|Reminder: Latin starts in 4[45] minutes)$/),
    ]);
    expect((await mails(student.email)).map((mail) => mail.subject)).toContain("Back on: Latin");

    // Restoring twice is refused; cancelling again tells the students again.
    expect((await api(`/api/occurrences/${occurrence.id}/restore`, { method: "POST", as: teacher })).status).toBe(409);
    expect((await api(`/api/occurrences/${occurrence.id}/cancel`, { method: "POST", as: teacher })).status).toBe(200);
    await settled(occurrence.id);
    expect((await mails(student.email)).map((mail) => mail.subject).filter((subject) => subject === "Cancelled: Latin")).toHaveLength(2);
  });

  it("refuses a session whose time has passed, and keeps it cancelled", async () => {
    const teacher = await createUser("teacher");
    const cls = await createClass(teacher);
    const occurrence = await createOccurrence(cls, Date.now() - 2 * HOUR, { status: "cancelled", revision: 1 });
    const response = await api(`/api/occurrences/${occurrence.id}/restore`, { method: "POST", as: teacher });
    expect(response.status).toBe(409);
    expect((await response.json<{ error: { message: string } }>()).error.message).toMatch(/time has passed/);
    const [row] = await db
      .select()
      .from(occurrences)
      .where(and(eq(occurrences.id, occurrence.id), eq(occurrences.status, "cancelled")));
    expect(row).toMatchObject({ revision: 1 });
  });
});
