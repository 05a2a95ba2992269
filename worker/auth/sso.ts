import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyResult, jwtVerify } from "jose";
import * as v from "valibot";
import { E164_PATTERN } from "../../schema/api/auth";
import { chosenTimeZone, EmailSchema, isValidTimeZone, LIMITS, ROLE_VALUES } from "../../schema/api/portal";
import { type Role, ssoTokens, type User, users } from "../../schema/db";
import type { Db } from "../db";
import type { Env } from "../env";
import type { AccountNotice } from "./account-notice";
import { randomToken } from "./session";

/**
 * insp single sign-on: the insp site signs a short-lived JWT (HS256 with a shared secret, or RS256/ES256
 * with keys published at a JWKS URL) and sends the browser to /sso?token=…; here it is verified, its `jti`
 * spent, and the user it names found, linked or created.
 */

/** A token older than this (by its `iat`) is refused even if its `exp` is later. */
export const SSO_MAX_TOKEN_AGE_SECONDS = 5 * 60;
/** Clocks of the insp site and Cloudflare may disagree a little; times are checked with this slack. */
const CLOCK_TOLERANCE_SECONDS = 30;
const HMAC_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["RS256", "ES256"];

/**
 * Why an SSO sign-in was refused; `status` is the HTTP status of the page that says so. `signatureVerified` is
 * true when insp did sign the token (it was refused for its claims, its age, a replay, …): such a token cannot
 * have been forged, so it never counts as a failure of the client's address.
 */
export class SsoError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401 | 403 | 500 | 503 = 401,
    readonly signatureVerified = false,
  ) {
    super(message);
    this.name = "SsoError";
  }
}

/** The claims of a verified token that the portal uses. */
export type SsoIdentity = {
  inspId: string;
  jti: string;
  issuer: string;
  email: string;
  /** True only when insp asserts it checked the address (`email_verified: true`); linking needs it. */
  emailVerified: boolean;
  displayName: string;
  /** Null when the token carries no role claim; an unknown role counts as student. */
  role: Role | null;
  phone: string | null;
  timezone: string | null;
  /** When the jti may be forgotten: by then the token is refused as expired or too old anyway (ms). */
  forgetJtiAt: number;
};

const ClaimsSchema = v.object({
  sub: v.pipe(v.string("Claim sub must be a string"), v.minLength(1, "Claim sub is empty"), v.maxLength(200, "Claim sub is too long")),
  jti: v.pipe(v.string("Claim jti must be a string"), v.minLength(1, "Claim jti is empty"), v.maxLength(200, "Claim jti is too long")),
  iss: v.string(),
  exp: v.number(),
  iat: v.number(),
  email: v.pipe(v.string("Claim email must be a string"), EmailSchema),
  email_verified: v.optional(v.unknown()),
  name: v.optional(v.unknown()),
  role: v.optional(v.unknown()),
  phone: v.optional(v.unknown()),
  zoneinfo: v.optional(v.unknown()),
});

/** One JWKS fetcher per URL per isolate, so its key cache and cool-down survive between requests. */
const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function remoteKeySet(url: string) {
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

/**
 * Verifies an insp SSO token and returns who it names. Throws SsoError with a reason a person can act on
 * (expired, not yet valid, too old, bad signature, wrong issuer/audience, malformed, missing claim X, …).
 * Does not spend the jti: see {@link spendJti}.
 */
export async function verifySsoToken(env: Env, token: string): Promise<SsoIdentity> {
  if (!env.INSP_SSO_SECRET && !env.INSP_JWKS_URL) {
    console.error(JSON.stringify({ event: "sso_not_configured" }));
    throw new SsoError("Single sign-on is not configured on this site.", 500);
  }
  if (token.length === 0) throw new SsoError("The sign-in link has no token.");
  if (token.length > 8192) throw new SsoError("The sign-in token is malformed (too long).");

  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new SsoError("The sign-in token is malformed.");
  }
  const options = {
    issuer: env.INSP_SSO_ISSUER,
    audience: env.INSP_SSO_AUDIENCE,
    requiredClaims: ["iss", "aud", "exp", "iat", "sub", "jti"],
    maxTokenAge: SSO_MAX_TOKEN_AGE_SECONDS,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  let result: JWTVerifyResult;
  try {
    if (alg && HMAC_ALGORITHMS.includes(alg) && env.INSP_SSO_SECRET) {
      result = await jwtVerify(token, new TextEncoder().encode(env.INSP_SSO_SECRET), { ...options, algorithms: HMAC_ALGORITHMS });
    } else if (alg && JWKS_ALGORITHMS.includes(alg) && env.INSP_JWKS_URL) {
      result = await jwtVerify(token, remoteKeySet(env.INSP_JWKS_URL), { ...options, algorithms: JWKS_ALGORITHMS });
    } else {
      throw new SsoError(`The sign-in token uses the algorithm "${String(alg ?? "none")}", which this site does not accept.`);
    }
  } catch (err) {
    throw err instanceof SsoError ? err : describeJoseError(err);
  }
  try {
    return identityFrom(result.payload);
  } catch (err) {
    throw err instanceof SsoError ? new SsoError(err.message, err.status, true) : err;
  }
}

function describeJoseError(err: unknown): SsoError {
  // jose checks the claims only after the signature verified.
  if (err instanceof errors.JWTExpired) {
    return err.claim === "iat"
      ? new SsoError(`The sign-in link is too old (issued more than ${SSO_MAX_TOKEN_AGE_SECONDS / 60} minutes ago). Go back to insp and try again.`, 401, true)
      : new SsoError("The sign-in link has expired. Go back to insp and try again.", 401, true);
  }
  if (err instanceof errors.JWTClaimValidationFailed) return new SsoError(describeClaimFailure(err), 401, true);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new SsoError("The sign-in token has a bad signature.");
  if (err instanceof errors.JWKSNoMatchingKey) return new SsoError("The sign-in token was signed with a key insp does not publish (bad signature).");
  if (err instanceof errors.JOSEAlgNotAllowed) return new SsoError("The sign-in token uses an algorithm this site does not accept.");
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof TypeError) {
    // TypeError is what fetch throws when the JWKS host cannot be reached.
    console.error(JSON.stringify({ event: "sso_jwks_unavailable", error: String(err) }));
    return new SsoError("insp's signing keys could not be fetched right now. Please try again in a minute.", 503);
  }
  if (err instanceof errors.JOSEError) return new SsoError("The sign-in token is malformed.");
  console.error(JSON.stringify({ event: "sso_verify_failed", error: String(err) }));
  return new SsoError("The sign-in token could not be verified.");
}

function describeClaimFailure(err: errors.JWTClaimValidationFailed): string {
  if (err.reason === "missing") return `The sign-in token is missing the claim "${err.claim}".`;
  if (err.claim === "iss") return "The sign-in token comes from the wrong issuer.";
  if (err.claim === "aud") return "The sign-in token is meant for another site (wrong audience).";
  if (err.claim === "nbf") return "The sign-in link is not valid yet. Check your device clock, or try again in a minute.";
  if (err.claim === "iat" && err.reason === "check_failed") return "The sign-in token was issued in the future. Check your device clock.";
  return `The sign-in token has an invalid claim "${err.claim}".`;
}

function identityFrom(payload: JWTPayload): SsoIdentity {
  const parsed = v.safeParse(ClaimsSchema, payload);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const claim = issue.path?.[0]?.key;
    if (issue.kind === "schema" && issue.input === undefined && claim !== undefined)
      throw new SsoError(`The sign-in token is missing the claim "${String(claim)}".`);
    throw new SsoError(`The sign-in token has an invalid claim "${String(claim ?? "?")}": ${issue.message}.`);
  }
  const claims = parsed.output;
  const name = typeof claims.name === "string" ? claims.name.trim().slice(0, LIMITS.displayNameLength) : "";
  const role = typeof claims.role === "string" ? ((ROLE_VALUES as readonly string[]).includes(claims.role) ? (claims.role as Role) : "student") : null;
  // A phone or zone insp sends in a shape we cannot use is left out rather than failing the sign-in.
  const phone = typeof claims.phone === "string" && E164_PATTERN.test(claims.phone) ? claims.phone : null;
  const timezone = typeof claims.zoneinfo === "string" && isValidTimeZone(claims.zoneinfo) ? chosenTimeZone(claims.zoneinfo) : null;
  const forgetAtSeconds = Math.min(claims.exp, claims.iat + SSO_MAX_TOKEN_AGE_SECONDS) + CLOCK_TOLERANCE_SECONDS;
  return {
    inspId: claims.sub,
    jti: claims.jti,
    issuer: claims.iss,
    email: claims.email,
    emailVerified: claims.email_verified === true,
    displayName: name || claims.email.split("@")[0]!,
    role,
    phone,
    timezone,
    forgetJtiAt: forgetAtSeconds * 1000,
  };
}

/**
 * Marks the token's jti as used. A single INSERT that fails on conflict, so of two concurrent uses of one
 * link exactly one wins. Also forgets jtis whose tokens can no longer be valid.
 */
export async function spendJti(db: Db, identity: SsoIdentity, now = Date.now()): Promise<void> {
  const inserted = await db
    .insert(ssoTokens)
    .values({ jti: identity.jti, issuer: identity.issuer, userId: null, usedAt: now, expiresAt: identity.forgetJtiAt })
    .onConflictDoNothing()
    .returning({ jti: ssoTokens.jti });
  if (inserted.length === 0) throw new SsoError("This sign-in link has already been used. Go back to insp for a new one.");
  await db.delete(ssoTokens).where(lt(ssoTokens.expiresAt, now));
}

/**
 * The insp site's `zoneinfo` becomes the user's zone while none was chosen yet (here or by an earlier claim):
 * after that the user's own choice in Settings wins.
 */
function zoneFromInsp(identity: SsoIdentity, user: User, now: number): { timezone?: string; timezoneChosenAt?: number } {
  return identity.timezone && user.timezoneChosenAt === null ? { timezone: identity.timezone, timezoneChosenAt: now } : {};
}

/**
 * Finds the portal user for an insp identity, in this order: the row with this insp id; else a row with the
 * same e-mail (any case) not yet linked to an insp id, which is linked now if the rule below allows it; else a
 * new row. E-mail follows insp on every sign-in and so does the role when the token carries one; name, phone and
 * time zone only seed a row being created or linked, after that the user's own settings win.
 *
 * Linking rule (README "Account linking"): insp must assert the address is verified (`email_verified: true`),
 * or whoever registered that address on insp would take the account over. Then a placeholder (no password,
 * student, e.g. enrolled by a teacher) is linked at once; an account with a password or a teacher/admin role is
 * linked only when the browser is signed in to that very account (`signedIn`), i.e. its owner proved it with the
 * password. Otherwise the sign-in is refused with a page saying how to link, and nothing is changed. The owner
 * is told (`notify`) of every link of an existing account and of every refused one with a verified address.
 */
export async function upsertSsoUser(
  db: Db,
  identity: SsoIdentity,
  options: { signedIn?: User | null; notify?: (owner: User, notice: AccountNotice) => void } = {},
  now = Date.now(),
): Promise<User> {
  const byEmail = (await db.select().from(users).where(sql`lower(${users.email}) = ${identity.email.toLowerCase()}`).limit(1))[0];
  const byInspId = (await db.select().from(users).where(eq(users.inspId, identity.inspId)).limit(1))[0];

  let user: User | undefined;
  if (byInspId) {
    if (byEmail && byEmail.id !== byInspId.id) {
      throw new SsoError("Your insp e-mail address is already used by another account here. Please contact an administrator.", 403, true);
    }
    [user] = await db
      .update(users)
      .set({ email: identity.email, ...(identity.role ? { role: identity.role } : {}), ...zoneFromInsp(identity, byInspId, now), updatedAt: now })
      .where(eq(users.id, byInspId.id))
      .returning();
  } else if (byEmail) {
    if (byEmail.inspId !== null) {
      throw new SsoError("This e-mail address belongs to another insp account here. Please contact an administrator.", 403, true);
    }
    if (!identity.emailVerified) {
      throw new SsoError(
        "An insp live account with your e-mail address exists already, and insp has not confirmed that this address is yours. Confirm your e-mail address on insp, then use the link again.",
        403,
        true,
      );
    }
    const isPlaceholder = byEmail.passwordHash === null && byEmail.role === "student";
    if (!isPlaceholder && options.signedIn?.id !== byEmail.id) {
      options.notify?.(byEmail, "link-refused");
      throw new SsoError(
        "Your e-mail address belongs to an insp live account with its own password or role. To link it to insp, sign in here with that account's password first, then use the link from insp again. If you do not know the password, ask an administrator.",
        403,
        true,
      );
    }
    const linked = await db
      .update(users)
      .set({
        inspId: identity.inspId,
        email: identity.email,
        // A placeholder's name is just the e-mail a teacher typed; insp's name is better. An owner chose theirs.
        ...(isPlaceholder ? { displayName: identity.displayName } : {}),
        ...(identity.role ? { role: identity.role } : {}),
        ...(identity.phone && !byEmail.phone ? { phone: identity.phone } : {}),
        ...zoneFromInsp(identity, byEmail, now),
        updatedAt: now,
      })
      // Only link if nobody linked it in the meantime, and a placeholder only if it is still one (no password set
      // and no role given since it was read).
      .where(and(eq(users.id, byEmail.id), isNull(users.inspId), isPlaceholder ? and(isNull(users.passwordHash), eq(users.role, "student")) : undefined))
      .returning();
    if (linked.length === 0) throw new SsoError("Your account was being linked by another sign-in at the same moment. Please try again.", 503);
    user = linked[0];
    if (user) options.notify?.(user, "linked");
  } else {
    [user] = await db
      .insert(users)
      .values({
        id: crypto.randomUUID(),
        inspId: identity.inspId,
        email: identity.email,
        displayName: identity.displayName,
        role: identity.role ?? "student",
        phone: identity.phone,
        timezone: identity.timezone ?? "UTC",
        timezoneChosenAt: identity.timezone ? now : null,
        calendarSecret: randomToken(),
        createdAt: now,
        updatedAt: now,
      })
      .returning();
  }
  if (!user) throw new Error("the user write returned no row");
  await db.update(ssoTokens).set({ userId: user.id }).where(eq(ssoTokens.jti, identity.jti));
  return user;
}

/**
 * The `next` parameter as a same-origin path, or null when it could lead elsewhere. Only "/…" paths are
 * accepted: not "//host" (protocol-relative), not "/\host" (browsers read a backslash as a slash), not a
 * full URL, no control characters.
 */
export function safeNextPath(next: string | undefined, origin: string): string | null {
  if (next === undefined || next === "") return "/";
  if (next.length > 2000 || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return null;
  if (/[\u0000-\u001f\u007f]/.test(next)) return null;
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin) return null;
  // The decision is made on the normalized value: URL parsing removes dot-segments ("/.//evil", "/%2e//evil",
  // "/a/..//evil" all become "//evil"), so a raw value that looked like a path can come out protocol-relative.
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (!path.startsWith("/") || path.startsWith("//") || path.includes("\\")) return null;
  if (new URL(path, origin).origin !== origin) return null;
  return path;
}
