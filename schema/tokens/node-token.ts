import { calculateJwkThumbprint, importJWK, type JWK, SignJWT } from "jose";
import * as v from "valibot";

/**
 * Node tokens: how an sfu-node proves who it is on every request to the Worker (register, heartbeat, class link
 * upgrade, recording reports). Each node holds its own ES256 (P-256) private key; an operator enrolled the
 * public half for the node's id (`POST /api/fleet/keys`). A node token is a JWT signed with that key:
 *
 * - header: `alg` ES256, `typ` {@link NODE_TOKEN_TYPE}, `kid` = the key's RFC 7638 thumbprint;
 * - `sub` = the node id, `aud` = the Worker's origin (e.g. `https://live.insp.example`), `iat`, `exp` at most
 *   {@link NODE_TOKEN_MAX_LIFETIME_SECONDS} later, `jti` (single use), and `htm` / `htu`: the method and path
 *   of the one request it authorizes, so a token seen on one request cannot authorize another.
 *
 * The Worker finds the key by `kid`, and the node id is the one the key was enrolled for: `sub` must name it.
 */
export const NODE_TOKEN_TYPE = "insp-node+jwt";

/** A node token lives this long at most; the Worker refuses tokens that claim a longer life. */
export const NODE_TOKEN_MAX_LIFETIME_SECONDS = 60;

const Base64Url = (length: number) =>
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, "must be base64url"), v.length(length, `must be ${length} base64url characters`));

/** A node's public key as enrolled: an EC P-256 JWK (a private part `d` is refused: it must stay on the node). */
export const NodePublicJwkSchema = v.pipe(
  v.object({
    kty: v.literal("EC"),
    crv: v.literal("P-256"),
    x: Base64Url(43),
    y: Base64Url(43),
    d: v.optional(v.never('must be the public key only (no "d")')),
  }),
  v.transform(({ kty, crv, x, y }) => ({ kty, crv, x, y })),
);
export type NodePublicJwk = v.InferOutput<typeof NodePublicJwkSchema>;

/** A node's private key (the sfu-node's `SFU_NODE_KEY`): an EC P-256 JWK with its private part. */
export const NodePrivateJwkSchema = v.pipe(
  v.object({ kty: v.literal("EC"), crv: v.literal("P-256"), x: Base64Url(43), y: Base64Url(43), d: Base64Url(43) }),
  v.transform(({ kty, crv, x, y, d }) => ({ kty, crv, x, y, d })),
);
export type NodePrivateJwk = v.InferOutput<typeof NodePrivateJwkSchema>;

/** The claims of a node token after its signature, audience and expiry were checked. */
export const NodeTokenClaimsSchema = v.object({
  /** Compared with the node id the key was enrolled for (validated then), so only its length is checked here. */
  sub: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  aud: v.string(),
  iat: v.pipe(v.number(), v.integer()),
  exp: v.pipe(v.number(), v.integer()),
  jti: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,64}$/, "jti must be 16–64 letters, digits, '_' or '-'")),
  htm: v.picklist(["GET", "POST"]),
  htu: v.pipe(v.string(), v.startsWith("/"), v.maxLength(512)),
});
export type NodeTokenClaims = v.InferOutput<typeof NodeTokenClaimsSchema>;

/** The key id of a public (or private) node key: its RFC 7638 thumbprint. */
export function nodeKeyId(jwk: NodePublicJwk | NodePrivateJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, "sha256");
}

/** The public half of a private node key (what an operator enrols). */
export function nodePublicJwk(jwk: NodePrivateJwk): NodePublicJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** What one node token authorizes. */
export interface NodeRequest {
  nodeId: string;
  /** The Worker's origin, e.g. `https://live.insp.example` (no path). */
  audience: string;
  method: "GET" | "POST";
  /** The request's path, without the query. */
  path: string;
}

/** A node's signer: one fresh single-use token per request. */
export interface NodeTokenSigner {
  readonly kid: string;
  sign(request: NodeRequest, options?: { lifetimeSeconds?: number; now?: number }): Promise<string>;
}

/**
 * Loads a private node key for signing. Shared by the sfu-node and the tests and scripts that act as one, so
 * every signer writes the same claims.
 */
export async function createNodeTokenSigner(jwk: NodePrivateJwk): Promise<NodeTokenSigner> {
  const kid = await nodeKeyId(jwk);
  const key = await importJWK({ ...jwk, alg: "ES256" } satisfies JWK, "ES256");
  return {
    kid,
    sign({ nodeId, audience, method, path }, options = {}) {
      const now = Math.floor((options.now ?? Date.now()) / 1000);
      return new SignJWT({ htm: method, htu: path })
        .setProtectedHeader({ alg: "ES256", typ: NODE_TOKEN_TYPE, kid })
        .setSubject(nodeId)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.lifetimeSeconds ?? 30))
        .setJti(crypto.randomUUID().replaceAll("-", ""))
        .sign(key);
    },
  };
}
