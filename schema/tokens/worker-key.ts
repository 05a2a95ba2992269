import { type CryptoKey, exportJWK, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";

/**
 * The Worker's ES256 signing key, loaded from the `WORKER_SIGNING_KEY` secret (a P-256 private JWK as JSON).
 * It signs class tokens (the Worker) and media tokens (the Classroom Durable Object); its public half is
 * published at `/.well-known/jwks.json`. Both the Worker and the object load it through this module, so
 * neither imports the other.
 */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

let cached: { source: string; key: Promise<SigningKey> } | undefined;

/** The key in `source` (the secret's value); parsed once per distinct value. */
export function loadSigningKey(source: string | undefined): Promise<SigningKey> {
  if (!source) throw new Error("WORKER_SIGNING_KEY is not set: put an ES256 private JWK there (npm start generates one locally)");
  if (cached?.source !== source) cached = { source, key: parseKey(source) };
  return cached.key;
}

async function parseKey(source: string): Promise<SigningKey> {
  const jwk = JSON.parse(source) as JWK;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) throw new Error("WORKER_SIGNING_KEY must be a P-256 private JWK");
  const kid = jwk.kid ?? "worker-key";
  const privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256", { extractable: true })) as CryptoKey;
  const { d: _private, ...publicPart } = await exportJWK(privateKey);
  return { kid, privateKey, publicJwk: { ...publicPart, kid, alg: "ES256", use: "sig" } };
}

export interface SignOptions {
  audience: string;
  issuer: string;
  expiresInSeconds: number;
  subject: string;
}

/** Signs `claims` as an ES256 JWT with the key in `source` (`iss`, `aud`, `sub` and lifetime as given). */
export async function signWithWorkerKey(source: string | undefined, claims: JWTPayload, options: SignOptions): Promise<string> {
  const key = await loadSigningKey(source);
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
