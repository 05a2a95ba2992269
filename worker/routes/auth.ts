import { eq, sql } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { LoginSchema, MePatchSchema, type UserResponse } from "../../schema/api/auth";
import { sessions, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { toPublicUser } from "../auth/public-user";
import { verifyPassword } from "../auth/password";
import { sendAccountNotice } from "../auth/account-notice";
import { knownDeviceId, rememberDevice } from "../auth/known-device";
import { isDemoAccount, isLocalDev } from "../auth/local-dev";
import {
  type Claim,
  claimAttempt,
  clearFailures,
  clientIp,
  type LimitedKey,
  loginAccountKey,
  loginDeviceKey,
  loginIpKey,
  releaseClaim,
  ssoIpKey,
} from "../auth/rate-limit";
import { blockedMessage, activeBlock, endSession, requireUser, SESSION_COOKIE, sha256Hex, startSession } from "../auth/session";
import { safeNextPath, SsoError, type SsoIdentity, spendJti, upsertSsoUser, verifySsoToken } from "../auth/sso";
import { ApiError, errorResponse } from "../errors";
import { jsonBody } from "../validate";

/**
 * Sign-in (insp SSO links and local passwords), sign-out, and the signed-in user's own profile.
 * See API.md "Auth".
 */
export const authRoutes = new Hono<AppEnv>();

/**
 * A well-formed hash (of a password nobody knows) to compare against when the e-mail is unknown or has no
 * password, so a failed sign-in takes as long whether or not the account exists. A constant rather than
 * one computed at first use: workerd does not let one request await a promise another request created.
 */
const DECOY_HASH = "pbkdf2$100000$3q2+7wAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

// ─── SSO ────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * GET /sso?token=JWT&next=/path. Success: a session cookie and a redirect to `next`. Failure: an HTML page
 * saying why (the person came from a link, not from our app, so JSON would help nobody). An off-site `next`
 * is refused with 400 rather than silently replaced: a tampered link should be visible, and the token is
 * left unspent so a corrected link still works.
 */
authRoutes.get("/sso", async (c) => {
  const origin = new URL(c.req.url).origin;
  const next = safeNextPath(c.req.query("next"), origin);
  if (next === null) return messagePage(c, 400, "Sign-in refused", "The sign-in link points to another site. Use the link from insp as it was sent.");

  let identity: SsoIdentity;
  try {
    identity = await verifySsoToken(c.env, c.req.query("token") ?? "");
  } catch (err) {
    if (!(err instanceof SsoError)) throw err;
    // Only links whose signature did not verify count against the address: a signed link cannot be forged, so
    // a failure limit can never refuse one, and a network full of people is not locked out by one bad actor.
    if (err.status === 401 && !err.signatureVerified) {
      const claimed = await claimAttempt(c.var.db, ssoIpKey(clientIp(c.req.header("cf-connecting-ip"))));
      if (!claimed.ok) {
        c.header("Retry-After", String(claimed.retryAfterSeconds));
        return messagePage(
          c,
          429,
          "Too many failed sign-ins",
          `Too many broken sign-in links came from your network. Try again in ${waitText(claimed.retryAfterSeconds)}, with a fresh link from insp.`,
        );
      }
    }
    return ssoRefused(c, err);
  }

  try {
    await spendJti(c.var.db, identity);
    const user = await upsertSsoUser(c.var.db, identity, {
      signedIn: c.var.user,
      // The notice must not hold up the sign-in it is about.
      notify: (owner, notice) => c.executionCtx.waitUntil(sendAccountNotice(c.env, c.var.db, owner, notice)),
    });
    const block = await activeBlock(c.var.db, user.id);
    if (block) {
      return messagePage(
        c,
        403,
        "Your account is blocked",
        block.reason ? `You cannot sign in to insp live: ${block.reason}` : "You cannot sign in to insp live.",
      );
    }
    await forgetCurrentSession(c);
    await startSession(c, user.id);
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    return c.redirect(next, 302);
  } catch (err) {
    if (!(err instanceof SsoError)) throw err;
    return ssoRefused(c, err);
  }
});

function ssoRefused(c: Context<AppEnv>, err: SsoError): Response {
  console.warn(JSON.stringify({ event: "sso_refused", status: err.status, reason: err.message }));
  return messagePage(c, err.status, err.status === 403 ? "Sign-in refused" : "Sign-in failed", err.message);
}

// ─── local accounts ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * POST /api/auth/login {email, password} → {user} + session cookie + known-device cookie. Limits (see
 * worker/auth/rate-limit.ts and README "Sign-in limits"): from a browser the account does not know, the address's
 * failures across accounts (count rule) and the account's failures (backoff rule); from a browser it knows, only
 * that browser's own failures (backoff rule), so nobody else's guessing keeps the owner out. A refused attempt
 * gets 429 with Retry-After before the password is even looked at.
 */
authRoutes.post("/api/auth/login", async (c) => {
  const body = await jsonBody(c, LoginSchema);
  const db = c.var.db;
  const user = (await db.select().from(users).where(eqLowerEmail(body.email)).limit(1))[0];
  const deviceId = user ? await knownDeviceId(c, user) : null;
  const limits: { limited: LimitedKey; refusal: string }[] = deviceId
    ? [{ limited: loginDeviceKey(deviceId), refusal: "Too many wrong passwords from this browser." }]
    : [
        { limited: loginIpKey(clientIp(c.req.header("cf-connecting-ip"))), refusal: "Too many failed sign-ins from your network." },
        { limited: loginAccountKey(body.email), refusal: "Too many wrong passwords for this account." },
      ];
  const claims: Claim[] = [];
  for (const { limited, refusal } of limits) {
    const claimed = await claimAttempt(db, limited);
    if (!claimed.ok) {
      for (const claim of claims) await releaseClaim(db, claim);
      const wait = claimed.retryAfterSeconds;
      return errorResponse("RATE_LIMITED", `${refusal} Try again in ${waitText(wait)}.`, { "Retry-After": String(wait) });
    }
    claims.push(claimed.claim);
  }

  const stored = user?.passwordHash ?? DECOY_HASH;
  const matches = (await verifyPassword(body.password, stored)) && user?.passwordHash != null;
  // A failure keeps its claims: they are the failures counted.
  if (!user || !matches) throw new ApiError("UNAUTHORIZED", "Wrong e-mail address or password");
  if (isDemoAccount(user) && !isLocalDev(c.env))
    throw new ApiError("FORBIDDEN", "Demo accounts can sign in only in local development (LOCAL_DEV=true, set by npm start)");

  // The right password ends its own streak only: a known browser's success leaves the strangers' backoff on the
  // account in place, or every sign-in of the owner would hand a guesser five free tries.
  if (deviceId) await clearFailures(db, loginDeviceKey(deviceId));
  else {
    await releaseClaim(db, claims[0]!);
    await clearFailures(db, loginAccountKey(body.email));
  }
  const block = await activeBlock(db, user.id);
  if (block) throw new ApiError("FORBIDDEN", blockedMessage(block));

  await forgetCurrentSession(c);
  await startSession(c, user.id);
  await rememberDevice(c, user, deviceId);
  return c.json<UserResponse>({ user: toPublicUser(user) });
});

/** POST /api/auth/logout → 204; the session row is deleted, so the old cookie is worthless even if kept. */
authRoutes.post("/api/auth/logout", async (c) => {
  await endSession(c);
  return c.body(null, 204);
});

// ─── profile ────────────────────────────────────────────────────────────────────────────────────────────────

authRoutes.get("/api/me", (c) => c.json<UserResponse>({ user: toPublicUser(requireUser(c)) }));

/** PATCH /api/me: the user's own name, time zone, phone and reminder channels. */
authRoutes.patch("/api/me", async (c) => {
  const user = requireUser(c);
  const patch = await jsonBody(c, MePatchSchema);
  const phone = patch.phone !== undefined ? patch.phone : user.phone;
  const remindBySms = patch.remindBySms ?? user.remindBySms;
  if (remindBySms && !phone) throw new ApiError("INVALID_MESSAGE", "remindBySms: add a phone number to get reminders by SMS");
  const [updated] = await c.var.db
    .update(users)
    .set({ ...patch, ...(patch.timezone !== undefined ? { timezoneChosenAt: Date.now() } : {}), updatedAt: Date.now() })
    .where(eq(users.id, user.id))
    .returning();
  return c.json<UserResponse>({ user: toPublicUser(updated!) });
});

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────────────────

/** E-mail addresses match case-insensitively (users_email_unique is on lower(email)). */
function eqLowerEmail(email: string) {
  return sql`lower(${users.email}) = ${email.toLowerCase()}`;
}

/** Deletes the session the browser already holds (if any) before a new sign-in replaces its cookie. */
async function forgetCurrentSession(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token && token.length <= 200) await c.var.db.delete(sessions).where(eq(sessions.id, await sha256Hex(token)));
}

/** "3 seconds", "a minute", "12 minutes": how long a refused person must wait, as they would say it. */
function waitText(seconds: number): string {
  if (seconds < 60) return seconds <= 1 ? "a second" : `${seconds} seconds`;
  const count = Math.ceil(seconds / 60);
  return count === 1 ? "a minute" : `${count} minutes`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A small self-contained HTML page for people who arrive by link and must be told what happened. */
function messagePage(c: Context<AppEnv>, status: 400 | 401 | 403 | 429 | 500 | 503, title: string, message: string): Response {
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  return c.html(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · insp live</title>
<style>
:root{color-scheme:light dark;--bg:#f6f7fb;--surface:#fff;--border:#d5d9e4;--text:#1b1f2a;--muted:#5b6475;--primary:#3a4fd8}
@media (prefers-color-scheme:dark){:root{--bg:#12141b;--surface:#1b1e28;--border:#363b4d;--text:#e8eaf2;--muted:#a3a9bb;--primary:#8a9bff}}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--text)}
main{max-width:30rem;margin:12vh auto;padding:0 1rem}
.brand{font-weight:700;font-size:1.5rem;text-align:center;margin:0 0 1.5rem}.brand span{color:var(--primary)}
.card{background:var(--surface);border:1px solid var(--border);border-radius:12px;padding:1.5rem 1.75rem;box-shadow:0 1px 3px rgb(0 0 0/.06)}
h1{font-size:1.3rem;margin:0 0 .5rem}p{margin:0 0 1rem;color:var(--muted)}
a.button{display:inline-block;padding:.5rem 1rem;border-radius:8px;background:var(--primary);color:#fff;text-decoration:none;font-weight:600}
</style>
</head>
<body>
<main>
<p class="brand">insp<span>live</span></p>
<div class="card">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
<a class="button" href="/">Go to insp live</a>
</div>
</main>
</body>
</html>`,
    status,
  );
}
