import { and, eq, isNull, lt } from "drizzle-orm";
import type { Context } from "hono";
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from "jose";
import * as v from "valibot";
import { sfuNodeKeys, sfuNodeTokenUses } from "../../schema/db";
import { NODE_TOKEN_MAX_LIFETIME_SECONDS, NODE_TOKEN_TYPE, NodeTokenClaimsSchema } from "../../schema/tokens/node-token";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";

/** Clocks of the VMs and of Cloudflare disagree a little; more than this and the node's clock is wrong. */
const CLOCK_TOLERANCE_SECONDS = 10;

/**
 * Verifies the node token of a node → Worker request (schema/tokens/node-token.ts) and returns the id of the
 * node whose enrolled key signed it. Refuses (UNAUTHORIZED) a missing or malformed token, an unknown or revoked
 * key, a bad signature, another audience, an expired token or one that claims more than
 * {@link NODE_TOKEN_MAX_LIFETIME_SECONDS}, a token made for another method or path, and a token used before.
 */
export async function requireNode(c: Context<AppEnv>): Promise<string> {
  const token = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (!token) throw new ApiError("UNAUTHORIZED", "A node token is required (Authorization: Bearer <JWT signed by the node's key>)");
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.typ === NODE_TOKEN_TYPE && header.alg === "ES256") kid = header.kid;
  } catch {
    // Not a JWT at all: answered below like any other unusable token.
  }
  if (!kid) throw new ApiError("UNAUTHORIZED", `The bearer token is not a node token (ES256 JWT, typ ${NODE_TOKEN_TYPE}, with kid)`);
  const key = await c.var.db.query.sfuNodeKeys.findFirst({ where: and(eq(sfuNodeKeys.kid, kid), isNull(sfuNodeKeys.revokedAt)) });
  // One answer for unknown and revoked keys: a caller learns nothing about which keys exist.
  if (!key) throw new ApiError("UNAUTHORIZED", "The node token is signed by a key that is not enrolled");

  let payload: unknown;
  try {
    const publicKey = await importJWK({ ...(JSON.parse(key.publicJwk) as object), alg: "ES256" }, "ES256");
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: ["ES256"],
      typ: NODE_TOKEN_TYPE,
      audience: workerAudiences(c),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["sub", "aud", "iat", "exp", "jti"],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw new ApiError("UNAUTHORIZED", `The node token is not valid: ${error.code}`);
    throw error;
  }
  const parsed = v.safeParse(NodeTokenClaimsSchema, payload);
  if (!parsed.success) throw new ApiError("UNAUTHORIZED", "The node token's claims are malformed");
  const claims = parsed.output;
  if (claims.exp - claims.iat > NODE_TOKEN_MAX_LIFETIME_SECONDS)
    throw new ApiError("UNAUTHORIZED", `A node token may live ${NODE_TOKEN_MAX_LIFETIME_SECONDS} s at most`);
  if (claims.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS)
    throw new ApiError("UNAUTHORIZED", "The node token was issued in the future: check the node's clock");
  if (claims.htm !== c.req.method || claims.htu !== c.req.path) throw new ApiError("UNAUTHORIZED", "The node token was made for another request");
  if (claims.sub !== key.nodeId) throw new ApiError("FORBIDDEN", "The node token's key is enrolled for another node");

  const now = Date.now();
  // Tokens are single-use: the first request with a jti claims it. Rows outlive their tokens only briefly.
  const [, claimed] = await c.var.db.batch([
    c.var.db.delete(sfuNodeTokenUses).where(lt(sfuNodeTokenUses.expiresAt, now - CLOCK_TOLERANCE_SECONDS * 1000)),
    c.var.db
      .insert(sfuNodeTokenUses)
      .values({ jti: `${kid}:${claims.jti}`, expiresAt: claims.exp * 1000 })
      .onConflictDoNothing()
      .returning({ jti: sfuNodeTokenUses.jti }),
  ]);
  if (claimed.length === 0) throw new ApiError("UNAUTHORIZED", "The node token was already used");
  return key.nodeId;
}

/** The origins a node may name as the token's audience: the one it called, and the configured public origin. */
function workerAudiences(c: Context<AppEnv>): string[] {
  const audiences = [new URL(c.req.url).origin];
  if (c.env.PUBLIC_URL) {
    try {
      audiences.push(new URL(c.env.PUBLIC_URL).origin);
    } catch {
      // A malformed PUBLIC_URL names no audience; the request's own origin still does.
    }
  }
  return audiences;
}

/**
 * Operators' routes (enrol, list, revoke node keys) take `Authorization: Bearer <FLEET_ENROLMENT_SECRET>`,
 * compared in constant time over SHA-256 digests. No sfu-node holds that secret. While it is unset, keys can be
 * neither enrolled nor revoked through the API.
 */
export async function requireEnrolmentSecret(c: Context<AppEnv>): Promise<void> {
  const expected = c.env.FLEET_ENROLMENT_SECRET;
  if (!expected) throw new ApiError("UNAVAILABLE", "Node enrolment is disabled: FLEET_ENROLMENT_SECRET is not set on this Worker");
  const presented = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (!presented) throw new ApiError("UNAUTHORIZED", "The enrolment secret is required (Authorization: Bearer …)");
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) throw new ApiError("UNAUTHORIZED", "The enrolment secret is not valid");
}

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
