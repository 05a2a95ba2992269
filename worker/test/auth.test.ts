import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
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

  it.each([null, "", "plain", "pbkdf2$0$AA==$AA==", "pbkdf2$999999999$AA==$AA==", "pbkdf2$100000$!!$AA==", "bcrypt$10$x$y"])("never matches a malformed hash %j", async (stored) => {
    expect(await verifyPassword("anything", stored)).toBe(false);
  });
});

describe("POST /api/auth/login", () => {
  it("signs in with the right password: user shape, cookie, /api/me works", async () => {
    const user = await userWithPassword("teacher");
    const response = await login(user.email.toUpperCase(), PASSWORD);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      user: { id: user.id, email: user.email, displayName: user.displayName, role: "teacher", timezone: "UTC", phone: null, remindByEmail: true, remindBySms: false },
    });
    const profile = await me(cookieOf(response));
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { user: { id: string } }).user.id).toBe(user.id);
  });

  it("refuses a wrong password, an unknown e-mail and a password-less placeholder alike", async () => {
    const user = await userWithPassword();
    const placeholder = await createUser("student");
    for (const response of [await login(user.email, "wrong password"), await login(`nobody-${crypto.randomUUID()}@example.test`, PASSWORD), await login(placeholder.email, PASSWORD)]) {
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: "UNAUTHORIZED", message: "Wrong e-mail address or password" } });
      expect(sessionSetCookie(response)).toBeUndefined();
    }
  });

  it("refuses a blocked user with the right password", async () => {
    const admin = await createUser("admin");
    const user = await userWithPassword();
    await db.insert(blocks).values({ id: crypto.randomUUID(), userId: user.id, classId: null, reason: "Abusive chat", blockedBy: admin.id, createdAt: Date.now() });
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

describe("sign-in rate limits", () => {
  it("after 5 wrong passwords for one account, even the right one gets 429 with Retry-After", async () => {
    const user = await userWithPassword();
    for (let i = 0; i < 5; i++) expect((await login(user.email, `guess ${i}`)).status).toBe(401);

    const limited = await login(user.email, PASSWORD);
    expect(limited.status).toBe(429);
    expect(await errorCode(limited)).toBe("RATE_LIMITED");
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(sessionSetCookie(limited)).toBeUndefined();

    // Another account is not affected.
    const other = await userWithPassword();
    expect((await login(other.email, PASSWORD)).status).toBe(200);
  });

  it("after 20 failures from one address, every account is refused from there", async () => {
    const ip = newIp();
    for (let i = 0; i < 20; i++) expect((await login(`nobody-${i}-${crypto.randomUUID()}@example.test`, "guess", ip)).status).toBe(401);
    const user = await userWithPassword();
    const limited = await login(user.email, PASSWORD, ip);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await login(user.email, PASSWORD, newIp())).status).toBe(200);
  });

  it("a successful sign-in clears the account's failure count", async () => {
    const user = await userWithPassword();
    for (let i = 0; i < 4; i++) await login(user.email, "wrong");
    expect((await login(user.email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login(user.email, "wrong")).status).toBe(401);
    expect((await login(user.email, PASSWORD)).status).toBe(200);
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
  it("is 401 without a session, and for a user blocked after signing in", async () => {
    expect(await errorCode(await api("/api/me"))).toBe("UNAUTHORIZED");
    const admin = await createUser("admin");
    const user = await userWithPassword();
    const cookie = cookieOf(await login(user.email, PASSWORD));
    await db.insert(blocks).values({ id: crypto.randomUUID(), userId: user.id, classId: null, reason: "", blockedBy: admin.id, createdAt: Date.now() });
    expect((await me(cookie)).status).toBe(401);
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
    const response = await patchMe(user, { displayName: "  Grace H.  ", timezone: "asia/tokyo", phone: "+81312345678", remindByEmail: false, remindBySms: true });
    expect(response.status).toBe(200);
    const expected = { displayName: "Grace H.", timezone: "Asia/Tokyo", phone: "+81312345678", remindByEmail: false, remindBySms: true };
    expect(((await response.json()) as { user: unknown }).user).toMatchObject(expected);
    expect(await row(user.id)).toMatchObject(expected);
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
    const error = ((await response.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("INVALID_MESSAGE");
    expect(error.message).toMatch(mentions);
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
