import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { CompactSign, importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, inject, it } from "vitest";
import { blocks, ssoTokens, users } from "../../schema/db";
import { hashPassword } from "../auth/password";
import { api, createUser, db, ORIGIN, sessionCookie } from "./helpers";
import { TEST_SSO_SECRET } from "./keys";
import { providerRequests } from "./reminders-helpers";

const ISSUER = "https://insp.example";
const AUDIENCE = "insp-live";

type Claims = Record<string, unknown>;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims as the insp site sends them, for a person nobody has seen yet. */
function freshClaims(overrides: Claims = {}): Claims {
  const id = crypto.randomUUID().slice(0, 8);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: `insp-${id}`,
    jti: crypto.randomUUID(),
    iat: nowSeconds(),
    exp: nowSeconds() + 300,
    email: `sso-${id}@example.test`,
    name: `Ada ${id}`,
    role: "student",
    ...overrides,
  };
}

function without(claims: Claims, name: string): Claims {
  const copy = { ...claims };
  delete copy[name];
  return copy;
}

async function hs256(claims: Claims, secret = TEST_SSO_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

async function withJwk(claims: Claims, jwk: JWK): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid! }).sign(await importJWK(jwk, jwk.alg));
}

function base64url(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Each test signs in from its own address, so the per-address failure limit of one test never hits another. */
function newIp(): string {
  return `198.51.100.${Math.floor(Math.random() * 250) + 1}-${crypto.randomUUID().slice(0, 6)}`;
}

async function visitSso(token: string, options: { next?: string; ip?: string } = {}): Promise<Response> {
  const url = new URL("/sso", ORIGIN);
  url.searchParams.set("token", token);
  if (options.next !== undefined) url.searchParams.set("next", options.next);
  return SELF.fetch(url, { redirect: "manual", headers: { "cf-connecting-ip": options.ip ?? newIp() } });
}

function sessionCookieFrom(response: Response): string | null {
  const header = response.headers.getSetCookie().find((cookie) => cookie.startsWith("insp_live_session="));
  return header ? header.split(";")[0]! : null;
}

async function me(cookie: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/me`, { headers: { cookie } });
}

async function userByEmail(email: string) {
  return (await db.select().from(users).where(eq(users.email, email)))[0];
}

/**
 * Subjects of the e-mails SendGrid's look-alike got for `email`, once `count` arrived (sent after the response),
 * or all there are after 20 s: a loaded machine may take seconds to run the Worker's work after the response.
 */
async function mailSubjects(email: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const subjects = (await providerRequests("sendgrid", email)).map((request) => (request.body as { subject: string }).subject);
    if (subjects.length >= count || Date.now() >= deadline) return subjects;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Asserts the failure page a person would see: an HTML page with the status, the reason and a way home. */
async function expectRefused(response: Response, status: number, reason: RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  const html = await response.text();
  expect(html).toMatch(reason);
  expect(html).toContain('href="/"');
  expect(sessionCookieFrom(response)).toBeNull();
}

describe("GET /sso happy path", () => {
  it("creates the user from the claims, sets a session cookie and redirects to next", async () => {
    const claims = freshClaims({ role: "teacher", phone: "+4915112345678", zoneinfo: "europe/berlin" });
    const response = await visitSso(await hs256(claims), { next: "/classes/abc?tab=chat" });

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/classes/abc?tab=chat");
    const cookie = sessionCookieFrom(response);
    expect(cookie).not.toBeNull();

    const user = await userByEmail(claims.email as string);
    expect(user).toMatchObject({ inspId: claims.sub, displayName: claims.name, role: "teacher", phone: "+4915112345678", timezone: "Europe/Berlin" });
    expect(user!.calendarSecret.length).toBeGreaterThanOrEqual(32);

    const profile = await me(cookie!);
    expect(profile.status).toBe(200);
    expect(await profile.json()).toEqual({
      user: {
        id: user!.id,
        email: claims.email,
        displayName: claims.name,
        role: "teacher",
        timezone: "Europe/Berlin",
        timezoneChosen: true,
        phone: "+4915112345678",
        remindByEmail: true,
        remindBySms: false,
      },
    });
  });

  it("takes insp's zone while the user has not chosen one; after a choice in Settings, insp's claim no longer changes it", async () => {
    const noZone = without(freshClaims(), "zoneinfo");
    const first = sessionCookieFrom(await visitSso(await hs256(noZone)));
    expect(((await (await me(first!)).json()) as { user: { timezone: string; timezoneChosen: boolean } }).user).toMatchObject({
      timezone: "UTC",
      timezoneChosen: false,
    });

    const withZone = await visitSso(await hs256(freshClaims({ sub: noZone.sub, email: noZone.email, zoneinfo: "Asia/Kolkata" })));
    const user = await userByEmail(noZone.email as string);
    expect(user).toMatchObject({ timezone: "Asia/Kolkata" });
    expect(user!.timezoneChosenAt).toEqual(expect.any(Number));
    expect(withZone.status).toBe(302);

    await api("/api/me", { method: "PATCH", as: user!, body: { timezone: "Europe/Lisbon" } });
    await visitSso(await hs256(freshClaims({ sub: noZone.sub, email: noZone.email, zoneinfo: "America/Chicago" })));
    expect((await userByEmail(noZone.email as string))!.timezone).toBe("Europe/Lisbon");
  });

  it("defaults next to / and an absent or unknown role to student", async () => {
    const noRole = without(freshClaims(), "role");
    const first = await visitSso(await hs256(noRole));
    expect(first.status).toBe(302);
    expect(first.headers.get("location")).toBe("/");
    expect((await userByEmail(noRole.email as string))!.role).toBe("student");

    const oddRole = freshClaims({ role: "superuser" });
    expect((await visitSso(await hs256(oddRole))).status).toBe(302);
    expect((await userByEmail(oddRole.email as string))!.role).toBe("student");
  });

  it("finds the same user again by insp id, following e-mail and role changes on insp", async () => {
    const claims = freshClaims();
    await visitSso(await hs256(claims));
    const before = await userByEmail(claims.email as string);

    const changedEmail = `renamed-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const again = await visitSso(await hs256(freshClaims({ sub: claims.sub, email: changedEmail, role: "admin", name: "Someone Else" })));
    expect(again.status).toBe(302);
    const after = await userByEmail(changedEmail);
    expect(after!.id).toBe(before!.id);
    expect(after!.role).toBe("admin");
    // The name only seeds a new account; afterwards the user's own setting wins.
    expect(after!.displayName).toBe(claims.name);
  });

  it("links a placeholder a teacher enrolled by e-mail, whatever the case of the address", async () => {
    const email = `Placeholder-${crypto.randomUUID().slice(0, 8)}@Example.test`;
    const placeholder = await createUser("student", { email, displayName: email });
    const claims = freshClaims({ email: email.toLowerCase(), email_verified: true, zoneinfo: "America/New_York" });

    const response = await visitSso(await hs256(claims));
    expect(response.status).toBe(302);
    const linked = (await db.select().from(users).where(eq(users.id, placeholder.id)))[0]!;
    expect(linked).toMatchObject({ inspId: claims.sub, email: email.toLowerCase(), displayName: claims.name, timezone: "America/New_York" });
    expect(
      await db
        .select()
        .from(users)
        .where(eq(users.inspId, claims.sub as string)),
    ).toHaveLength(1);
    expect(await mailSubjects(email.toLowerCase(), 1)).toEqual(["Your insp live account is now linked to insp"]);
  });

  it("refuses to link an e-mail that already belongs to another insp identity", async () => {
    const taken = await createUser("student", { inspId: `insp-other-${crypto.randomUUID().slice(0, 8)}` });
    const claims = freshClaims({ email: taken.email });
    await expectRefused(await visitSso(await hs256(claims)), 403, /belongs to another insp account/);
    expect((await db.select().from(users).where(eq(users.id, taken.id)))[0]!.inspId).toBe(taken.inspId);
  });

  it("records the used jti with the user it signed in", async () => {
    const claims = freshClaims();
    await visitSso(await hs256(claims));
    const row = (
      await db
        .select()
        .from(ssoTokens)
        .where(eq(ssoTokens.jti, claims.jti as string))
    )[0];
    expect(row?.userId).toBe((await userByEmail(claims.email as string))!.id);
    expect(row!.expiresAt).toBeGreaterThan(Date.now());
  });
});

describe("GET /sso with RS256/ES256 keys from INSP_JWKS_URL", () => {
  const keys = inject("inspJwksPrivateKeys");

  it.each([
    ["RS256", keys.rs256],
    ["ES256", keys.es256],
  ])("accepts a %s token signed with a published key", async (_alg, jwk) => {
    const claims = freshClaims();
    const response = await visitSso(await withJwk(claims, jwk));
    expect(response.status).toBe(302);
    expect((await me(sessionCookieFrom(response)!)).status).toBe(200);
  });

  it("refuses a token signed with a key insp does not publish", async () => {
    await expectRefused(await visitSso(await withJwk(freshClaims(), keys.unpublished)), 401, /bad signature/);
  });
});

describe("GET /sso refuses bad tokens with the reason", () => {
  it("wrong signature (another secret)", async () => {
    const claims = freshClaims();
    await expectRefused(await visitSso(await hs256(claims, "another-secret-that-is-long-enough-for-hs256-xxxxxxxx")), 401, /bad signature/);
    expect(await userByEmail(claims.email as string)).toBeUndefined();
  });

  it("alg none", async () => {
    const token = `${base64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url(JSON.stringify(freshClaims()))}.`;
    await expectRefused(await visitSso(token), 401, /algorithm &#34;none&#34;.*does not accept/);
  });

  it("an algorithm that is not configured (HS512)", async () => {
    const token = await new SignJWT(freshClaims()).setProtectedHeader({ alg: "HS512" }).sign(new TextEncoder().encode(TEST_SSO_SECRET));
    await expectRefused(await visitSso(token), 401, /algorithm &#34;HS512&#34;/);
  });

  it("wrong issuer", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ iss: "https://evil.example" }))), 401, /wrong issuer/);
  });

  it("wrong audience", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ aud: "some-other-app" }))), 401, /wrong audience/);
  });

  it("expired", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ iat: nowSeconds() - 120, exp: nowSeconds() - 60 }))), 401, /has expired/);
  });

  it("nbf in the future", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ nbf: nowSeconds() + 600 }))), 401, /not valid yet/);
  });

  it("iat older than 5 minutes even though exp is later", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ iat: nowSeconds() - 6 * 60, exp: nowSeconds() + 3600 }))), 401, /too old/);
  });

  it("a replayed jti", async () => {
    const token = await hs256(freshClaims());
    expect((await visitSso(token)).status).toBe(302);
    await expectRefused(await visitSso(token), 401, /already been used/);
  });

  it("two concurrent uses of one link: exactly one wins", async () => {
    const token = await hs256(freshClaims());
    const statuses = (await Promise.all([visitSso(token), visitSso(token), visitSso(token)])).map((response) => response.status).sort();
    expect(statuses).toEqual([302, 401, 401]);
  });

  it.each(["not-a-jwt", "a.b.c", ""])("malformed token %j", async (token) => {
    await expectRefused(await visitSso(token), 401, /malformed|no token/);
  });

  it("a correctly signed token whose payload is not a JSON object", async () => {
    const token = await new CompactSign(new TextEncoder().encode("not json"))
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(TEST_SSO_SECRET));
    await expectRefused(await visitSso(token), 401, /malformed/);
  });

  it.each(["iss", "aud", "exp", "iat", "sub", "jti", "email"])("missing claim %s", async (claim) => {
    const claims = without(freshClaims(), claim);
    await expectRefused(await visitSso(await hs256(claims)), 401, new RegExp(`missing the claim &#34;${claim}&#34;`));
  });

  it("an e-mail claim that is not an e-mail address", async () => {
    await expectRefused(await visitSso(await hs256(freshClaims({ email: "not an address" }))), 401, /invalid claim &#34;email&#34;/);
  });
});

describe("GET /sso for a blocked user", () => {
  it("shows a 403 page with the reason and starts no session", async () => {
    const admin = await createUser("admin");
    const claims = freshClaims();
    const blocked = await createUser("student", { inspId: claims.sub as string, email: claims.email as string });
    await db
      .insert(blocks)
      .values({ id: crypto.randomUUID(), userId: blocked.id, classId: null, reason: "Spam in chat", blockedBy: admin.id, createdAt: Date.now() });

    await expectRefused(await visitSso(await hs256(claims)), 403, /blocked[\s\S]*Spam in chat/);
  });

  it("a block that has expired no longer stops sign-in", async () => {
    const admin = await createUser("admin");
    const claims = freshClaims();
    const user = await createUser("student", { inspId: claims.sub as string, email: claims.email as string });
    await db.insert(blocks).values({
      id: crypto.randomUUID(),
      userId: user.id,
      classId: null,
      reason: "cool down",
      blockedBy: admin.id,
      createdAt: Date.now() - 7200_000,
      expiresAt: Date.now() - 1000,
    });
    expect((await visitSso(await hs256(claims))).status).toBe(302);
  });
});

describe("GET /sso next parameter", () => {
  it.each([
    "//evil.example/x",
    "https://evil.example/",
    "/\\evil.example",
    "evil",
    "/%0d%0aLocation:x".replace("%0d%0a", "\r\n"),
    // Dot-segments that URL parsing removes, leaving a protocol-relative "//evil.example".
    "/.//evil.example",
    "/..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E//evil.example/x?y#z",
    "/a/..//evil.example",
    "/a/b/../..//evil.example",
    "/././/evil.example",
  ])("refuses off-site next %j with 400 and leaves the token unspent", async (next) => {
    const token = await hs256(freshClaims());
    await expectRefused(await visitSso(token, { next }), 400, /another site/);
    const retry = await visitSso(token, { next: "/" });
    expect(retry.status).toBe(302);
    expect(retry.headers.get("location")).toBe("/");
  });
});

describe("GET /sso next parameter that normalizes to a same-origin path", () => {
  it.each([
    ["/a/../classes/x", "/classes/x"],
    ["/./classes/x?tab=chat#end", "/classes/x?tab=chat#end"],
    ["/%2e/classes", "/classes"],
  ])("follows %j as %j", async (next, expected) => {
    const response = await visitSso(await hs256(freshClaims()), { next });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(expected);
  });
});

describe("GET /sso failure limit per client address", () => {
  it("after 20 broken links from one address the next gets 429, but a good link from there still signs in", async () => {
    const ip = newIp();
    for (let i = 0; i < 20; i++) expect((await visitSso("garbage", { ip })).status).toBe(401);
    await expectRefused(
      await visitSso(await hs256(freshClaims(), "another-secret-that-is-long-enough-for-hs256-xxxxxxxx"), { ip }),
      429,
      /Too many broken sign-in links/,
    );

    const limited = await visitSso("garbage", { ip });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);

    // A token insp signed cannot be forged, so no failure count refuses it.
    const good = await visitSso(await hs256(freshClaims()), { ip });
    expect(good.status).toBe(302);
    expect((await me(sessionCookieFrom(good)!)).status).toBe(200);
  });

  it("signed links refused for their claims (expired, replayed) never count against the address", async () => {
    const ip = newIp();
    const used = await hs256(freshClaims());
    expect((await visitSso(used, { ip })).status).toBe(302);
    for (let i = 0; i < 12; i++) {
      await expectRefused(await visitSso(await hs256(freshClaims({ iat: nowSeconds() - 120, exp: nowSeconds() - 60 })), { ip }), 401, /has expired/);
      await expectRefused(await visitSso(used, { ip }), 401, /already been used/);
    }
    // 24 refusals, yet a broken link still gets its reason rather than 429.
    await expectRefused(await visitSso("garbage", { ip }), 401, /malformed/);
  });
});

describe("GET /sso account linking", () => {
  async function row(id: string) {
    return (await db.select().from(users).where(eq(users.id, id)))[0]!;
  }

  it("does not link a placeholder unless insp asserts the address is verified", async () => {
    const placeholder = await createUser("student", { email: `unverified-${crypto.randomUUID().slice(0, 8)}@example.test` });
    for (const claims of [freshClaims({ email: placeholder.email }), freshClaims({ email: placeholder.email, email_verified: "true" })]) {
      await expectRefused(await visitSso(await hs256(claims)), 403, /insp has not confirmed that this address is yours/);
    }
    expect(await row(placeholder.id)).toEqual(placeholder);
    // Whoever typed the address on insp is unknown: the owner is not mailed on their behalf.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await mailSubjects(placeholder.email, 0)).toEqual([]);
  });

  it.each([
    ["a local account with a password", "student" as const, true],
    ["a local admin without a password", "admin" as const, false],
    ["a local teacher without a password", "teacher" as const, false],
  ])("does not take over %s, even with a verified address: it says how to link, and nothing changes", async (_what, role, withPassword) => {
    const local = await createUser(role, { passwordHash: withPassword ? await hashPassword("local password 1") : null });
    const claims = freshClaims({ email: local.email, email_verified: true, role: "student" });
    await expectRefused(await visitSso(await hs256(claims)), 403, /sign in here with that account&#39;s password first, then use the link from insp again/);
    expect(await row(local.id)).toEqual(local);
    expect(
      await db
        .select()
        .from(users)
        .where(eq(users.inspId, claims.sub as string)),
    ).toHaveLength(0);
    // The owner hears of it (the address is verified, so it is most likely the owner, who learns how to link).
    expect(await mailSubjects(local.email, 1)).toEqual(["Someone tried to sign in to insp live through insp with your address"]);
  });

  it("links a local account when its owner is signed in to it and follows the insp link", async () => {
    const local = await createUser("teacher", { passwordHash: await hashPassword("local password 1"), displayName: "Chosen Name" });
    const claims = freshClaims({ email: local.email, email_verified: true, role: "teacher" });
    const url = new URL("/sso", ORIGIN);
    url.searchParams.set("token", await hs256(claims));
    const response = await SELF.fetch(url, { redirect: "manual", headers: { "cf-connecting-ip": newIp(), cookie: await sessionCookie(local) } });
    expect(response.status).toBe(302);
    // The password stays (local sign-in keeps working); the owner's name is kept.
    expect(await row(local.id)).toMatchObject({ inspId: claims.sub, passwordHash: local.passwordHash, role: "teacher", displayName: "Chosen Name" });
    expect(((await (await me(sessionCookieFrom(response)!)).json()) as { user: { id: string } }).user.id).toBe(local.id);
    expect(await mailSubjects(local.email, 1)).toEqual(["Your insp live account is now linked to insp"]);
  });

  it("a session of another account does not help, nor does the owner's session without a verified address", async () => {
    const local = await createUser("admin", { passwordHash: await hashPassword("local password 1") });
    const someoneElse = await createUser("student");
    for (const [cookieOf, verified] of [
      [someoneElse, true],
      [local, false],
    ] as const) {
      const url = new URL("/sso", ORIGIN);
      url.searchParams.set("token", await hs256(freshClaims({ email: local.email, email_verified: verified })));
      const response = await SELF.fetch(url, { redirect: "manual", headers: { "cf-connecting-ip": newIp(), cookie: await sessionCookie(cookieOf) } });
      expect(response.status).toBe(403);
    }
    expect(await row(local.id)).toEqual(local);
  });
});
