import { exportJWK, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import type { Env } from "../env";

/**
 * The Worker's ES256 signing key. It signs class tokens (class channel) and media tokens (sfu-node), and its
 * public half is published at `/.well-known/jwks.json`. The private JWK comes from the `WORKER_SIGNING_KEY`
 * secret (`npm start` generates one into .dev.vars on first start and keeps it).
 */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

let cached: { source: string; key: Promise<SigningKey> } | undefined;

export function signingKey(env: Env): Promise<SigningKey> {
  const source = env.WORKER_SIGNING_KEY;
  if (!source) throw new Error("WORKER_SIGNING_KEY is not set: put an ES256 private JWK there (npm start generates one locally)");
  if (cached?.source !== source) cached = { source, key: loadKey(source) };
  return cached.key;
}

async function loadKey(source: string): Promise<SigningKey> {
  const jwk = JSON.parse(source) as JWK;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) throw new Error("WORKER_SIGNING_KEY must be a P-256 private JWK");
  const kid = jwk.kid ?? "worker-key";
  const privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256", { extractable: true })) as CryptoKey;
  const { d: _private, ...publicPart } = await exportJWK(privateKey);
  return { kid, privateKey, publicJwk: { ...publicPart, kid, alg: "ES256", use: "sig" } };
}

/** Signs `claims` as an ES256 JWT with the Worker's key (`iss` = the Worker, `aud` and lifetime as given). */
export async function signWorkerToken(env: Env, claims: JWTPayload, options: { audience: string; issuer: string; expiresInSeconds: number; subject: string }): Promise<string> {
  const key = await signingKey(env);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(options.subject)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds)
    .sign(key.privateKey);
}
