import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";

const minimal = { WORKER_URL: "http://127.0.0.1:8787", SFU_LISTEN_HOST: "127.0.0.1" };

describe("sfu-node configuration", () => {
  it("starts from the Worker URL alone on a loopback address, one worker per core", () => {
    const config = loadConfig(minimal);
    expect(config.workers).toBe(os.availableParallelism());
    expect(config.region).toBe("local");
    expect(config.consumersPerRouter).toBe(400);
    expect(config.publicUrl).toBe("http://127.0.0.1:8840");
    expect(config.nodeKey).toBeUndefined();
  });

  it("gives other nodes the pipe address it is told, else the address browsers get, else the listen address", () => {
    expect(loadConfig(minimal).pipeAnnouncedAddress).toBe("127.0.0.1");
    expect(loadConfig({ ...minimal, SFU_ANNOUNCED_ADDRESS: "203.0.113.7" }).pipeAnnouncedAddress).toBe("203.0.113.7");
    expect(loadConfig({ ...minimal, SFU_ANNOUNCED_ADDRESS: "203.0.113.7", SFU_PIPE_ANNOUNCED_ADDRESS: "10.1.2.3" }).pipeAnnouncedAddress).toBe("10.1.2.3");
    expect(() => loadConfig({ ...minimal, SFU_PIPE_ANNOUNCED_ADDRESS: "x".repeat(254) })).toThrow(/^SFU_PIPE_ANNOUNCED_ADDRESS: /);
  });

  it("names a missing setting", () => {
    expect(() => loadConfig({ SFU_LISTEN_HOST: "127.0.0.1" })).toThrow(new ConfigError("WORKER_URL is required but not set"));
  });

  it("names a bad setting", () => {
    expect(() => loadConfig({ ...minimal, SFU_PORT: "http" })).toThrow(/^SFU_PORT: /);
    expect(() => loadConfig({ ...minimal, SFU_WORKERS: "0" })).toThrow(/^SFU_WORKERS: /);
    expect(() => loadConfig({ ...minimal, SFU_REGION: "EU West" })).toThrow(/^SFU_REGION: /);
    expect(() => loadConfig({ ...minimal, SFU_RTC_PORT_MIN: "50000", SFU_RTC_PORT_MAX: "40000" })).toThrow(/SFU_RTC_PORT_MIN/);
  });

  it("takes the node's own key, refuses a malformed or public-only one, and never echoes it", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(privateKey);
    expect(loadConfig({ ...minimal, SFU_NODE_KEY: JSON.stringify(jwk) }).nodeKey).toEqual({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d });
    const { d, ...publicOnly } = jwk;
    for (const bad of [JSON.stringify(publicOnly), `{"kty":"EC","d":"${d}"`, "not json"]) {
      let message = "";
      try {
        loadConfig({ ...minimal, SFU_NODE_KEY: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^SFU_NODE_KEY: /);
      expect(message).not.toContain(d!);
    }
  });

  it("reads the key from SFU_NODE_KEY_FILE, naming that setting when it cannot", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(privateKey);
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "sfu-config-")), "node.key.json");
    await writeFile(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
    expect(loadConfig({ ...minimal, SFU_NODE_KEY_FILE: file }).nodeKey?.d).toBe(jwk.d);
    expect(() => loadConfig({ ...minimal, SFU_NODE_KEY_FILE: `${file}.missing` })).toThrow(/^SFU_NODE_KEY_FILE: cannot read .*ENOENT/);
    expect(() => loadConfig({ ...minimal, SFU_NODE_KEY_FILE: file, SFU_NODE_KEY: JSON.stringify(jwk) })).toThrow(/^SFU_NODE_KEY_FILE: /);
  });

  it("tells an operator that the shared FLEET_CREDENTIAL is gone, without echoing it", () => {
    expect(() => loadConfig({ ...minimal, FLEET_CREDENTIAL: "the-old-shared-credential" })).toThrow(/^FLEET_CREDENTIAL: is no longer used.*SFU_NODE_KEY/);
    expect(() => loadConfig({ ...minimal, FLEET_CREDENTIAL: "the-old-shared-credential" })).not.toThrow(/the-old-shared-credential/);
  });

  it("requires an announced address when listening on every interface", () => {
    expect(() => loadConfig({ WORKER_URL: minimal.WORKER_URL })).toThrow(/^SFU_ANNOUNCED_ADDRESS: /);
    const config = loadConfig({ WORKER_URL: minimal.WORKER_URL, SFU_ANNOUNCED_ADDRESS: "203.0.113.7", SFU_WORKERS: "3", SFU_NODE_ID: "eu-1" });
    expect(config.publicUrl).toBe("http://203.0.113.7:8840");
    expect(config.workers).toBe(3);
    expect(config.nodeId).toBe("eu-1");
  });
});
