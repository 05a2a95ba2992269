/**
 * What starting one more sfu-node against a local stack takes, for the multi-region world (region-nodes.ts) and the
 * e2e tests' extra nodes: a key of its own enrolled with the Worker, then waiting until the node has registered.
 */
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import * as v from "valibot";
import { type NodePrivateJwk, NodePrivateJwkSchema, nodePublicJwk } from "../../schema/tokens/node-token";
import { readDevVars } from "./dev-vars-file";

const repoRoot = path.resolve(import.meta.dirname, "../..");

/** A new node key (ES256, private JWK). */
export async function newNodeKey(): Promise<NodePrivateJwk> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return v.parse(NodePrivateJwkSchema, await exportJWK(privateKey));
}

/** Enrols `key`'s public half for `nodeId` with the Worker at `baseUrl`, with FLEET_ENROLMENT_SECRET of .dev.vars. */
export async function enrolNodeKey(baseUrl: string, nodeId: string, key: NodePrivateJwk): Promise<void> {
  const secret = readDevVars(repoRoot).get("FLEET_ENROLMENT_SECRET");
  if (!secret) throw new Error(".dev.vars has no FLEET_ENROLMENT_SECRET (scripts/dev-vars.ts writes it)");
  const enrol = await fetch(`${baseUrl}/api/fleet/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ nodeId, publicKey: nodePublicJwk(key) }),
  });
  if (!enrol.ok) throw new Error(`enrolling ${nodeId} failed: ${enrol.status} ${await enrol.text()}`);
}

/**
 * Resolves once the node at `httpUrl` says (its `/health`) that it registered with the Worker, which only then
 * sends anyone to it; rejects when `exited()` says its process has gone, or after `timeoutMs`.
 */
export async function untilRegistered(httpUrl: string, nodeId: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error(`sfu-node ${nodeId} exited before it registered`);
    try {
      const health = (await (await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { fleet?: string };
      if (health.fleet === "registered") return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`sfu-node ${nodeId} did not register within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
