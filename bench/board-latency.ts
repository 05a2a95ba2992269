/**
 * Board stroke latency benchmark (prints figures; not a test).
 *
 *   npm run bench:board-latency                          # 300 sockets: 60 s of drawing, then a 20-minute session compressed
 *   npm run bench:board-latency -- --soak-minutes=90     # the full 90-minute session (about 15 minutes of running)
 *   npm run bench:board-latency -- --sockets=300 --draw-seconds=60 --soak-minutes=0
 *
 * Starts `wrangler dev` on port 8851 (BENCH_PORT) with its own state (/tmp/board-latency-state, BENCH_STATE_DIR),
 * seeds a class (a teacher and sockets − 1 students) and opens every socket through the real edge with signed class
 * tokens. The teacher (the presenter) and MEASURERS students live in this process; the other students are spread
 * over HERDS child processes (bench/lib/socket-herd.ts) that only count what they receive, so this process's
 * event loop, which stamps every send and receipt, is not the one carrying 300 sockets.
 *
 * The presenter shows a blank page and draws as the web's StrokeInput does: the pen's points are batched into a
 * `board.ink` request every 40 ms (25 Hz) while the stroke is drawn, and when it lifts the stroke is committed as
 * one `board.op` add. Every point carries the time the pen "made" it; each measuring student records when each
 * batch arrived (batches of a stroke arrive in order, so a stroke id and a count name a batch). Printed:
 *   - point → student: from the pen making a point to a student receiving it (includes the up to 40 ms a point
 *     waits for its batch — what a viewer sees);
 *   - batch → student: from sending a batch to receiving it (the object is the only hop);
 *   - op → student: from sending the committed stroke to the `board.op` event arriving.
 * Steady phase: strokes of 50–150 points at 60 points/s (a hand), 0.4 s between strokes, for --draw-seconds.
 * Session phase (--soak-minutes=N, default 20, 0 skips it): N minutes of continuous drawing as a teacher does it
 * (one stroke of 50–150 points every 2 s, all on one page, so the page ends with 30 × N strokes), compressed in
 * time 6×: points come at 360 a second (≈ 14 per batch, still 25 batches a second) with 0.05 s between strokes.
 * Ten windows, each with its latencies and the resident memory of the workerd running the Worker and the object.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { BoardSurface } from "../schema/protocol/board";
import { classSocketUrl, classTokenSigner, loadAverage, percentile, prepareState, seedClass, startBenchStack } from "./lib/bench-wrangler";
import { processTree, workerdUsage } from "./lib/process-tree";
import { penStroke, seededRandom, strokeLength } from "./lib/pen-strokes";
import { forkSocketHerd, type SocketHerd } from "./lib/socket-herd";

const PORT = Number(process.env.BENCH_PORT ?? 8851);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/board-latency-state";
const option = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const SOCKETS = option("sockets", 300);
const DRAW_SECONDS = option("draw-seconds", 60);
const SOAK_MINUTES = option("soak-minutes", 20);
const MEASURERS = 10;
const HERDS = 2;
/** The web's StrokeInput sends a batch every 40 ms. */
const INK_INTERVAL_MS = 40;
const HAND_POINTS_PER_SECOND = 60;
/** The session phase draws this many times faster than a hand (points per second and pauses). */
const COMPRESSION = 6;
/** A teacher drawing continuously: one stroke every 2 s on average. */
const SESSION_STROKES_PER_MINUTE = 30;
const WINDOWS = 10;
const SURFACE: BoardSurface = { kind: "blank", page: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What was sent, to match receipts against: per stroke, each batch's send time and its points' pen times. */
const sentBatches = new Map<string, { sentAt: number; pointTimes: number[] }[]>();
const sentOps = new Map<string, number>();

interface Sample {
  at: number;
  ms: number;
}
const samples = { point: [] as Sample[], batch: [] as Sample[], op: [] as Sample[] };
let refusals = 0;

/** A measuring student: stamps every ink batch and board op it receives. */
function measure(socket: WebSocket): void {
  const seen = new Map<string, number>();
  socket.on("message", (data) => {
    const now = performance.now();
    const text = data.toString();
    if (text.startsWith('{"notification":"board.ink"')) {
      const { ink } = (JSON.parse(text) as { data: { ink: { strokeId: string } } }).data;
      const index = seen.get(ink.strokeId) ?? 0;
      seen.set(ink.strokeId, index + 1);
      const batch = sentBatches.get(ink.strokeId)?.[index];
      if (!batch) return;
      samples.batch.push({ at: now, ms: now - batch.sentAt });
      for (const pointAt of batch.pointTimes) samples.point.push({ at: now, ms: now - pointAt });
    } else if (text.startsWith('{"notification":"events"')) {
      for (const event of (JSON.parse(text) as { data: { events: { type: string; entry?: { op: { type: string; shape?: { id: string } } } }[] } }).data
        .events) {
        const id = event.type === "board.op" ? event.entry?.op.shape?.id : undefined;
        const sentAt = id === undefined ? undefined : sentOps.get(id);
        if (sentAt !== undefined) samples.op.push({ at: now, ms: now - sentAt });
      }
    }
  });
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error("no snapshot within 120 s")), 120_000);
    const onMessage = (data: WebSocket.RawData) => {
      if (!data.toString().startsWith('{"notification":"snapshot"')) return;
      clearTimeout(timer);
      socket.off("message", onMessage);
      resolve(socket);
    };
    socket.on("message", onMessage);
    socket.on("error", reject);
  });
}

/** The presenter: requests with ids; refusals are counted (a refused batch would show as a lost one). */
class Presenter {
  private nextId = 1;
  constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('{"id"') && text.includes('"ok":false')) {
        refusals += 1;
        if (refusals <= 5) console.log(`  refused: ${text.slice(0, 200)}`);
      }
    });
  }

  send(method: string, data: unknown): void {
    this.socket.send(JSON.stringify({ id: this.nextId++, method, data }));
  }

  /**
   * Draws one stroke as StrokeInput does: every 40 ms the points the pen made since the last batch go out as
   * `board.ink`; the last batch says `done`, and the shape follows as a `board.op` add.
   */
  async drawStroke(points: number[], pointsPerSecond: number): Promise<void> {
    const strokeId = randomUUID();
    const batches: { sentAt: number; pointTimes: number[] }[] = [];
    sentBatches.set(strokeId, batches);
    const count = points.length / 3;
    const started = performance.now();
    const penTime = (i: number) => started + (i / pointsPerSecond) * 1000;
    let sent = 0;
    for (let tick = 1; sent < count; tick++) {
      const due = started + tick * INK_INTERVAL_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const now = performance.now();
      let made = sent;
      while (made < count && penTime(made) <= now) made++;
      const done = made === count;
      if (made === sent && !done) continue;
      batches.push({ sentAt: now, pointTimes: Array.from({ length: made - sent }, (_, i) => penTime(sent + i)) });
      this.send("board.ink", { strokeId, surface: SURFACE, type: "pen", color: "#1d4ed8", width: 0.004, points: points.slice(sent * 3, made * 3), done });
      sent = made;
    }
    sentOps.set(strokeId, performance.now());
    this.send("board.op", {
      clientOpId: randomUUID(),
      surface: SURFACE,
      op: { type: "add", shape: { id: strokeId, type: "pen", color: "#1d4ed8", width: 0.004, points } },
    });
  }
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms (n ${sorted.length})`;
}

function between(list: Sample[], from: number, to: number): number[] {
  return list.filter((s) => s.at >= from && s.at < to).map((s) => s.ms);
}

async function herdInkFrames(herds: SocketHerd[]): Promise<number> {
  return (await Promise.all(herds.map((herd) => herd.counts()))).reduce((sum, counts) => sum + (counts["board.ink"] ?? 0), 0);
}

async function main(): Promise<void> {
  if (SOCKETS < MEASURERS + 1) throw new Error(`--sockets must be at least ${MEASURERS + 1}`);
  prepareState(STATE_DIR);
  const sign = await classTokenSigner();
  const stack = await startBenchStack({ port: PORT, stateDir: STATE_DIR });
  const herds: SocketHerd[] = [];
  const own: WebSocket[] = [];
  try {
    const { classId, teacherId, studentIds } = seedClass(STATE_DIR, SOCKETS, "board");
    const url = async (userId: string, role: "teacher" | "student") => classSocketUrl(stack.url, classId, await sign(classId, userId, role));
    const measurerIds = studentIds.slice(0, MEASURERS);
    const herdIds = studentIds.slice(MEASURERS);
    console.log(
      `board latency benchmark against wrangler dev on ${stack.url} (${new Date().toISOString()}, ${SOCKETS} sockets, load average ${loadAverage()})`,
    );
    const joinStarted = performance.now();
    const presenterSocket = await openSocket(await url(teacherId, "teacher"));
    own.push(presenterSocket);
    const presenter = new Presenter(presenterSocket);
    for (const id of measurerIds) {
      const socket = await openSocket(await url(id, "student"));
      measure(socket);
      own.push(socket);
    }
    for (let h = 0; h < HERDS; h++) herds.push(forkSocketHerd());
    const shares = herds.map((_, h) => herdIds.filter((_, i) => i % HERDS === h));
    await Promise.all(herds.map(async (herd, h) => herd.open(await Promise.all(shares[h]!.map((id) => url(id, "student"))))));
    console.log(
      `  ${SOCKETS} sockets open in ${((performance.now() - joinStarted) / 1000).toFixed(1)} s: the presenter and ${MEASURERS} measuring students in this process, ` +
        `${herdIds.length} students in ${HERDS} child processes (${shares.map((s) => s.length).join(" + ")})`,
    );
    const ping = setInterval(() => {
      for (const socket of own) if (socket.readyState === WebSocket.OPEN) socket.send("ping");
    }, 25_000);
    presenter.send("board.show", { surface: SURFACE });
    await sleep(2_000);

    const random = seededRandom(1);
    // Steady drawing by hand.
    const steadyStart = performance.now();
    let strokes = 0;
    const inkBefore = await herdInkFrames(herds);
    const usageBefore = workerdUsage(processTree(stack.pid), PORT);
    while (performance.now() - steadyStart < DRAW_SECONDS * 1000) {
      await presenter.drawStroke(penStroke(strokeLength(50, 150, random), random), HAND_POINTS_PER_SECOND);
      strokes++;
      await sleep(400);
    }
    await sleep(3_000);
    const steadyEnd = performance.now();
    const batchesSent = [...sentBatches.values()].reduce((sum, list) => sum + list.length, 0);
    const inkToHerds = (await herdInkFrames(herds)) - inkBefore;
    const usageAfter = workerdUsage(processTree(stack.pid), PORT);
    console.log(`\nsteady drawing, ${DRAW_SECONDS} s: ${strokes} strokes, ${batchesSent} ink batches (load average ${loadAverage()})`);
    console.log(`  point → student:  ${summary(between(samples.point, steadyStart, steadyEnd))}`);
    console.log(`  batch → student:  ${summary(between(samples.batch, steadyStart, steadyEnd))}`);
    console.log(`  op → student:     ${summary(between(samples.op, steadyStart, steadyEnd))}`);
    console.log(
      `  ink batches received by the child processes' ${herdIds.length} students: ${inkToHerds} of ${batchesSent * herdIds.length}; refusals ${refusals}`,
    );
    const deliveries = batchesSent * SOCKETS;
    const workerCpu = usageAfter.workerCpuSeconds - usageBefore.workerCpuSeconds;
    const proxyCpu = usageAfter.proxyCpuSeconds - usageBefore.proxyCpuSeconds;
    console.log(
      `  CPU in ${((steadyEnd - steadyStart) / 1000).toFixed(0)} s: workerd (Worker, object) ${workerCpu.toFixed(1)} s, wrangler's proxy ${proxyCpu.toFixed(1)} s — ` +
        `${((workerCpu / deliveries) * 1e6).toFixed(0)} + ${((proxyCpu / deliveries) * 1e6).toFixed(0)} µs per ink frame delivered (${deliveries} frames, ${(deliveries / DRAW_SECONDS).toFixed(0)} a second)`,
    );

    if (SOAK_MINUTES > 0) {
      const total = Math.round(SOAK_MINUTES * SESSION_STROKES_PER_MINUTE);
      const perWindow = Math.ceil(total / WINDOWS);
      console.log(
        `\nsession: ${SOAK_MINUTES} minutes of drawing (${total} strokes of 50–150 points on one page, on top of the ${strokes} above), compressed ${COMPRESSION}×`,
      );
      console.log(
        "  window | strokes on the page | point → student p50 / p99 | batch → student p50 / p99 | op → student p50 / p99 | workerd (Worker) RSS | proxy RSS",
      );
      const memory = () => workerdUsage(processTree(stack.pid), PORT);
      const before = memory();
      console.log(`  start  | ${String(strokes).padStart(6)} | | | | ${before.workerMb.toFixed(0)} MB | ${before.proxyMb.toFixed(0)} MB`);
      let drawn = 0;
      for (let w = 0; w < WINDOWS; w++) {
        const from = performance.now();
        for (let i = 0; i < perWindow && drawn < total; i++, drawn++) {
          await presenter.drawStroke(penStroke(strokeLength(50, 150, random), random), HAND_POINTS_PER_SECOND * COMPRESSION);
          strokes++;
          await sleep(50);
        }
        await sleep(1_000);
        const to = performance.now();
        const pct = (list: Sample[]) => {
          const sorted = between(list, from, to).sort((a, b) => a - b);
          return `${percentile(sorted, 50).toFixed(0)} / ${percentile(sorted, 99).toFixed(0)} ms`;
        };
        const now = memory();
        console.log(
          `  ${String((w + 1) * 10).padStart(3)} %  | ${String(strokes).padStart(6)} | ${pct(samples.point)} | ${pct(samples.batch)} | ${pct(samples.op)} | ${now.workerMb.toFixed(0)} MB | ${now.proxyMb.toFixed(0)} MB  (load ${loadAverage()})`,
        );
      }
      console.log(`  refusals ${refusals}`);
    }
    clearInterval(ping);
  } finally {
    for (const socket of own) socket.close(1000, "bench done");
    for (const herd of herds) herd.close();
    await sleep(1_500);
    stack.stop();
  }
}

await main();
