import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import * as v from "valibot";
import {
  createNodeTokenSigner,
  type NodePrivateJwk,
  NodePrivateJwkSchema,
  type NodePublicJwk,
  nodePublicJwk,
  type NodeTokenSigner,
} from "../../schema/tokens/node-token";
import { app } from "../index";
import { ORIGIN } from "./helpers";

export const ENROLMENT_SECRET = "fleet-enrolment-test-secret-0123456789";
/** The Worker's environment with FLEET_ENROLMENT_SECRET set, as a deployment with a fleet has it. */
export const fleetEnv = { ...env, FLEET_ENROLMENT_SECRET: ENROLMENT_SECRET };

/** One node's key pair, as `scripts/fleet-key.ts generate` makes it, and the tokens it signs. */
export interface TestNodeKey {
  nodeId: string;
  kid: string;
  publicKey: NodePublicJwk;
  signer: NodeTokenSigner;
  /** `Bearer <node token>` for one request (`path` without the query), as the sfu-node sends it. */
  authorization(
    method: "GET" | "POST",
    path: string,
    overrides?: { audience?: string; nodeId?: string; lifetimeSeconds?: number; now?: number },
  ): Promise<string>;
}

/** A fresh key pair for `nodeId`, not enrolled. */
export async function newNodeKey(nodeId: string): Promise<TestNodeKey> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk: NodePrivateJwk = v.parse(NodePrivateJwkSchema, await exportJWK(privateKey));
  const signer = await createNodeTokenSigner(jwk);
  return {
    nodeId,
    kid: signer.kid,
    publicKey: nodePublicJwk(jwk),
    signer,
    authorization: async (method, path, overrides = {}) =>
      `Bearer ${await signer.sign({ nodeId: overrides.nodeId ?? nodeId, audience: overrides.audience ?? ORIGIN, method, path }, overrides)}`,
  };
}

/** `POST /api/fleet/keys` with the enrolment secret (or `authorization`). */
export function enrolRequest(nodeId: string, publicKey: unknown, authorization = `Bearer ${ENROLMENT_SECRET}`) {
  return app.request(
    "/api/fleet/keys",
    { method: "POST", headers: { "content-type": "application/json", authorization }, body: JSON.stringify({ nodeId, publicKey }) },
    fleetEnv,
  );
}

/** Enrols `key` through the operators' route (again: a no-op), so it holds whatever storage a test starts with. */
export async function enrol(key: TestNodeKey): Promise<TestNodeKey> {
  const response = await enrolRequest(key.nodeId, key.publicKey);
  if (response.status !== 201 && response.status !== 200) throw new Error(`enrolment refused: ${response.status} ${await response.text()}`);
  return key;
}

/** A new key for `nodeId`, enrolled through the operators' route. */
export async function enrolledNode(nodeId: string): Promise<TestNodeKey> {
  return enrol(await newNodeKey(nodeId));
}

/** A signed node → Worker POST, as the sfu-node sends it. */
export async function nodePost(key: TestNodeKey, path: string, body: unknown, authorization?: string) {
  return app.request(
    path,
    {
      method: "POST",
      headers: { "content-type": "application/json", authorization: authorization ?? (await key.authorization("POST", path)) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    },
    fleetEnv,
  );
}
