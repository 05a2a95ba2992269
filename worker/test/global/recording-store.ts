import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { storedSource } from "../recording-store-bytes.ts";

/**
 * Stands in for the public recordings bucket (S3_PUBLIC_URL of the sfu-node): a real HTTP server on loopback that
 * answers GET of any `…/source.mp4` with {@link storedSource}, honouring a single `Range: bytes=a-b`, and 404
 * otherwise. The Worker under test streams recording downloads from it.
 */

declare module "vitest" {
  interface ProvidedContext {
    /** The bucket's public base URL; an object's URL is `<base>/<key>`. */
    recordingStoreUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const body = Buffer.from(storedSource());
  const server = createServer((request, response) => {
    if (request.method !== "GET" || !request.url?.endsWith("/source.mp4")) {
      response.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1);
      response
        .writeHead(206, { "content-type": "video/mp4", "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${body.length}` })
        .end(body.subarray(start, end + 1));
      return;
    }
    response.writeHead(200, { "content-type": "video/mp4", "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  project.provide("recordingStoreUrl", `http://127.0.0.1:${port}/insp-live-recordings`);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
