import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { User } from "../../schema/db";
import type { AppEnv } from "../app-env";
import type { Env } from "../env";
import { randomToken, secureCookie } from "./session";

/**
 * "Known device" cookies: after a password sign-in the browser gets an HttpOnly cookie that says "this browser
 * has signed in to account X before". A password attempt that carries a valid one is judged on that browser's
 * own failure streak instead of the account's and the client address's, so a stranger hammering an account (or
 * a whole school network) cannot keep its owner out of a browser they already use. The cookie never signs
 * anybody in by itself: the password must still be right.
 *
 * The value is `v1.<device id>.<issued at>.<MAC>`; the MAC (HMAC-SHA256) covers the account id and its password
 * hash as well, so the cookie works for one account only and a changed password forgets every device. No table
 * holds it: the MAC key is derived (HKDF) from the Worker's signing key, which every deployment has already.
 */

export const DEVICE_COOKIE = "insp_live_device";
const DEVICE_TTL_MS = 90 * 24 * 60 * 60 * 1000;
/** Only the password sign-in reads it, so no other request carries it. */
const DEVICE_COOKIE_PATH = "/api/auth/login";

let cachedKey: { source: string; key: Promise<CryptoKey> } | undefined;

/** The MAC key, or null when WORKER_SIGNING_KEY is not set (then no browser is ever known). */
function macKey(env: Env): Promise<CryptoKey> | null {
  const source = env.WORKER_SIGNING_KEY;
  if (!source) return null;
  if (cachedKey?.source !== source) cachedKey = { source, key: deriveMacKey(source) };
  return cachedKey.key;
}

async function deriveMacKey(source: string): Promise<CryptoKey> {
  const d = (JSON.parse(source) as { d?: string }).d;
  if (!d) throw new Error("WORKER_SIGNING_KEY has no private part (d)");
  const secret = Uint8Array.from(atob(d.replace(/-/g, "+").replace(/_/g, "/")), (char) => char.charCodeAt(0));
  const base = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("insp-live known-device cookie v1") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

async function mac(key: CryptoKey, user: User, deviceId: string, issuedAt: number): Promise<string> {
  const input = `known-device:v1|${user.id}|${user.passwordHash ?? ""}|${deviceId}|${issuedAt}`;
  const bytes = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function constantTimeEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i % Math.max(1, b.length));
  return difference === 0;
}

/**
 * The id of the browser behind the request if it has signed in to `user` with a password before (a valid,
 * unexpired cookie for this account and its current password), else null.
 */
export async function knownDeviceId(c: Context<AppEnv>, user: User, now = Date.now()): Promise<string | null> {
  const value = getCookie(c, DEVICE_COOKIE);
  const key = macKey(c.env);
  if (!value || value.length > 200 || !key) return null;
  const [version, deviceId, issued, given, ...rest] = value.split(".");
  if (version !== "v1" || !deviceId || !issued || !given || rest.length > 0) return null;
  const issuedAt = Number(issued);
  if (!Number.isSafeInteger(issuedAt) || issuedAt > now || now - issuedAt > DEVICE_TTL_MS) return null;
  return constantTimeEqual(await mac(await key, user, deviceId, issuedAt), given) ? deviceId : null;
}

/** Sets (or renews) the cookie that makes this browser known to `user`; keeps `deviceId` when it had one. */
export async function rememberDevice(c: Context<AppEnv>, user: User, deviceId: string | null, now = Date.now()): Promise<void> {
  const key = macKey(c.env);
  if (!key || !user.passwordHash) return;
  const id = deviceId ?? randomToken(16);
  setCookie(c, DEVICE_COOKIE, `v1.${id}.${now}.${await mac(await key, user, id, now)}`, {
    httpOnly: true,
    sameSite: "Strict",
    secure: secureCookie(new URL(c.req.url)),
    path: DEVICE_COOKIE_PATH,
    maxAge: DEVICE_TTL_MS / 1000,
  });
}
