/**
 * Node keys for the SFU fleet (README, "Fleet identity"). Every sfu-node signs its requests to the Worker with
 * its own ES256 key; an operator enrols the public half for the node's id once.
 *
 *   npx tsx scripts/fleet-key.ts generate [--out FILE]
 *       A new private key (a P-256 JWK, one line): the node's SFU_NODE_KEY. Written to FILE (mode 600) or
 *       printed; the public key and its kid go to stderr. Run it on the node: the private key never leaves it.
 *   npx tsx scripts/fleet-key.ts public --key-file FILE
 *       The public JWK of a private key file (what `enrol` takes), and its kid.
 *   npx tsx scripts/fleet-key.ts enrol --worker URL --node ID (--public-key JSON | --key-file FILE)
 *   npx tsx scripts/fleet-key.ts list --worker URL [--node ID]
 *   npx tsx scripts/fleet-key.ts revoke --worker URL --kid KID
 *       Operators' calls to the Worker, with FLEET_ENROLMENT_SECRET from the environment.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import * as v from "valibot";
import { FleetKeyResponseSchema, FleetKeysResponseSchema, type FleetKeyView } from "../schema/protocol/fleet";
import { nodeKeyId, NodePrivateJwkSchema, NodePublicJwkSchema, nodePublicJwk, type NodePublicJwk } from "../schema/tokens/node-token";

const USAGE =
  "usage: fleet-key.ts generate [--out FILE] | public --key-file FILE | enrol --worker URL --node ID (--public-key JSON | --key-file FILE) | list --worker URL [--node ID] | revoke --worker URL --kid KID";

function fail(message: string): never {
  process.stderr.write(`fleet-key: ${message}\n`);
  process.exit(2);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: "string" },
    "key-file": { type: "string" },
    "public-key": { type: "string" },
    worker: { type: "string" },
    node: { type: "string" },
    kid: { type: "string" },
  },
});

function readPrivateKey(file: string) {
  const parsed = v.safeParse(NodePrivateJwkSchema, JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) fail(`${file} is not a node private key (an EC P-256 JWK with d)`);
  return parsed.output;
}

function publicKeyArgument(): NodePublicJwk {
  if (values["key-file"]) return nodePublicJwk(readPrivateKey(values["key-file"]));
  if (!values["public-key"]) fail("enrol needs --public-key JSON or --key-file FILE");
  const parsed = v.safeParse(NodePublicJwkSchema, JSON.parse(values["public-key"]));
  if (!parsed.success) fail("--public-key must be the node's public JWK (kty EC, crv P-256, x, y; no d)");
  return parsed.output;
}

/** One call to the Worker's key routes; a refusal stops with the Worker's own message. */
async function callWorker<T>(method: "GET" | "POST" | "DELETE", path: string, schema: v.GenericSchema<unknown, T>, body?: unknown): Promise<T> {
  if (!values.worker) fail("--worker URL is required (the Worker's origin, e.g. https://live.insp.example)");
  const secret = process.env.FLEET_ENROLMENT_SECRET;
  if (!secret) fail("FLEET_ENROLMENT_SECRET must be set in the environment (the Worker's secret of that name)");
  const response = await fetch(new URL(path, values.worker), {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) fail(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return v.parse(schema, JSON.parse(text));
}

const describeKey = (key: FleetKeyView) =>
  `${key.nodeId}\t${key.kid}\tenrolled ${new Date(key.enrolledAt).toISOString()}${key.revokedAt === null ? "" : `\trevoked ${new Date(key.revokedAt).toISOString()}`}`;

switch (positionals[0]) {
  case "generate": {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = v.parse(NodePrivateJwkSchema, await exportJWK(privateKey));
    const line = JSON.stringify(jwk);
    if (values.out) {
      // Never over an existing key: it may be the one enrolled, and the node would lose its identity.
      if (existsSync(values.out)) fail(`${values.out} exists; keep it, or move it away to make a new key`);
      writeFileSync(values.out, `${line}\n`, { mode: 0o600, flag: "wx" });
    } else process.stdout.write(`${line}\n`);
    process.stderr.write(`public key: ${JSON.stringify(nodePublicJwk(jwk))}\nkid: ${await nodeKeyId(jwk)}\n`);
    break;
  }
  case "public": {
    if (!values["key-file"]) fail("public needs --key-file FILE");
    const jwk = readPrivateKey(values["key-file"]);
    process.stdout.write(`${JSON.stringify(nodePublicJwk(jwk))}\n`);
    process.stderr.write(`kid: ${await nodeKeyId(jwk)}\n`);
    break;
  }
  case "enrol": {
    if (!values.node) fail("enrol needs --node ID (the node's SFU_NODE_ID)");
    const { key } = await callWorker("POST", "/api/fleet/keys", FleetKeyResponseSchema, { nodeId: values.node, publicKey: publicKeyArgument() });
    process.stdout.write(`${describeKey(key)}\n`);
    break;
  }
  case "list": {
    const query = values.node ? `?nodeId=${encodeURIComponent(values.node)}` : "";
    const { keys } = await callWorker("GET", `/api/fleet/keys${query}`, FleetKeysResponseSchema);
    for (const key of keys) process.stdout.write(`${describeKey(key)}\n`);
    break;
  }
  case "revoke": {
    if (!values.kid) fail("revoke needs --kid KID (from list)");
    const { key } = await callWorker("DELETE", `/api/fleet/keys/${encodeURIComponent(values.kid)}`, FleetKeyResponseSchema);
    process.stdout.write(`${describeKey(key)}\n`);
    break;
  }
  default:
    fail(USAGE);
}
