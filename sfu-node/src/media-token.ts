import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import * as v from "valibot";
import { MEDIA_TOKEN_ISSUER, MEDIA_TOKEN_MAX_LIFETIME_SECONDS, type MediaTokenClaims, MediaTokenClaimsSchema } from "../../schema/tokens/media-token";
import { MediaError } from "./errors";

/** Verifies media tokens for one node against the Worker's JWKS. */
export interface MediaTokenVerifier {
  /** The claims of a valid token for this node and `classId`; `MediaError` UNAUTHORIZED/FORBIDDEN otherwise. */
  verify(token: string, classId: string): Promise<MediaTokenClaims>;
}

/**
 * Tokens must be ES256, issued by the Worker, for audience = `nodeId`, unexpired, for the class the socket
 * asks for. The key set is fetched from `workerUrl/.well-known/jwks.json` and cached; jose fetches it again
 * when a token names a `kid` it does not hold (the Worker rotated its key), at most once per cooldown.
 */
export function createMediaTokenVerifier(options: { workerUrl: string; nodeId: string }): MediaTokenVerifier {
  const keys = createRemoteJWKSet(new URL("/.well-known/jwks.json", options.workerUrl), {
    cacheMaxAge: 10 * 60_000,
    cooldownDuration: 10_000,
    timeoutDuration: 5_000,
  });
  return {
    async verify(token, classId) {
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: ["ES256"],
          issuer: MEDIA_TOKEN_ISSUER,
          audience: options.nodeId,
          requiredClaims: ["exp", "sub"],
        }));
      } catch (error) {
        // The Worker's key set could not be fetched: the token may be fine, so the client should retry.
        if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
          throw new MediaError("UNAVAILABLE", "Media tokens cannot be checked right now; try again shortly");
        }
        throw new MediaError("UNAUTHORIZED", describeJoseError(error));
      }
      const claims = v.safeParse(MediaTokenClaimsSchema, payload);
      if (!claims.success) throw new MediaError("UNAUTHORIZED", "The media token's claims are malformed");
      if (claims.output.exp > Math.floor(Date.now() / 1000) + MEDIA_TOKEN_MAX_LIFETIME_SECONDS) {
        throw new MediaError("UNAUTHORIZED", "The media token lives longer than a media token may");
      }
      if (claims.output.classId !== classId) throw new MediaError("FORBIDDEN", "The media token is for another class");
      return claims.output;
    },
  };
}

/** A message that says what was wrong without echoing the token. */
function describeJoseError(error: joseErrors.JOSEError): string {
  if (error instanceof joseErrors.JWTExpired) return "The media token has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The media token's "${error.claim}" claim is not valid here`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "The media token was not signed by a key the Worker publishes";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The media token's signature is not valid";
  return "The media token is not valid";
}
