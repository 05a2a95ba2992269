import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { User } from "../../schema/db";
import { api, ORIGIN, sessionCookie } from "./helpers";
import { type Persona, type PortalFixture, portalFixture, snapshotPortalTables } from "./portal-fixture";

const HOUR = 3_600_000;
const long = (n: number) => "x".repeat(n);

interface BodyRoute {
  name: string;
  /** Someone allowed to call the route, so only the input is at fault. */
  as: Persona;
  method: string;
  path: (f: PortalFixture) => string;
  valid: (f: PortalFixture) => Record<string, unknown>;
  wrongTypes: (f: PortalFixture) => unknown[];
  oversize: (f: PortalFixture) => unknown[];
  validStatus: number;
}

const BODY_ROUTES: BodyRoute[] = [
  {
    name: "POST /api/classes",
    as: "teacher",
    method: "POST",
    path: () => "/api/classes",
    valid: () => ({ title: "Valid class" }),
    wrongTypes: () => [
      { title: 5 },
      { title: "T", kind: "video" },
      { title: "T", reminderMinutes: "60" },
      { title: "T", reminderMinutes: [60, 60] },
      { title: "   " },
      [],
      null,
      "title",
    ],
    oversize: () => [{ title: long(201) }, { title: "T", description: long(5001) }, { title: "T", reminderMinutes: [1, 2, 3, 4, 5, 6] }],
    validStatus: 201,
  },
  {
    name: "PATCH /api/classes/:id",
    as: "teacher",
    method: "PATCH",
    path: (f) => `/api/classes/${f.classId}`,
    valid: () => ({ title: "Renamed" }),
    wrongTypes: () => [{ status: "deleted" }, { title: null }, { kind: 1 }],
    oversize: () => [{ title: long(201) }, { description: long(5001) }],
    validStatus: 200,
  },
  {
    name: "POST /api/classes/:id/occurrences",
    as: "teacher",
    method: "POST",
    path: (f) => `/api/classes/${f.classId}/occurrences`,
    valid: (f) => ({ startsAt: f.now + 48 * HOUR, endsAt: f.now + 49 * HOUR, timezone: "Europe/Berlin" }),
    wrongTypes: (f) => [
      { startsAt: new Date(f.now).toISOString(), endsAt: f.now + HOUR, timezone: "UTC" },
      { startsAt: f.now + 0.5, endsAt: f.now + HOUR, timezone: "UTC" },
      { startsAt: f.now, endsAt: f.now + HOUR },
      { series: "weekly" },
      { series: { firstStartLocal: "2030-01-01T10:00", durationMinutes: "60", timezone: "UTC", frequency: "weekly", count: 2 } },
    ],
    oversize: (f) => [
      { startsAt: f.now, endsAt: f.now + HOUR, timezone: long(65) },
      { series: { firstStartLocal: "2030-01-01T10:00", durationMinutes: 60, timezone: "UTC", frequency: "weekly", count: 2, note: long(100) } },
    ],
    validStatus: 201,
  },
  {
    name: "PATCH /api/occurrences/:id",
    as: "teacher",
    method: "PATCH",
    path: (f) => `/api/occurrences/${f.futureOccurrenceId}`,
    valid: (f) => ({ startsAt: f.now + 30 * HOUR, endsAt: f.now + 31 * HOUR }),
    wrongTypes: (f) => [{ startsAt: "soon", endsAt: f.now }, { startsAt: f.now + HOUR }, { startsAt: -1, endsAt: f.now }],
    oversize: (f) => [{ startsAt: 1e300, endsAt: f.now }],
    validStatus: 200,
  },
  {
    name: "POST /api/classes/:id/enrollments",
    as: "teacher",
    method: "POST",
    path: (f) => `/api/classes/${f.classId}/enrollments`,
    valid: (f) => ({ email: f.bystander.email }),
    wrongTypes: () => [{ email: 5 }, { email: "not-an-email" }, { email: ["a@b.test"] }],
    oversize: () => [{ email: `${long(250)}@example.test` }],
    validStatus: 201,
  },
  {
    name: "PUT /api/classes/:id/feedback",
    as: "enrolled",
    method: "PUT",
    path: (f) => `/api/classes/${f.classId}/feedback`,
    valid: () => ({ rating: 4, comment: "Good" }),
    wrongTypes: () => [{ rating: "5" }, { rating: 4, comment: 3 }, { rating: true }],
    oversize: () => [{ rating: 4, comment: long(2001) }],
    validStatus: 200,
  },
  {
    name: "POST /api/blocks",
    as: "teacher",
    method: "POST",
    path: () => "/api/blocks",
    valid: (f) => ({ userId: f.bystander.id, classId: f.classId, reason: "Disruptive" }),
    wrongTypes: (f) => [
      { userId: 5, classId: f.classId, reason: "x" },
      { userId: f.bystander.id, classId: f.classId, reason: "x", expiresAt: "tomorrow" },
      { userId: f.bystander.id, classId: f.classId },
    ],
    oversize: (f) => [
      { userId: f.bystander.id, classId: f.classId, reason: long(501) },
      { userId: long(65), classId: f.classId, reason: "x" },
    ],
    validStatus: 201,
  },
  {
    name: "PATCH /api/admin/users/:id",
    as: "admin",
    method: "PATCH",
    path: (f) => `/api/admin/users/${f.bystander.id}`,
    valid: () => ({ role: "teacher" }),
    wrongTypes: () => [{ role: "root" }, { role: 1 }, {}],
    oversize: () => [{ role: long(1000) }],
    validStatus: 200,
  },
  {
    name: "POST /api/admin/users",
    as: "admin",
    method: "POST",
    path: () => "/api/admin/users",
    valid: () => ({ email: `local-${crypto.randomUUID()}@example.test`, displayName: "Local", role: "student", password: "correct horse battery" }),
    wrongTypes: () => [
      { email: "a@example.test", displayName: "L", role: "overlord", password: "correct horse battery" },
      { email: "a@example.test", displayName: "L", role: "student", password: 12345678 },
    ],
    oversize: () => [
      { email: "a@example.test", displayName: long(101), role: "student", password: "correct horse battery" },
      { email: "a@example.test", displayName: "L", role: "student", password: long(201) },
    ],
    validStatus: 201,
  },
];

async function expectInvalid(res: Response, label: string, status = 400): Promise<void> {
  const text = await res.text();
  expect(res.status, `${label}: ${text}`).toBe(status);
  const { error } = JSON.parse(text);
  // `fields` is optional: a form's refusal names its fields, a refused Content-Type or size has none.
  expect({ ...error, fields: undefined }, label).toEqual({ code: "INVALID_MESSAGE", message: expect.any(String), fields: undefined });
  if (error.fields !== undefined)
    expect(
      Object.values(error.fields).every((message) => typeof message === "string"),
      label,
    ).toBe(true);
  expect(JSON.parse(text).error.message, label).not.toMatch(/\bat \w+ \(|\.ts:\d+/);
}

describe.each(BODY_ROUTES)("$name refuses bad bodies", (route) => {
  it("malformed JSON, wrong types, oversize values, unknown fields: 400; a missing or other Content-Type: 415; nothing written", async () => {
    const f = await portalFixture();
    const user = f.personas[route.as]!;
    const path = route.path(f);
    const valid = route.valid(f);
    const before = await snapshotPortalTables(f);

    await expectInvalid(await api(path, { method: route.method, as: user, body: '{"title": "unterminated' }), "malformed JSON");
    for (const body of route.wrongTypes(f))
      await expectInvalid(await api(path, { method: route.method, as: user, body: JSON.stringify(body) }), `wrong type ${JSON.stringify(body)}`);
    for (const body of route.oversize(f))
      await expectInvalid(await api(path, { method: route.method, as: user, body: JSON.stringify(body) }), `oversize ${JSON.stringify(body).slice(0, 80)}`);
    await expectInvalid(await api(path, { method: route.method, as: user, body: { ...valid, isAdmin: true } }), "unknown field");
    await expectInvalid(await api(path, { method: route.method, as: user, body: { ...valid, extra: { nested: 1 } } }), "unknown nested field");
    const noType = await SELF.fetch(`${ORIGIN}${path}`, {
      method: route.method,
      headers: { origin: ORIGIN, cookie: await sessionCookie(user) },
      body: new TextEncoder().encode(JSON.stringify(valid)),
    });
    await expectInvalid(noType, "missing Content-Type", 415);
    for (const type of ["text/plain", "application/json-patch+json", "application/jsonp", "application/json; charset=latin1"]) {
      await expectInvalid(await api(path, { method: route.method, as: user, body: JSON.stringify(valid), headers: { "content-type": type } }), type, 415);
    }

    expect(await snapshotPortalTables(f), "refused requests wrote nothing").toEqual(before);

    // The same caller with the valid body succeeds, so the refusals above were about the input alone.
    const ok = await api(path, { method: route.method, as: user, body: valid });
    expect(ok.status, await ok.clone().text()).toBe(route.validStatus);
    expect(await snapshotPortalTables(f)).not.toEqual(before);
  });
});

interface QueryRoute {
  name: string;
  as: Persona;
  path: (f: PortalFixture) => string;
  bad: (f: PortalFixture) => string[];
  valid: (f: PortalFixture) => string;
}

const QUERY_ROUTES: QueryRoute[] = [
  {
    name: "GET /api/classes",
    as: "student",
    path: () => "/api/classes",
    bad: () => ["scope=mine", "limit=abc", "limit=201", "limit=0", "offset=-1", "limit=1.5", "foo=1", `scope=${long(300)}`],
    valid: () => "scope=all&limit=5&offset=0",
  },
  {
    name: "GET /api/calendar",
    as: "student",
    path: () => "/api/calendar",
    bad: (f) => [
      `to=${f.now}`,
      `from=abc&to=${f.now}`,
      `from=${f.now}&to=1e15`,
      `from=${f.now}&to=${f.now + HOUR}&view=month`,
      `from=${"9".repeat(40)}&to=${f.now}`,
      `from=${f.now}&to=${f.now + HOUR}&limit=500`,
    ],
    valid: (f) => `from=${f.now}&to=${f.now + HOUR}`,
  },
  {
    name: "GET /api/classes/:id/enrollments",
    as: "teacher",
    path: (f) => `/api/classes/${f.classId}/enrollments`,
    bad: () => ["limit=-1", "offset=x", "x=1", "limit=999"],
    valid: () => "limit=10",
  },
  {
    name: "GET /api/classes/:id/sessions",
    as: "teacher",
    path: (f) => `/api/classes/${f.classId}/sessions`,
    bad: () => ["limit=0", "limit=201", "offset=-1", "limit=abc", "from=1"],
    valid: () => "limit=10&offset=0",
  },
  {
    name: "GET /api/blocks",
    as: "teacher",
    path: () => "/api/blocks",
    bad: () => [`classId=${long(65)}`, "classId=", "x=1", "limit=nope"],
    valid: (f) => `classId=${f.classId}`,
  },
  {
    name: "GET /api/admin/users",
    as: "admin",
    path: () => "/api/admin/users",
    bad: () => [`q=${long(101)}`, "role=superuser", "x=1", "limit=1.5"],
    valid: () => "q=student&role=student&limit=3",
  },
];

describe.each(QUERY_ROUTES)("$name refuses bad query strings", (route) => {
  it("wrong types, out-of-range and oversize values, unknown parameters: 400, nothing written", async () => {
    const f = await portalFixture();
    const user = f.personas[route.as]!;
    const before = await snapshotPortalTables(f);
    for (const query of route.bad(f)) await expectInvalid(await api(`${route.path(f)}?${query}`, { as: user }), query.slice(0, 80));
    expect(await snapshotPortalTables(f)).toEqual(before);
    const ok = await api(`${route.path(f)}?${route.valid(f)}`, { as: user });
    expect(ok.status, await ok.clone().text()).toBe(200);
  });
});

describe("path parameters", () => {
  it("an over-long id is refused with 400 before any lookup", async () => {
    const f = await portalFixture();
    for (const [method, path] of [
      ["GET", `/api/classes/${long(65)}`],
      ["PATCH", `/api/occurrences/${long(65)}`],
      ["DELETE", `/api/blocks/${long(65)}`],
      ["DELETE", `/api/classes/${f.classId}/enrollments/${long(65)}`],
    ] as const) {
      await expectInvalid(
        await api(path, { method, as: f.admin, ...(method === "PATCH" ? { body: { startsAt: f.now, endsAt: f.now + HOUR } } : {}) }),
        `${method} ${path}`,
      );
    }
  });
});

describe("body limits", () => {
  const path = "/api/classes";
  const cap = 64 * 1024;

  /** A valid class body padded with spaces (JSON whitespace) to exactly `bytes` UTF-8 bytes. */
  function classBodyOfBytes(bytes: number, title = "Big class"): string {
    const json = JSON.stringify({ title });
    return json.slice(0, -1) + " ".repeat(bytes - new TextEncoder().encode(json).length) + "}";
  }

  /** Sends `text` in 4 KiB chunks from a ReadableStream, so the request carries no Content-Length. */
  async function streamed(user: User, text: string): Promise<Response> {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + 4096));
        offset += 4096;
      },
    });
    return SELF.fetch(`${ORIGIN}${path}`, {
      method: "POST",
      headers: { origin: ORIGIN, cookie: await sessionCookie(user), "content-type": "application/json" },
      body,
    });
  }

  it("a body streamed without Content-Length is refused with 413 once it passes 64 KiB, and one at the cap is read", async () => {
    const f = await portalFixture();
    const before = await snapshotPortalTables(f);
    await expectInvalid(await streamed(f.teacher, classBodyOfBytes(cap + 1)), "streamed 64 KiB + 1", 413);
    await expectInvalid(await streamed(f.teacher, classBodyOfBytes(4 * cap)), "streamed 256 KiB", 413);
    expect(await snapshotPortalTables(f), "refused bodies wrote nothing").toEqual(before);

    const atCap = await streamed(f.teacher, classBodyOfBytes(cap, "Exactly at the cap"));
    expect(atCap.status, await atCap.clone().text()).toBe(201);
    expect(await atCap.json()).toMatchObject({ class: { title: "Exactly at the cap" } });
  });

  it("counts bytes, not characters: 30,000 euro signs (90,000 bytes) are too large, 20,000 (60,000 bytes) are not", async () => {
    const f = await portalFixture();
    const before = await snapshotPortalTables(f);
    // The description allows 5,000 characters, so both bodies are wrong; the status tells where they were stopped:
    // 413 by the byte cap while reading, 400 by the schema after the whole body was read.
    const tooLarge = JSON.stringify({ title: "T", description: "€".repeat(30_000) });
    expect(tooLarge.length, "fewer UTF-16 units than the cap").toBeLessThan(cap);
    await expectInvalid(await api(path, { as: f.teacher, body: tooLarge }), "90,000 bytes", 413);
    await expectInvalid(await streamed(f.teacher, tooLarge), "90,000 bytes streamed", 413);
    const readAndJudged = await api(path, { as: f.teacher, body: JSON.stringify({ title: "T", description: "€".repeat(20_000) }) });
    await expectInvalid(readAndJudged, "60,000 bytes: read, then the 5,000-character description limit", 400);
    expect(await snapshotPortalTables(f)).toEqual(before);

    const ok = await api(path, { as: f.teacher, body: JSON.stringify({ title: "€".repeat(200), description: "€".repeat(5000) }) });
    expect(ok.status, await ok.clone().text()).toBe(201);
  });

  it("a declared Content-Length over the cap is 413, bytes that are not UTF-8 are 400, a charset=UTF-8 parameter is fine", async () => {
    const f = await portalFixture();
    const declared = await SELF.fetch(`${ORIGIN}${path}`, {
      method: "POST",
      headers: { origin: ORIGIN, cookie: await sessionCookie(f.teacher), "content-type": "application/json", "content-length": String(cap + 1) },
      body: classBodyOfBytes(cap + 1),
    });
    await expectInvalid(declared, "Content-Length 64 KiB + 1", 413);
    const latin1 = Uint8Array.of(...new TextEncoder().encode('{"title":"Caf'), 0xe9, ...new TextEncoder().encode('"}'));
    const notUtf8 = await SELF.fetch(`${ORIGIN}${path}`, {
      method: "POST",
      headers: { origin: ORIGIN, cookie: await sessionCookie(f.teacher), "content-type": "application/json" },
      body: latin1,
    });
    await expectInvalid(notUtf8, "Latin-1 byte", 400);
    const charset = await api(path, { as: f.teacher, body: { title: "With charset" }, headers: { "content-type": "application/json; charset=UTF-8" } });
    expect(charset.status, "application/json with charset=UTF-8 is still JSON").toBe(201);
  });
});
