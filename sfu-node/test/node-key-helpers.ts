import type { IncomingMessage } from "node:http";
import { exportJWK, generateKeyPair, importJWK, jwtVerify } from "jose";
import * as v from "valibot";
import { NODE_TOKEN_TYPE, NodePrivateJwkSchema, nodePublicJwk, NodeTokenClaimsSchema } from "../../schema/tokens/node-token";
import { NodeIdentity } from "../src/fleet-auth";

/**
 * A node key as `scripts/fleet-key.ts generate` makes it, the node's identity built from it, and the check a
 * Worker stand-in runs on each request: signed by this key, for that Worker's origin, for this method and path.
 */
export async function testNodeKey(nodeId: string, workerUrl: string) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const nodeKey = v.parse(NodePrivateJwkSchema, await exportJWK(privateKey));
  const identity = await NodeIdentity.load({ nodeId, workerUrl, nodeKey });
  const publicKey = await importJWK({ ...nodePublicJwk(nodeKey), alg: "ES256" }, "ES256");
  const audience = new URL(workerUrl).origin;
  return {
    nodeKey,
    identity,
    /** The node id the request's token proves, or null when the token is missing or not this key's for it. */
    async verify(request: IncomingMessage): Promise<string | null> {
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
      if (!token) return null;
      try {
        const { payload } = await jwtVerify(token, publicKey, { algorithms: ["ES256"], typ: NODE_TOKEN_TYPE, audience });
        const claims = v.parse(NodeTokenClaimsSchema, payload);
        const path = new URL(request.url ?? "/", "http://worker").pathname;
        return claims.htm === request.method && claims.htu === path ? claims.sub : null;
      } catch {
        return null;
      }
    },
  };
}
