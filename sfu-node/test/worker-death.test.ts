import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerSlot } from "../src/Node";
import { eventually, MediaClient, startIssuer, startTestNode, type TestIssuer, type TestNode } from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;

beforeAll(async () => {
  issuer = await startIssuer(8846);
  sfu = await startTestNode({ httpPort: 8844, rtcBase: 41400, issuerUrl: issuer.url });
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
});

const grant = (classId: string) => ({ classId, role: "student" as const, produce: [] });

describe("a media worker that dies", () => {
  it("is replaced, and the peers of rooms on it are told to reconnect", async () => {
    const onDoomed = await MediaClient.connect(sfu.mediaUrl("class-doomed", await issuer.sign("student-1", grant("class-doomed"))));
    await onDoomed.call("createWebRtcTransport", { direction: "recv" });
    const doomedRoom = sfu.node.rooms.get("class-doomed")!;
    const slotIndex = doomedRoom.routers.keys().next().value!;

    // Another class whose routers are on the other worker must not notice.
    const onOther = await MediaClient.connect(sfu.mediaUrl("class-safe", await issuer.sign("student-2", grant("class-safe"))));
    await onOther.call("createWebRtcTransport", { direction: "recv" });
    expect([...sfu.node.rooms.get("class-safe")!.routers.keys()]).not.toContain(slotIndex);

    const oldPid = sfu.node.slots[slotIndex]!.worker.pid;
    const replaced = new Promise<[WorkerSlot, number]>((resolve) => sfu.node.once("workerReplaced", (slot, previousPid) => resolve([slot, previousPid])));
    process.kill(oldPid, "SIGKILL");

    const reconnect = await onDoomed.waitFor((n) => n.notification === "reconnect");
    expect(reconnect.data).toEqual({ reason: "worker-died" });
    expect((await onDoomed.closed).code).toBe(4010);
    expect(sfu.node.rooms.has("class-doomed")).toBe(false);

    const [slot, previousPid] = await replaced;
    expect(previousPid).toBe(oldPid);
    expect(slot.index).toBe(slotIndex);
    expect(slot.worker.pid).not.toBe(oldPid);
    expect(slot.webRtcServer).toBeDefined();
    expect(sfu.node.slots[slotIndex]).toBe(slot);

    expect(onOther.isOpen).toBe(true);
    expect(onOther.notifications.some((n) => n.notification === "reconnect")).toBe(false);

    // The class can rejoin at once, and the replacement worker takes rooms again.
    const rejoined = await MediaClient.connect(sfu.mediaUrl("class-doomed", await issuer.sign("student-1", grant("class-doomed"))));
    const transport = await rejoined.call<{ iceCandidates: { port: number }[] }>("createWebRtcTransport", { direction: "recv" });
    expect(transport.iceCandidates.length).toBeGreaterThan(0);
    await eventually(
      async () => {
        const health = (await (await fetch(`${sfu.httpUrl}/health`)).json()) as { workers: number };
        return health.workers === 2;
      },
      5_000,
      "both workers healthy",
    );
    expect(await (await fetch(`${sfu.httpUrl}/metrics`)).text()).toMatch(/^sfu_worker_restarts_total 1$/m);
    await rejoined.close();
    await onOther.close();
  });
});
