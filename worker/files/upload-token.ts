import { jwtVerify } from "jose";
import * as v from "valibot";
import { FILE_LIMITS, UPLOAD_PURPOSES } from "../../schema/api/files";
import { signWorkerToken, workerPublicKey } from "../auth/keys";
import type { Env } from "../env";

const UPLOAD_TOKEN_ISSUER = "insp-live-worker";
const UPLOAD_TOKEN_AUDIENCE = "insp-live-upload";

/**
 * What an upload in progress is: who started it, for which class and purpose, the file's name and size as
 * declared, and where its parts go in R2. Signed by the Worker and held by the browser between requests, so an
 * unfinished upload needs no row: nothing half-written exists in D1 until the upload completes and passes.
 */
export const UploadClaimsSchema = v.object({
  sub: v.string(),
  classId: v.string(),
  purpose: v.picklist(UPLOAD_PURPOSES),
  fileName: v.string(),
  title: v.nullable(v.string()),
  sizeBytes: v.number(),
  key: v.string(),
  r2UploadId: v.string(),
});
export type UploadClaims = v.InferOutput<typeof UploadClaimsSchema>;

export function signUploadToken(env: Env, claims: Omit<UploadClaims, "sub"> & { userId: string }): Promise<string> {
  const { userId, ...rest } = claims;
  return signWorkerToken(env, rest, {
    audience: UPLOAD_TOKEN_AUDIENCE,
    issuer: UPLOAD_TOKEN_ISSUER,
    expiresInSeconds: FILE_LIMITS.uploadLifetimeSeconds,
    subject: userId,
  });
}

/** The claims of a valid upload token of `userId`, or null (forged, expired, someone else's, malformed). */
export async function verifyUploadToken(env: Env, token: string | undefined, userId: string): Promise<UploadClaims | null> {
  if (!token || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, await workerPublicKey(env), {
      issuer: UPLOAD_TOKEN_ISSUER,
      audience: UPLOAD_TOKEN_AUDIENCE,
      algorithms: ["ES256"],
    });
    const claims = v.safeParse(UploadClaimsSchema, payload);
    return claims.success && claims.output.sub === userId ? claims.output : null;
  } catch {
    return null;
  }
}
