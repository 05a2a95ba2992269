import { createNodeTokenSigner, type NodePrivateJwk, type NodeTokenSigner } from "../../schema/tokens/node-token";

/**
 * This node's identity towards the Worker: its id and its own private key (`SFU_NODE_KEY`), whose public half an
 * operator enrolled for that id. Every request to the Worker carries a fresh single-use token from
 * {@link authorization}; no secret shared with other nodes is involved, so this node's key can never speak for
 * another node.
 */
export class NodeIdentity {
  readonly nodeId: string;
  readonly #audience: string;
  readonly #signer: NodeTokenSigner;

  private constructor(nodeId: string, audience: string, signer: NodeTokenSigner) {
    this.nodeId = nodeId;
    this.#audience = audience;
    this.#signer = signer;
  }

  /** Imports the key; `workerUrl` is the Worker's origin, which every token names as its audience. */
  static async load(options: { nodeId: string; workerUrl: string; nodeKey: NodePrivateJwk }): Promise<NodeIdentity> {
    return new NodeIdentity(options.nodeId, new URL(options.workerUrl).origin, await createNodeTokenSigner(options.nodeKey));
  }

  /** The key's id (its thumbprint), as `GET /api/fleet/keys` lists it: what an operator revokes. */
  get kid(): string {
    return this.#signer.kid;
  }

  /** `Bearer <token>` for one request to `url` (a URL on the Worker's origin). */
  async authorization(method: "GET" | "POST", url: string | URL): Promise<string> {
    const { pathname } = new URL(url);
    return `Bearer ${await this.#signer.sign({ nodeId: this.nodeId, audience: this.#audience, method, path: pathname })}`;
  }

  /** POSTs `body` as JSON to `url` with a token for it, given up after `timeoutMs`. */
  async post(url: string, body: unknown, timeoutMs: number): Promise<Response> {
    return fetch(url, {
      method: "POST",
      headers: { authorization: await this.authorization("POST", url), "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }
}
