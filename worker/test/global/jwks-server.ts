import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import type { TestProject } from "vitest/node";

/**
 * Stands in for the insp site's JWKS endpoint: a real HTTP server on loopback that publishes one RS256 and
 * one ES256 public key. The Worker under test fetches it through INSP_JWKS_URL; the tests sign tokens with
 * the matching private keys (handed over with `provide`), plus a key that is *not* published.
 */

declare module "vitest" {
  interface ProvidedContext {
    inspJwksUrl: string;
    /** Private JWKs (with kid and alg) the tests sign with: RS256 and ES256 published, the third not. */
    inspJwksPrivateKeys: { rs256: JWK; es256: JWK; unpublished: JWK };
  }
}

async function keyPair(alg: "RS256" | "ES256", kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const rs256 = await keyPair("RS256", "insp-rsa-1");
  const es256 = await keyPair("ES256", "insp-ec-1");
  const unpublished = await keyPair("ES256", "insp-ec-unpublished");
  const body = JSON.stringify({ keys: [rs256.publicJwk, es256.publicJwk] });

  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/.well-known/jwks.json") {
      response.writeHead(200, { "content-type": "application/json" }).end(body);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  project.provide("inspJwksUrl", `http://127.0.0.1:${port}/.well-known/jwks.json`);
  project.provide("inspJwksPrivateKeys", { rs256: rs256.privateJwk, es256: es256.privateJwk, unpublished: unpublished.privateJwk });
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
