import http from "node:http";
import type { AddressInfo } from "node:net";
import { log } from "./log";
import type { MediaTokenVerifier } from "./media-token";
import { CpuSampler, renderMetrics } from "./metrics";
import type { MediaNode } from "./Node";
import { SignalingServer } from "./signaling";

export interface SfuServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly signaling: SignalingServer;
  close(): Promise<void>;
}

/**
 * The node's one HTTP server: the media signaling WebSocket at `/media/<classId>`, Prometheus text at
 * `/metrics`, and `/health` (200 while at least one media worker runs, 503 otherwise; `fleet` says whether the
 * node is registered with the Worker, so a start script can wait for it).
 */
export async function startSfuServer(options: {
  node: MediaNode;
  verifier: MediaTokenVerifier;
  host: string;
  port: number;
  region: string;
  fleetStatus?: () => "registered" | "registering" | "disabled";
}): Promise<SfuServer> {
  const { node } = options;
  const signaling = new SignalingServer({ node, verifier: options.verifier });
  const sampler = new CpuSampler(node);
  let workerRestarts = 0;
  node.on("workerReplaced", () => {
    workerRestarts += 1;
  });

  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://node").pathname;
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    if (request.method !== "GET" && request.method !== "HEAD") return json(405, { error: { code: "INVALID_MESSAGE", message: "Only GET is served here" } });
    if (path === "/health") {
      const workers = node.slots.filter((slot) => !slot.worker.closed && !slot.worker.died).length;
      return json(workers > 0 ? 200 : 503, {
        status: workers > 0 ? "ok" : "down",
        nodeId: node.nodeId,
        region: options.region,
        workers,
        rooms: node.rooms.size,
        fleet: options.fleetStatus?.() ?? "disabled",
      });
    }
    if (path === "/metrics") {
      renderMetrics(node, sampler, workerRestarts).then(
        (text) => {
          response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
          response.end(text);
        },
        (error) => {
          log("error", "metrics_failed", { error: String(error) });
          json(500, { error: { code: "INTERNAL", message: "Metrics are not available right now" } });
        },
      );
      return;
    }
    json(404, { error: { code: "NOT_FOUND", message: `No route ${path}` } });
  });

  server.on("upgrade", (request, socket, head) => {
    if (!SignalingServer.handles(request)) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":{"code":"NOT_FOUND","message":"Media signaling is at /media/<classId>"}}',
      );
      return;
    }
    signaling.handleUpgrade(request, socket, head).catch((error) => {
      log("error", "upgrade_failed", { error: String(error) });
      socket.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log("info", "http_listening", { host: options.host, port });

  return {
    port,
    signaling,
    close: () =>
      new Promise<void>((resolve) => {
        signaling.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
