import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaClient, startIssuer, startTestNode, type TestIssuer, type TestNode } from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;
const squatter = dgram.createSocket("udp4");

beforeAll(async () => {
  // Something else holds the worker's WebRtcServer port.
  await new Promise<void>((resolve) => squatter.bind(41700, "127.0.0.1", resolve));
  issuer = await startIssuer(8845);
  sfu = await startTestNode({ httpPort: 8841, rtcBase: 41700, issuerUrl: issuer.url, workers: 1 });
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
  squatter.close();
});

describe("WebRtcServer port taken", () => {
  it("starts anyway and gives transports ports from the RTC range", async () => {
    expect(sfu.node.slots[0]!.webRtcServer).toBeUndefined();
    const client = await MediaClient.connect(
      sfu.mediaUrl("class-range", await issuer.sign("student-1", { classId: "class-range", role: "student", produce: [] })),
    );
    const transport = await client.call<{ iceCandidates: { port: number; protocol: string }[] }>("createWebRtcTransport", { direction: "recv" });
    expect(transport.iceCandidates.length).toBeGreaterThan(0);
    for (const candidate of transport.iceCandidates) {
      expect(candidate.port).toBeGreaterThanOrEqual(41710);
      expect(candidate.port).toBeLessThanOrEqual(41899);
    }
    await client.close();
  });
});
