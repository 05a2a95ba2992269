import { importJWK, type JWTPayload } from "jose";
import { loadSigningKey, type SignOptions, type SigningKey, signWithWorkerKey } from "../../schema/tokens/worker-key";
import type { Env } from "../env";

export type { SigningKey };

/**
 * The Worker's ES256 signing key from the `WORKER_SIGNING_KEY` secret (`npm start` generates one into .dev.vars
 * on first start and keeps it). Loading and signing live in schema/tokens/worker-key.ts, which the Classroom
 * Durable Object uses too for media tokens.
 */
export function signingKey(env: Env): Promise<SigningKey> {
  return loadSigningKey(env.WORKER_SIGNING_KEY);
}

/** Signs `claims` as an ES256 JWT with the Worker's key (`iss` = the Worker, `aud` and lifetime as given). */
export function signWorkerToken(env: Env, claims: JWTPayload, options: SignOptions): Promise<string> {
  return signWithWorkerKey(env.WORKER_SIGNING_KEY, claims, options);
}

let verificationKey: { source: string; key: Promise<CryptoKey> } | undefined;

/** The public half of the Worker's key, imported once per isolate (and again if the secret changes). */
export function workerPublicKey(env: Env): Promise<CryptoKey> {
  const source = env.WORKER_SIGNING_KEY ?? "";
  if (verificationKey?.source !== source) {
    verificationKey = { source, key: signingKey(env).then((key) => importJWK(key.publicJwk, "ES256") as Promise<CryptoKey>) };
  }
  return verificationKey.key;
}
