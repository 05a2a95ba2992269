/**
 * Glass-to-glass latency of the teacher's camera, same node and through a pipe between nodes (prints figures; not
 * a test).
 *
 *   npm run bench:glass                  # 30 s of frames per phase
 *   npm run bench:glass -- --seconds=60 --rounds=3   # each phase measured in 3 rounds (default 2), in turn
 *
 * Runs itself inside a loopback-only network namespace (scripts/lib/loopback-netns.sh: Chromium's WebRTC and the
 * stack must share one), starts the stack the way `npm start` does (scripts/start.sh, PORT 8864 or BENCH_PORT,
 * state in /tmp/glass-bench-state, its output in that directory's stack.log) and four more sfu-nodes "in" four
 * regions (scripts/lib/region-nodes.ts), with the test-only pipe delay (SFU_PIPE_DELAY_MS) between them:
 *
 *   g2g-eu (eu-west, the teacher's) ── 0 ms ── g2g-de (eu-central)
 *                                   ── 40 ms ── g2g-us (us-east)
 *                                   ── 110 ms ─ g2g-sg (ap-southeast)      (one way, each direction)
 *
 * The teacher's page (placed in eu-west with `?region=`) gets a camera whose every frame is a canvas painted with
 * the wall-clock time as a barcode (getUserMedia replaced by an init script, so the real web app publishes it:
 * simulcast, VP8, the usual path). A student's page, placed in one region per phase, reads the time out of every
 * frame of the teacher's video it presents (requestVideoFrameCallback on the app's <video>, drawn to a canvas)
 * and subtracts it from its own Date.now(): both pages run on this machine, on one clock. Frames whose check bits
 * do not match are counted, not used. Each phase: 5 s to settle, then the measured seconds.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, newUserContext } from "../e2e/lib/browser";
import { createClassWithStudents, openIdentifiedPerson } from "../e2e/lib/live-class";
import { type PagePeerConnection, registerPeerConnections } from "../e2e/lib/peer-connections";
import { newPerson } from "../e2e/lib/sso";
import { pipeDelaySettings, type RegionNode, startRegionNode } from "../scripts/lib/region-nodes";
import { startStack, stopStack } from "./lib/stack";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = Number(process.env.BENCH_PORT ?? 8864);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/glass-bench-state";
const SECONDS = Number(process.argv.find((arg) => arg.startsWith("--seconds="))?.split("=")[1] ?? 30);
const ROUNDS = Number(process.argv.find((arg) => arg.startsWith("--rounds="))?.split("=")[1] ?? 2);
const SETTLE_MS = 5_000;
const START_TIMEOUT_MS = 240_000;
const MEDIA_TIMEOUT_MS = 60_000;

if (process.env.INSP_LIVE_LOOPBACK_NETNS !== "1") {
  const result = spawnSync("bash", ["scripts/lib/loopback-netns.sh", "npx", "tsx", "bench/glass-to-glass.ts", ...process.argv.slice(2)], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}

/** The nodes, their regions and the one-way delay of each pipe from the teacher's node (ms). */
const TEACHER_NODE = { nodeId: "g2g-eu", region: "eu-west" };
const PHASES = [
  { name: "same node", nodeId: "g2g-eu", region: "eu-west", addedMs: null },
  { name: "another node, one pipe", nodeId: "g2g-de", region: "eu-central", addedMs: 0 },
  { name: "another node, one pipe", nodeId: "g2g-us", region: "us-east", addedMs: 40 },
  { name: "another node, one pipe", nodeId: "g2g-sg", region: "ap-southeast", addedMs: 110 },
] as const;

/** The stack as `npm start` runs it. */
function startBenchStack(): ReturnType<typeof startStack> {
  return startStack({ port: PORT, stateDir: STATE_DIR, logPath: path.join(STATE_DIR, "stack.log"), timeoutMs: START_TIMEOUT_MS });
}

/**
 * Runs in both pages before the app (an init script). The barcode: 40 cells in 8 columns × 5 rows over the whole
 * frame, black or white (big blocks survive VP8 at any simulcast layer): the low 32 bits of Date.now() and a CRC-8
 * of them. The teacher's page (`paint`) replaces the camera; a student's page (`readFrom`: the teacher's user id)
 * reads every presented frame of the teacher's video into `__glass` (latencies in ms, frames that failed the check).
 */
function barcodePage(options: { paint: boolean; readFrom: string | null }): void {
  const COLUMNS = 8;
  const ROWS = 5;
  const g = globalThis as unknown as Record<string, any>;
  const crc8 = (value: number) => {
    let crc = 0;
    for (let shift = 24; shift >= 0; shift -= 8) {
      crc ^= (value >>> shift) & 0xff;
      for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  };
  const bitsOf = (value: number) => {
    const bits: number[] = [];
    for (let i = 31; i >= 0; i--) bits.push((value >>> i) & 1);
    const check = crc8(value);
    for (let i = 7; i >= 0; i--) bits.push((check >> i) & 1);
    return bits;
  };

  if (options.paint) {
    const mediaDevices = g.navigator.mediaDevices;
    const original = mediaDevices.getUserMedia.bind(mediaDevices);
    mediaDevices.getUserMedia = async (constraints: { video?: unknown }) => {
      if (!constraints?.video) return original(constraints);
      const canvas = g.document.createElement("canvas");
      canvas.width = 1280;
      canvas.height = 720;
      const context = canvas.getContext("2d");
      const stream = canvas.captureStream(30);
      const track = stream.getVideoTracks()[0];
      const cellWidth = canvas.width / COLUMNS;
      const cellHeight = canvas.height / ROWS;
      // A frame is captured when the canvas changed (at most 30 a second), so a frame's stamp is the moment it was made.
      const timer = g.setInterval(() => {
        const bits = bitsOf((Date.now() % 4294967296) >>> 0);
        for (let i = 0; i < bits.length; i++) {
          context.fillStyle = bits[i] ? "#ffffff" : "#000000";
          context.fillRect((i % COLUMNS) * cellWidth, Math.floor(i / COLUMNS) * cellHeight, cellWidth, cellHeight);
        }
      }, 1000 / 30);
      track.addEventListener("ended", () => g.clearInterval(timer));
      return stream;
    };
  }

  const teacherId = options.readFrom;
  if (teacherId) {
    const glass = { latencies: [] as number[], unreadable: 0, heights: new Set<number>() };
    g.__glass = glass;
    const WIDTH = 160;
    const HEIGHT = 90;
    let canvas: any;
    let context: any;
    const seen = new WeakSet<object>();
    const watch = (video: any) => {
      const onFrame = (_now: number, metadata: { height: number }) => {
        const receivedAt = Date.now();
        if (!video.isConnected) return;
        canvas ??= g.document.createElement("canvas");
        canvas.width = WIDTH;
        canvas.height = HEIGHT;
        context ??= canvas.getContext("2d", { willReadFrequently: true });
        context.drawImage(video, 0, 0, WIDTH, HEIGHT);
        const { data } = context.getImageData(0, 0, WIDTH, HEIGHT);
        let value = 0;
        let check = 0;
        for (let i = 0; i < COLUMNS * ROWS; i++) {
          // The middle half of the cell, away from edges that compression smears.
          const x0 = Math.round(((i % COLUMNS) + 0.25) * (WIDTH / COLUMNS));
          const y0 = Math.round((Math.floor(i / COLUMNS) + 0.25) * (HEIGHT / ROWS));
          let sum = 0;
          let count = 0;
          for (let y = y0; y < y0 + HEIGHT / ROWS / 2; y++)
            for (let x = x0; x < x0 + WIDTH / COLUMNS / 2; x++) {
              sum += data[(y * WIDTH + x) * 4 + 1];
              count++;
            }
          const bit = sum / count > 128 ? 1 : 0;
          if (i < 32) value = (value * 2 + bit) >>> 0;
          else check = (check << 1) | bit;
        }
        if (crc8(value) === check) {
          glass.latencies.push((receivedAt % 4294967296) - value + (receivedAt % 4294967296 < value ? 4294967296 : 0));
          glass.heights.add(metadata.height);
        } else glass.unreadable += 1;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    };
    g.setInterval(() => {
      const selector = `[data-testid="media-tile"][data-user-id="${teacherId}"][data-source="video"] video`;
      for (const video of g.document.querySelectorAll(selector)) {
        if (seen.has(video)) continue;
        seen.add(video);
        watch(video);
      }
    }, 200);
  }
}

/** Takes (and clears) what the student's page read so far. */
function takeReadings(page: Page): Promise<{ latencies: number[]; unreadable: number; heights: number[] }> {
  return page.evaluate(() => {
    const glass = (globalThis as unknown as { __glass: { latencies: number[]; unreadable: number; heights: Set<number> } }).__glass;
    const taken = { latencies: glass.latencies.splice(0), unreadable: glass.unreadable, heights: [...glass.heights] };
    glass.unreadable = 0;
    glass.heights.clear();
    return taken;
  });
}

/** The student's received video so far (every inbound video stream summed): where a frame's time goes in the receiver. */
async function receiverTotals(page: Page): Promise<{ jitterBufferMs: number; emitted: number; decodeMs: number; decoded: number }> {
  return page.evaluate(async () => {
    const totals = { jitterBufferMs: 0, emitted: 0, decodeMs: 0, decoded: 0 };
    const connections = (globalThis as unknown as { __e2ePeerConnections: PagePeerConnection[] }).__e2ePeerConnections;
    for (const connection of connections) {
      if (connection.connectionState === "closed") continue;
      (await connection.getStats()).forEach((report) => {
        if (report.type !== "inbound-rtp" || report.kind !== "video") return;
        totals.jitterBufferMs += Number(report.jitterBufferDelay ?? 0) * 1000;
        totals.emitted += Number(report.jitterBufferEmittedCount ?? 0);
        totals.decodeMs += Number(report.totalDecodeTime ?? 0) * 1000;
        totals.decoded += Number(report.framesDecoded ?? 0);
      });
    }
    return totals;
  });
}

/**
 * How late the student's node let the teacher's packets out of its delay relay during [since, now] (its
 * `pipe_delay_relay` log lines, every 5 s): the test relay's own jitter, which the browser sees as network jitter.
 */
function relayLateness(nodeId: string, fromNodeId: string, since: number): string {
  let packets = 0;
  let lateMs = 0;
  let maxLateMs = 0;
  for (const line of readFileSync(path.join(STATE_DIR, `${nodeId}.log`), "utf8").split("\n")) {
    if (!line.includes('"pipe_delay_relay"')) continue;
    let entry: { time: string; peerNodeId: string; packets: number; meanLateMs: number; maxLateMs: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.peerNodeId !== fromNodeId || Date.parse(entry.time) < since) continue;
    packets += entry.packets;
    lateMs += entry.meanLateMs * entry.packets;
    maxLateMs = Math.max(maxLateMs, entry.maxLateMs);
  }
  return packets === 0 ? "–" : `${(lateMs / packets).toFixed(1)} / ${Math.round(maxLateMs)} ms`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

async function main(): Promise<void> {
  console.log(`glass-to-glass benchmark: ${SECONDS} s per phase, ${ROUNDS} rounds, stack on port ${PORT}, state ${STATE_DIR}`);
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const { url: baseUrl, child } = await startBenchStack();
  const nodes = new Map<string, RegionNode>();
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Pages that are not in front must not have their timers (the teacher's painting) slowed down.
    args: [...CHROMIUM_ARGS, "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
  });
  try {
    const delays = pipeDelaySettings({ "g2g-eu|g2g-us": 40, "g2g-eu|g2g-sg": 110 });
    const window = 12_000;
    for (const [index, spec] of [TEACHER_NODE, ...PHASES.slice(1)].entries()) {
      const spec2 = { ...spec, httpPort: PORT + 60 + index, portWindow: window + index * 200, pipeDelay: delays.get(spec.nodeId) };
      nodes.set(spec.nodeId, await startRegionNode(baseUrl, STATE_DIR, spec2, path.join(STATE_DIR, `${spec.nodeId}.log`)));
      console.log(`node ${spec.nodeId} (${spec.region}) registered${spec2.pipeDelay ? `, pipe delay ${spec2.pipeDelay}` : ""}`);
    }

    // tsx keeps function names with a `__name` helper that the pages do not have.
    const noNames = "globalThis.__name = (target) => target;";
    const teacherContext = await newUserContext(browser, baseUrl);
    await teacherContext.addInitScript({ content: noNames });
    await teacherContext.addInitScript(barcodePage, { paint: true, readFrom: null });
    const teacher = await openIdentifiedPerson(browser, baseUrl, newPerson("teacher", "Glass Teacher"), teacherContext);
    const studentContext = await newUserContext(browser, baseUrl);
    await studentContext.addInitScript({ content: noNames });
    await studentContext.addInitScript(barcodePage, { paint: false, readFrom: teacher.userId });
    await studentContext.addInitScript(registerPeerConnections);
    const student = await openIdentifiedPerson(browser, baseUrl, newPerson("student", "Glass Student"), studentContext);
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Glass to glass", startsAt: Date.now() + 5 * 60_000 });
    await teacher.page.goto(`/classes/${classId}/live?region=${TEACHER_NODE.region}`);
    await teacher.page.waitForSelector(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-video="live"]`, { timeout: MEDIA_TIMEOUT_MS });
    if ((await nodes.get(TEACHER_NODE.nodeId)!.metric("sfu_peers")) !== 1) throw new Error(`the teacher is not on ${TEACHER_NODE.nodeId}`);

    const rows: string[] = [];
    for (let round = 1; round <= ROUNDS; round++)
      for (const phase of PHASES) {
        const loadBefore = os.loadavg()[0]!;
        await student.page.goto(`/classes/${classId}/live?region=${phase.region}`);
        const deadline = Date.now() + MEDIA_TIMEOUT_MS;
        let unreadableBefore = 0;
        for (;;) {
          const first = await takeReadings(student.page);
          if (first.latencies.length > 0) break;
          unreadableBefore += first.unreadable;
          if (Date.now() > deadline) {
            await student.page.screenshot({ path: path.join(STATE_DIR, "student.png") });
            await teacher.page.screenshot({ path: path.join(STATE_DIR, "teacher.png") });
            throw new Error(
              `the student in ${phase.region} read no frame of the teacher's camera (${unreadableBefore} unreadable; screenshots in ${STATE_DIR})`,
            );
          }
          await sleep(250);
        }
        const node = nodes.get(phase.nodeId)!;
        const expectedPeers = phase.nodeId === TEACHER_NODE.nodeId ? 2 : 1;
        if ((await node.metric("sfu_peers")) !== expectedPeers) throw new Error(`the student in ${phase.region} is not on ${phase.nodeId}`);
        if (phase.addedMs !== null && (await node.metric(`sfu_piped_producers_received{peer_node="${TEACHER_NODE.nodeId}"}`)) < 1)
          throw new Error(`nothing is piped to ${phase.nodeId}`);
        await sleep(SETTLE_MS);
        await takeReadings(student.page);
        const before = await receiverTotals(student.page);
        const measuredFrom = Date.now();
        await sleep(SECONDS * 1000);
        const { latencies, unreadable, heights } = await takeReadings(student.page);
        const after = await receiverTotals(student.page);
        const jitterBuffer = (after.jitterBufferMs - before.jitterBufferMs) / Math.max(1, after.emitted - before.emitted);
        const decode = (after.decodeMs - before.decodeMs) / Math.max(1, after.decoded - before.decoded);
        const load = `${loadBefore.toFixed(1)}–${os.loadavg()[0]!.toFixed(1)}`;
        const sorted = latencies.sort((a, b) => a - b);
        const added = phase.addedMs === null ? "–" : `${phase.addedMs} ms`;
        const row = `| ${round} | ${phase.name} (${phase.nodeId}, ${phase.region}) | ${added} | ${sorted.length} | ${unreadable} | ${heights.sort((a, b) => a - b).join(", ")} | ${percentile(sorted, 50)} ms | ${percentile(sorted, 95)} ms | ${sorted.at(-1)} ms | ${Math.round(jitterBuffer)} ms | ${decode.toFixed(1)} ms | ${relayLateness(phase.nodeId, TEACHER_NODE.nodeId, measuredFrom)} | ${load} |`;
        console.log(row);
        rows.push(row);
        await student.page.goto(`/classes/${classId}`);
        await sleep(2_000);
      }
    console.log("");
    console.log(
      "| round | student | added one-way delay | frames read | unreadable | frame heights | p50 | p95 | max | jitter buffer (mean) | decode (mean) | relay late (mean / max) | load average (1 min) |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const row of rows) console.log(row);
  } finally {
    await browser.close();
    for (const node of nodes.values()) await node.stop();
    await stopStack(child);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
