/**
 * One class across three media servers: three more sfu-nodes next to the stack's own, "in" eu-west, ap-southeast
 * and us-east (each with its own port window, key and region), a teacher placed in eu-west, a student in
 * ap-southeast and another in us-east (`?region=`, honoured in local development only). Each gets the node of their
 * region, and they see and hear each other through pipes between the nodes that the class object sets up.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { type ExtraNode, startExtraNode } from "./lib/extra-node";
import { createClassWithStudents, type IdentifiedPerson, openMediaPerson } from "./lib/live-class";
import { cameraAt, microphoneAt } from "./lib/media-faults";
import type { PagePeerConnection } from "./lib/peer-connections";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
const MEDIA_TIMEOUT_MS = 30_000;

/** One sample of the node's Prometheus `/metrics`, by its full name with labels (0 when absent). */
async function metric(node: ExtraNode, sample: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

async function decodedFrames(page: Page, userId: string): Promise<number> {
  return (await cameraAt(page, userId))?.framesDecoded ?? 0;
}

interface PageWindow {
  document: { querySelector(selector: string): { srcObject: { getTracks(): { id: string }[] } | null } | null };
  __e2ePeerConnections: PagePeerConnection[];
}

/** Height of the last frame the page decoded of `userId`'s camera: which simulcast layer arrives (0: none yet). */
async function decodedHeight(page: Page, userId: string): Promise<number> {
  return page.evaluate(async (userId) => {
    const page = globalThis as unknown as PageWindow;
    const track = page.document.querySelector(`[data-testid="media-tile"][data-user-id="${userId}"][data-source="video"] video`)?.srcObject?.getTracks()[0];
    let height = 0;
    for (const connection of page.__e2ePeerConnections) {
      if (!track || connection.connectionState === "closed") continue;
      (await connection.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp" && report.trackIdentifier === track.id) height = Number(report.frameHeight ?? 0);
      });
    }
    return height;
  }, userId);
}

describe("one class across three media servers", () => {
  let browser: Browser;
  let teacher: IdentifiedPerson;
  let student: IdentifiedPerson;
  let third: IdentifiedPerson;
  let classId: string;
  const nodes: ExtraNode[] = [];

  const open = (person: SsoPerson) => openMediaPerson(browser, baseUrl, person);

  beforeAll(async () => {
    // Below the stack's own windows (20000 and up, by its port), so parallel stacks do not collide either, and
    // above 10080: Chromium refuses some lower ports (5060, 6000, 6665-6669, ...) for WebRTC too.
    const window = 11_000 + (Number(new URL(baseUrl).port) % 7) * 1_200;
    const quiet = { SFU_WORKERS: "1", SFU_LOG_LEVEL: "warn" };
    nodes.push(await startExtraNode(baseUrl, "e2e-eu", "eu-west", window, quiet));
    nodes.push(await startExtraNode(baseUrl, "e2e-sg", "ap-southeast", window + 400, quiet));
    nodes.push(await startExtraNode(baseUrl, "e2e-us", "us-east", window + 800, quiet));
    browser = await launchBrowser();
    teacher = await open(newPerson("teacher", "Tara Teacher"));
    student = await open(newPerson("student", "Sam Student"));
    third = await open(newPerson("student", "Uma Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [student, third], { title: "Physics across regions", startsAt: Date.now() + 5 * 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const node of nodes) await node.stop();
  });

  it("a teacher in eu-west and a student in ap-southeast each get their region's node and see each other", { timeout: 120_000 }, async () => {
    const [eu, sg] = nodes as [ExtraNode, ExtraNode];
    await teacher.page.goto(`/classes/${classId}/live?region=eu-west`);
    await student.page.goto(`/classes/${classId}/live?region=ap-southeast`);
    for (const who of [teacher, student]) await who.page.getByRole("heading", { name: "Physics across regions", level: 1 }).waitFor();

    // The student decodes the teacher's camera, sent from the teacher's node to the student's through a pipe.
    await expect.poll(() => decodedFrames(student.page, teacher.userId), { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
    expect(await metric(eu, "sfu_peers")).toBe(1);
    expect(await metric(sg, "sfu_peers")).toBe(1);
    expect(await metric(eu, `sfu_pipe_transports{peer_node="e2e-sg"}`)).toBe(1);
    expect(await metric(sg, `sfu_piped_producers_received{peer_node="e2e-eu"}`)).toBeGreaterThanOrEqual(1);

    // On stage, the student's camera goes the other way through the same pipe pair, and the teacher sees them.
    await teacher.page.getByRole("tab", { name: /^People/ }).click();
    await teacher.page.getByRole("button", { name: "Invite Sam Student to stage" }).click();
    await student.page.getByRole("button", { name: "Join the stage" }).click();
    await expect.poll(() => decodedFrames(teacher.page, student.userId), { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
    expect(await metric(eu, `sfu_piped_producers_received{peer_node="e2e-sg"}`)).toBeGreaterThanOrEqual(1);
    expect(await metric(eu, `sfu_pipe_transports{peer_node="e2e-sg"}`)).toBe(1);
  });

  it("a third student in us-east gets a third node, sees and hears the teacher and sees the student on stage, each through its own pipe", {
    timeout: 120_000,
  }, async () => {
    const us = nodes[2]!;
    await third.page.goto(`/classes/${classId}/live?region=us-east`);
    await third.page.getByRole("heading", { name: "Physics across regions", level: 1 }).waitFor();

    // The teacher's camera comes from eu-west's node, the student on stage's from ap-southeast's.
    await expect.poll(() => decodedFrames(third.page, teacher.userId), { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
    await expect.poll(() => decodedFrames(third.page, student.userId), { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
    // The teacher's microphone keeps arriving (two readings, the second higher).
    await expect
      .poll(async () => (await microphoneAt(third.page, teacher.userId))?.packetsReceived ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    const heard = (await microphoneAt(third.page, teacher.userId))!;
    await expect
      .poll(async () => ((await microphoneAt(third.page, teacher.userId))?.totalSamplesReceived ?? 0) > heard.totalSamplesReceived, {
        timeout: MEDIA_TIMEOUT_MS,
        interval: 250,
      })
      .toBe(true);
    expect(await metric(us, "sfu_peers")).toBe(1);
    expect(await metric(us, `sfu_piped_producers_received{peer_node="e2e-eu"}`)).toBeGreaterThanOrEqual(2);
    expect(await metric(us, `sfu_piped_producers_received{peer_node="e2e-sg"}`)).toBeGreaterThanOrEqual(1);
  });

  it("the student on the other node still switches simulcast layers of the teacher's camera (every layer crosses the pipe)", { timeout: 90_000 }, async () => {
    // A phone-sized window: the teacher's tile is small, so the smallest layer (320×180) is enough; a large one
    // brings a bigger layer back. Both come through the piped copy on the student's node.
    await student.page.setViewportSize({ width: 360, height: 740 });
    await expect
      .poll(
        async () => {
          const height = await decodedHeight(student.page, teacher.userId);
          return height > 0 && height <= 180;
        },
        { timeout: MEDIA_TIMEOUT_MS, interval: 250 },
      )
      .toBe(true);
    await student.page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(() => decodedHeight(student.page, teacher.userId), { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(180);
  });
});
