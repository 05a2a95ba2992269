/**
 * One class across two media servers: two more sfu-nodes next to the stack's own, one "in" eu-west and one "in"
 * ap-southeast (each with its own port window, key and region), a teacher placed in eu-west and a student in
 * ap-southeast (`?region=`, honoured in local development only). Each gets the node of their region, and they see
 * each other through a pipe between the two nodes that the class object sets up.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readDevVars } from "../scripts/lib/dev-vars-file";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, type IdentifiedPerson, openMediaPerson } from "./lib/live-class";
import { cameraAt } from "./lib/media-faults";
import type { PagePeerConnection } from "./lib/peer-connections";
import { newPerson, type SsoPerson } from "./lib/sso";
import { freePort } from "./lib/wrangler-dev";

const baseUrl = inject("baseUrl");
const repoRoot = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const MEDIA_TIMEOUT_MS = 30_000;

interface ExtraNode {
  id: string;
  httpUrl: string;
  process: ChildProcess;
}

/** Generates and enrols a key for `id`, starts an sfu-node for `region` and waits until it is registered. */
async function startNode(id: string, region: string, rtcBase: number, keyDir: string): Promise<ExtraNode> {
  const keyFile = path.join(keyDir, `${id}.key.json`);
  await run("npx", ["tsx", "scripts/fleet-key.ts", "generate", "--out", keyFile], { cwd: repoRoot });
  const secret = readDevVars(repoRoot).get("FLEET_ENROLMENT_SECRET") ?? "";
  await run("npx", ["tsx", "scripts/fleet-key.ts", "enrol", "--worker", baseUrl, "--node", id, "--key-file", keyFile], {
    cwd: repoRoot,
    env: { ...process.env, FLEET_ENROLMENT_SECRET: secret },
  });
  const port = await freePort();
  const child = spawn("npx", ["tsx", "sfu-node/src/main.ts"], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      SFU_PORT: String(port),
      SFU_LISTEN_HOST: "127.0.0.1",
      SFU_REGION: region,
      SFU_NODE_ID: id,
      SFU_WORKERS: "1",
      SFU_WEBRTC_SERVER_PORT: String(rtcBase),
      SFU_RTC_PORT_MIN: String(rtcBase + 10),
      SFU_RTC_PORT_MAX: String(rtcBase + 99),
      SFU_RECORDING_PORT_MIN: String(rtcBase + 100),
      SFU_RECORDING_PORT_MAX: String(rtcBase + 199),
      SFU_RECORDING_DIR: path.join(keyDir, `${id}-recordings`),
      SFU_LOG_LEVEL: "warn",
      WORKER_URL: baseUrl,
      SFU_NODE_KEY_FILE: keyFile,
    },
  });
  const node = { id, httpUrl: `http://127.0.0.1:${port}`, process: child };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const health = (await (await fetch(`${node.httpUrl}/health`)).json()) as { fleet?: string };
      if (health.fleet === "registered") return node;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  stopNode(node);
  throw new Error(`sfu-node ${id} did not register within 60 s`);
}

function stopNode(node: ExtraNode): void {
  try {
    process.kill(-node.process.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

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

describe("one class across two media servers", () => {
  let browser: Browser;
  let teacher: IdentifiedPerson;
  let student: IdentifiedPerson;
  let classId: string;
  let keyDir: string;
  const nodes: ExtraNode[] = [];

  const open = (person: SsoPerson) => openMediaPerson(browser, baseUrl, person);

  beforeAll(async () => {
    keyDir = mkdtempSync(path.join(tmpdir(), "e2e-cascade-"));
    // Below the stack's own windows (20000 and up, by its port), so parallel stacks do not collide either, and
    // above 10080: Chromium refuses some lower ports (5060, 6000, 6665-6669, ...) for WebRTC too.
    const window = 11_000 + (Number(new URL(baseUrl).port) % 22) * 400;
    nodes.push(await startNode("e2e-eu", "eu-west", window, keyDir));
    nodes.push(await startNode("e2e-sg", "ap-southeast", window + 200, keyDir));
    browser = await launchBrowser();
    teacher = await open(newPerson("teacher", "Tara Teacher"));
    student = await open(newPerson("student", "Sam Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Physics across regions", startsAt: Date.now() + 5 * 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const node of nodes) stopNode(node);
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
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
