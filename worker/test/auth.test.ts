import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { blocks, sessions, users } from "../../schema/db";
import { hashPassword, verifyPassword } from "../auth/password";
import { api, createUser, db, ORIGIN } from "./helpers";

const PASSWORD = "correct horse battery";

async function userWithPassword(role: "student" | "teacher" | "admin" = "student") {
  return createUser(role, { passwordHash: await hashPassword(PASSWORD) });
}

/** Each test signs in from its own address so per-address limits of one test never hit another. */
function newIp(): string {
  return `203.0.113.${crypto.randomUUID().slice(0, 8)}`;
}

function login(email: string, password: string, ip = newIp(), origin = ORIGIN): Promise<Response> {
  return SELF.fetch(`${origin}/api/auth/login`, {
    method: "POST",
    headers: { origin, "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify({ email, password }),
  });
}

function sessionSetCookie(response: Response): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith("insp_live_session="));
}

function cookieOf(response: Response): string {
  const header = sessionSetCookie(response);
  if (!header) throw new Error("no session cookie was set");
  return header.split(";")[0]!;
}

async function me(cookie: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/me`, { headers: { cookie } });
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("password hashing", () => {
  it("stores pbkdf2$100000$salt$hash and verifies only the right password", async () => {
    const stored = await hashPassword("s3cret pass");
    expect(stored).toMatch(/^pbkdf2\$100000\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(await verifyPassword("s3cret pass", stored)).toBe(true);
    expect(await verifyPassword("s3cret pasS", stored)).toBe(false);
    // A fresh salt every time: equal passwords do not give equal hashes.
    expect(await hashPassword("s3cret pass")).not.toBe(stored);
  });

  it.each([null, "", "plain", "pbkdf2$0$AA==$AA==", "pbkdf2$999999999$AA==$AA==", "pbkdf2$100000$!!$AA==", "bcrypt$10$x$y"])(
    "never matches a malformed hash %j",
    async (stored) => {
      expect(await verifyPassword("anything", stored)).toBe(false);
    },
  );
});

describe("POST /api/auth/login", () => {
  it("signs in with the right password: user shape, cookie, /api/me works", async () => {
    const user = await userWithPassword("teacher");
    const response = await login(user.email.toUpperCase(), PASSWORD);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      user: {
        id: user.id,
        email: user.email,
        displayName: user.displayName,
        role: "teacher",
        timezone: "UTC",
        timezoneChosen: false,
        phone: null,
        remindByEmail: true,
        remindBySms: false,
      },
    });
    const profile = await me(cookieOf(response));
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { user: { id: string } }).user.id).toBe(user.id);
  });

  it("refuses a wrong password, an unknown e-mail and a password-less placeholder alike", async () => {
    const user = await userWithPassword();
    const placeholder = await createUser("student");
    for (const response of [
      await login(user.email, "wrong password"),
      await login(`nobody-${crypto.randomUUID()}@example.test`, PASSWORD),
      await login(placeholder.email, PASSWORD),
    ]) {
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: "UNAUTHORIZED", message: "Wrong e-mail address or password" } });
      expect(sessionSetCookie(response)).toBeUndefined();
    }
  });

  it("refuses a blocked user with the right password", async () => {
    const admin = await createUser("admin");
    const user = await userWithPassword();
    await db
      .insert(blocks)
      .values({ id: crypto.randomUUID(), userId: user.id, classId: null, reason: "Abusive chat", blockedBy: admin.id, createdAt: Date.now() });
    const response = await login(user.email, PASSWORD);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: { code: "FORBIDDEN", message: "Your account is blocked: Abusive chat" } });
    expect(sessionSetCookie(response)).toBeUndefined();
  });

  it.each([
    ["unknown field", { email: "a@example.test", password: "x", remember: true }],
    ["bad e-mail", { email: "not-an-address", password: "x" }],
    ["empty password", { email: "a@example.test", password: "" }],
  ])("rejects a body with %s as 400", async (_what, body) => {
    const response = await api("/api/auth/login", { body });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("INVALID_MESSAGE");
  });

  it("needs a same-origin Origin header", async () => {
    const user = await userWithPassword();
    const response = await SELF.fetch(`${ORIGIN}/api/auth/login`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    expect(response.status).toBe(403);
  });

  it("replaces the session the browser already had", async () => {
    const user = await userWithPassword();
    const first = cookieOf(await login(user.email, PASSWORD));
    const second = await SELF.fetch(`${ORIGIN}/api/auth/login`, {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/json", cookie: first },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    expect(second.status).toBe(200);
    expect((await me(first)).status).toBe(401);
    expect((await me(cookieOf(second))).status).toBe(200);
  });
});

/** A browser: its address and the known-device cookie it got from an earlier sign-in, if any. */
type Browser = { ip: string; deviceCookie?: string };

function newBrowser(): Browser {
  return { ip: newIp() };
}

function deviceSetCookie(response: Response): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith("insp_live_device="));
}

/** Signs in from `browser`, sending its known-device cookie and keeping the one the response sets. */
async function loginFrom(browser: Browser, email: string, password: string): Promise<Response> {
  const headers: Record<string, string> = { origin: ORIGIN, "content-type": "application/json", "cf-connecting-ip": browser.ip };
  if (browser.deviceCookie) headers.cookie = browser.deviceCookie;
  const response = await SELF.fetch(`${ORIGIN}/api/auth/login`, { method: "POST", headers, body: JSON.stringify({ email, password }) });
  const set = deviceSetCookie(response);
  if (set) browser.deviceCookie = set.split(";")[0]!;
  return response;
}

async function errorMessage(response: Response): Promise<string> {
  return ((await response.json()) as { error: { message: string } }).error.message;
}

/** Moves the stopped clock (see the backoff tests' beforeEach) on by `ms`. */
const advanceClock = (ms: number) => vi.setSystemTime(Date.now() + ms);

describe("sign-in limits: per-account backoff", () => {
  // The clock the Worker reads (it runs in this isolate) stands still, so the backoff's seconds pass only when a
  // test says: on a loaded machine a few sign-ins (each a password hash) can take longer than the first 1 s wait.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("after 5 wrong passwords a new browser waits 1 s, then 2 s, … before the next try, the right password included", async () => {
    const user = await userWithPassword();
    // Each guess from another address: the backoff follows the account, not the address.
    for (let i = 0; i < 5; i++) expect((await login(user.email, `guess ${i}`)).status).toBe(401);

    const refused = await login(user.email, "guess 5");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await errorOf(refused)).toEqual({ code: "RATE_LIMITED", message: "Too many wrong passwords for this account. Try again in a second." });
    const rightButTooSoon = await login(user.email, PASSWORD);
    expect(rightButTooSoon.status).toBe(429);
    expect(sessionSetCookie(rightButTooSoon)).toBeUndefined();

    advanceClock(999);
    expect((await login(user.email, "guess 6")).status).toBe(429);
    advanceClock(1);
    expect((await login(user.email, "guess 6")).status).toBe(401);
    const longer = await login(user.email, "guess 7");
    expect(longer.status).toBe(429);
    expect(longer.headers.get("retry-after")).toBe("2");

    // Another account is not affected.
    const other = await userWithPassword();
    expect((await login(other.email, PASSWORD)).status).toBe(200);
  });

  it("a browser that signed in before gets in with the right password at once, whatever strangers did", async () => {
    const user = await userWithPassword();
    const own = newBrowser();
    const first = await loginFrom(own, user.email, PASSWORD);
    expect(first.status).toBe(200);
    const device = deviceSetCookie(first)!;
    expect(device).toMatch(/; HttpOnly/i);
    expect(device).toMatch(/; SameSite=Strict/i);
    expect(device).toMatch(/; Path=\/api\/auth\/login/i);

    for (let i = 0; i < 5; i++) expect((await login(user.email, `stranger ${i}`)).status).toBe(401);
    expect((await login(user.email, "stranger 5")).status).toBe(429);

    const known = await loginFrom(own, user.email, PASSWORD);
    expect(known.status).toBe(200);
    expect((await me(cookieOf(known))).status).toBe(200);
    // The owner's success does not give the strangers a fresh start.
    expect((await login(user.email, "stranger 6")).status).toBe(429);
  });

  it("a known browser's own wrong passwords have their own backoff", async () => {
    const user = await userWithPassword();
    const own = newBrowser();
    expect((await loginFrom(own, user.email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await loginFrom(own, user.email, `typo ${i}`)).status).toBe(401);
    const refused = await loginFrom(own, user.email, "typo 5");
    expect(refused.status).toBe(429);
    expect(await errorMessage(refused)).toBe("Too many wrong passwords from this browser. Try again in a second.");
    // Strangers were not slowed down by the owner's typos… and the owner gets in once the wait is over.
    expect((await login(user.email, "stranger")).status).toBe(401);
    advanceClock(1000);
    expect((await loginFrom(own, user.email, PASSWORD)).status).toBe(200);
  });

  it("the known-browser cookie counts for its own account only, not after a password change, not when altered", async () => {
    const owner = await userWithPassword();
    const victim = await userWithPassword();
    const browser = newBrowser();
    expect((await loginFrom(browser, owner.email, PASSWORD)).status).toBe(200);
    const ownerCookie = browser.deviceCookie!;
    for (let i = 0; i < 5; i++) await login(victim.email, `guess ${i}`);
    expect((await loginFrom(browser, victim.email, PASSWORD)).status).toBe(429);

    for (let i = 0; i < 5; i++) await login(owner.email, `guess ${i}`);
    const altered = { ip: newIp(), deviceCookie: ownerCookie.replace(/\.(\d+)\./, (_m, at: string) => `.${Number(at) + 1}.`) };
    expect((await loginFrom(altered, owner.email, PASSWORD)).status).toBe(429);
    await db
      .update(users)
      .set({ passwordHash: await hashPassword("a brand new password") })
      .where(eq(users.id, owner.id));
    expect((await loginFrom({ ip: newIp(), deviceCookie: ownerCookie }, owner.email, "a brand new password")).status).toBe(429);
  });

  it("of many concurrent guesses only the five free ones are tried", async () => {
    const user = await userWithPassword();
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(user.email, `parallel ${i}`)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
  });

  it("a successful sign-in clears the account's failure count", async () => {
    const user = await userWithPassword();
    for (let i = 0; i < 4; i++) await login(user.email, "wrong");
    expect((await login(user.email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login(user.email, "wrong")).status).toBe(401);
    expect((await login(user.email, PASSWORD)).status).toBe(200);
  });
});

describe("sign-in limits: per-address failures across accounts", () => {
  it("after 20 failures from one address new browsers there are refused, a browser that signed in before is not", async () => {
    const ip = newIp();
    const user = await userWithPassword();
    const own: Browser = { ip };
    expect((await loginFrom(own, user.email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await login(`nobody-${i}-${crypto.randomUUID()}@example.test`, "guess", ip)).status).toBe(401);

    const limited = await login(user.email, PASSWORD, ip);
    expect(limited.status).toBe(429);
    expect(await errorMessage(limited)).toMatch(/^Too many failed sign-ins from your network\. Try again in (a minute|1[45] minutes)\.$/);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await loginFrom(own, user.email, PASSWORD)).status).toBe(200);
    expect((await login(user.email, PASSWORD, newIp())).status).toBe(200);
  });
});

describe("session cookie flags", () => {
  it("is HttpOnly, SameSite=Lax, path / and not Secure on plain-http localhost", async () => {
    const user = await userWithPassword();
    const header = sessionSetCookie(await login(user.email, PASSWORD))!;
    expect(header).toMatch(/; HttpOnly/i);
    expect(header).toMatch(/; SameSite=Lax/i);
    expect(header).toMatch(/; Path=\//i);
    expect(header).not.toMatch(/; Secure/i);
  });

  it("is Secure on a real host (https://live.example)", async () => {
    const user = await userWithPassword();
    const response = await login(user.email, PASSWORD, newIp(), "https://live.example");
    expect(response.status).toBe(200);
    const header = sessionSetCookie(response)!;
    expect(header).toMatch(/; Secure/i);
    expect(header).toMatch(/; HttpOnly/i);
    expect(header).toMatch(/; SameSite=Lax/i);
  });
});

describe("POST /api/auth/logout", () => {
  it("clears the cookie and makes the old cookie worthless", async () => {
    const user = await userWithPassword();
    const cookie = cookieOf(await login(user.email, PASSWORD));
    const response = await SELF.fetch(`${ORIGIN}/api/auth/logout`, { method: "POST", headers: { origin: ORIGIN, cookie } });
    expect(response.status).toBe(204);
    expect(sessionSetCookie(response)).toMatch(/Max-Age=0/i);
    expect((await me(cookie)).status).toBe(401);
    expect(await db.select().from(sessions).where(eq(sessions.userId, user.id))).toHaveLength(0);
  });

  it("is harmless when nobody is signed in", async () => {
    expect((await api("/api/auth/logout", { method: "POST" })).status).toBe(204);
  });
});

describe("GET /api/me", () => {
  it("is 401 without a session, and 403 with the reason for a user blocked after signing in", async () => {
    expect(await errorCode(await api("/api/me"))).toBe("UNAUTHORIZED");
    const admin = await createUser("admin");
    const user = await userWithPassword();
    const cookie = cookieOf(await login(user.email, PASSWORD));
    const until = Date.UTC(2031, 0, 2, 3, 4);
    await db.insert(blocks).values({
      id: crypto.randomUUID(),
      userId: user.id,
      classId: null,
      reason: "Spam in chat",
      blockedBy: admin.id,
      createdAt: Date.now(),
      expiresAt: until,
    });
    const response = await me(cookie);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: { code: "FORBIDDEN", message: "Your account is blocked until 2031-01-02 03:04 UTC: Spam in chat" } });
  });
});

describe("PATCH /api/me", () => {
  async function patchMe(user: Awaited<ReturnType<typeof createUser>>, body: unknown) {
    return api("/api/me", { method: "PATCH", as: user, body });
  }
  async function row(id: string) {
    return (await db.select().from(users).where(eq(users.id, id)))[0]!;
  }

  it("updates name, time zone (normalized), phone and reminder channels", async () => {
    const user = await createUser("student");
    const response = await patchMe(user, {
      displayName: "  Grace H.  ",
      timezone: "asia/tokyo",
      phone: "+81312345678",
      remindByEmail: false,
      remindBySms: true,
    });
    expect(response.status).toBe(200);
    const expected = { displayName: "Grace H.", timezone: "Asia/Tokyo", phone: "+81312345678", remindByEmail: false, remindBySms: true };
    expect(((await response.json()) as { user: unknown }).user).toMatchObject({ ...expected, timezoneChosen: true });
    expect(await row(user.id)).toMatchObject({ ...expected, timezoneChosenAt: expect.any(Number) });
  });

  it("removes the phone with null (SMS reminders must be off then)", async () => {
    const user = await createUser("student", { phone: "+14155550100" });
    expect((await patchMe(user, { phone: null })).status).toBe(200);
    expect((await row(user.id)).phone).toBeNull();
  });

  it.each([
    ["an unknown time zone", { displayName: "New Name", timezone: "Mars/Olympus" }, /timezone/],
    ["a phone not in E.164", { displayName: "New Name", phone: "0151 1234567" }, /phone/],
    ["an unknown field", { displayName: "New Name", role: "admin" }, /role/],
    ["an empty name", { displayName: "   " }, /displayName/],
    ["SMS reminders without a phone", { displayName: "New Name", remindBySms: true }, /phone number/],
  ])("refuses %s with 400 and writes nothing", async (_what, body, mentions) => {
    const user = await createUser("student");
    const response = await patchMe(user, body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { code: string; message: string; fields?: Record<string, string> } }).error;
    expect(error.code).toBe("INVALID_MESSAGE");
    // The field is named by `fields` (for the form to show the message at it) or by the message itself.
    expect(`${Object.keys(error.fields ?? {}).join(" ")} ${error.message}`).toMatch(mentions);
    const after = await row(user.id);
    expect(after).toEqual(user);
  });

  it("needs a session and a same-origin Origin", async () => {
    expect((await api("/api/me", { method: "PATCH", body: { displayName: "x" } })).status).toBe(401);
    const user = await createUser("student");
    expect((await api("/api/me", { method: "PATCH", as: user, body: { displayName: "x" }, headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await row(user.id)).displayName).toBe(user.displayName);
  });
});
