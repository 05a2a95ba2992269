/**
 * Node failover under a class of many: how long after a node dies (kill -9) or drains (SIGTERM) each of its
 * students decodes the teacher's camera again (prints figures; not a test).
 *
 *   npm run bench:failover                 # 100 students, 5 kills and 5 drains
 *   npm run bench:failover -- 40           # another number of students
 *   npm run bench:failover -- 100 8        # students, rounds of each kind
 *
 * Runs itself inside a loopback-only network namespace (scripts/lib/loopback-netns.sh), starts `wrangler dev` with a
 * state directory of its own (bench/lib/bench-wrangler.ts: port 8870 or BENCH_PORT, /tmp/failover-bench-state) and
 * three sfu-nodes (e2e/lib/extra-node.ts, one mediasoup worker each, logs in test-results/e2e-<node>.log): node A in
 * `ap-southeast`, where the teacher is placed, node B in `eu-west` and node C in `eu-central`, where the students
 * are placed, every other one in each (`?region=`). The teacher and the students are @roamhq/wrtc peers speaking the
 * real class channel and media signaling with the web app's own connection ladder (bench/lib/sim-participant.ts):
 * the students receive the teacher's camera through a pipe from A, and the people of a lost node B or C move to the
 * other one, the nearest.
 *
 * Each round takes the node of B and C that carries more students, kills it (SIGKILL) or drains it (SIGTERM), and
 * waits until every student that was on it decodes a frame of the teacher's camera on a new consumer (on the other
 * node): their media sockets close at once (kill) or the class object sends `media.move` (drain), and each rejoins
 * as the browser does. The time from the signal to that frame is that student's figure; one still without a frame
 * after 30 s counts as stuck. Each student also notes every pause between decoded frames of the teacher's camera:
 * the longest pause of the round is what that student saw go blank (after a kill, the whole rejoin; after a drain,
 * whose people move make-before-break, hardly anything). Then the node is started again (same id, a new process)
 * before the next round. Per round and over all rounds of a kind: p50 / p95 / max and the load average.
 */
import { spawnSync } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type ExtraNode, startExtraNode } from "../e2e/lib/extra-node";
import { classSocketUrl, classTokenSigner, loadAverage, percentile, prepareState, repoRoot, seedClass, startBenchStack } from "./lib/bench-wrangler";
import { SIM_STEPS, SimParticipant } from "./lib/sim-participant";

const numbers = process.argv.slice(2).filter((arg) => /^\d+$/.test(arg));
const STUDENTS = Number(numbers[0] ?? 100);
const ROUNDS = Number(numbers[1] ?? 5);
const PORT = Number(process.env.BENCH_PORT ?? 8870);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? "/tmp/failover-bench-state";
/** A student without the teacher's camera this long after the signal counts as stuck. */
const BACK_WITHIN_MS = 30_000;
/** Students joining at once (a class does not arrive in one millisecond either). */
const JOIN_BATCH = 10;
/** Time for the restarted node to register and the class to settle before the next round. */
const SETTLE_MS = 5_000;
const TEACHER_REGION = "ap-southeast";
/** Students alternate between these two (nodes B and C): a class joining in one burst would all land on one node otherwise. */
const STUDENT_REGIONS = ["eu-west", "eu-central"] as const;

if (process.env.INSP_LIVE_LOOPBACK_NETNS !== "1") {
  const result = spawnSync("bash", ["scripts/lib/loopback-netns.sh", "npx", "tsx", "bench/failover.ts", ...process.argv.slice(2)], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}
// One mediasoup worker per node: three nodes, a hundred WebRTC peers and the Worker share two cores.
process.env.SFU_WORKERS ??= "1";
process.env.SFU_LOG_LEVEL ??= "warn";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

interface NodeSlot {
  nodeId: string;
  region: string;
  rtcBase: number;
  node: ExtraNode;
}

interface RoundResult {
  kind: "kill" | "drain";
  victim: string;
  moved: number;
  /** Signal → first decoded teacher frame, per student that got one (ms). */
  times: number[];
  /** Longest pause between decoded teacher frames in the round, per moved student (ms). */
  gaps: number[];
  stuck: number;
  load: string;
}

function figures(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const s = (ms: number) => (Number.isNaN(ms) ? "–" : `${(ms / 1000).toFixed(2)} s`);
  return `p50 ${s(percentile(sorted, 50))}, p95 ${s(percentile(sorted, 95))}, max ${s(sorted.at(-1) ?? Number.NaN)}`;
}

async function main(): Promise<void> {
  console.log(`failover benchmark: ${STUDENTS} students, ${ROUNDS} kills and ${ROUNDS} drains, port ${PORT}, state ${STATE_DIR}`);
  prepareState(STATE_DIR);
  const stack = await startBenchStack({ port: PORT, stateDir: STATE_DIR });
  const slots: NodeSlot[] = [];
  const people: SimParticipant[] = [];
  try {
    const specs = [
      { nodeId: "bench-a", region: TEACHER_REGION, rtcBase: 52_000 },
      { nodeId: "bench-b", region: STUDENT_REGIONS[0], rtcBase: 53_000 },
      { nodeId: "bench-c", region: STUDENT_REGIONS[1], rtcBase: 54_000 },
    ];
    for (const spec of specs) slots.push({ ...spec, node: await startExtraNode(stack.url, spec.nodeId, spec.region, spec.rtcBase) });
    const seeded = seedClass(STATE_DIR, STUDENTS + 1, "failover");
    const sign = await classTokenSigner();
    const join = async (userId: string, role: "teacher" | "student", region: string) =>
      SimParticipant.join({
        socketUrl: `${classSocketUrl(stack.url, seeded.classId, await sign(seeded.classId, userId, role))}&region=${region}`,
        origin: stack.url,
        label: userId,
        publishCamera: role === "teacher",
      });

    const teacher = await join(seeded.teacherId, "teacher", TEACHER_REGION);
    people.push(teacher);
    await waitFor("the teacher's camera in the class's media map", () => teacher.cameraListed(teacher.userId), 60_000);
    console.log(`teacher on ${teacher.nodeId}, publishing`);

    const students: SimParticipant[] = [];
    const joinStarted = Date.now();
    for (let i = 0; i < seeded.studentIds.length; i += JOIN_BATCH) {
      const batch = await Promise.all(seeded.studentIds.slice(i, i + JOIN_BATCH).map((id, j) => join(id, "student", STUDENT_REGIONS[(i + j) % 2]!)));
      students.push(...batch);
      people.push(...batch);
    }
    await waitFor("every student decoding the teacher's camera", () => students.every((s) => s.firstFrames.length > 0), 180_000);
    const spread = (nodeId: string) => students.filter((s) => s.nodeId === nodeId).length;
    console.log(
      `${students.length} students decode the teacher's camera ${((Date.now() - joinStarted) / 1000).toFixed(1)} s after the first joined; ` +
        slots.map((slot) => `${slot.nodeId} ${spread(slot.nodeId)}`).join(", "),
    );

    const results: RoundResult[] = [];
    for (const kind of ["kill", "drain"] as const) {
      for (let round = 1; round <= ROUNDS; round++) {
        // The student node carrying more students (the other one took the last round's).
        const slot = slots.slice(1).sort((a, b) => spread(b.nodeId) - spread(a.nodeId))[0]!;
        const moved = students.filter((s) => s.nodeId === slot.nodeId);
        const loadBefore = loadAverage();
        const lag = monitorEventLoopDelay({ resolution: 10 });
        lag.enable();
        const cpuBefore = process.cpuUsage();
        const signalAt = Date.now();
        process.kill(slot.node.pid, kind === "kill" ? "SIGKILL" : "SIGTERM");
        const deadline = signalAt + BACK_WITHIN_MS;
        while (Date.now() < deadline && moved.some((s) => s.frameSince(signalAt) === null)) await sleep(50);
        lag.disable();
        const cpu = process.cpuUsage(cpuBefore);
        const ownCpu = `${Math.round(((cpu.user + cpu.system) / 1000 / (Date.now() - signalAt)) * 100)} %`;
        const times = moved.map((s) => s.frameSince(signalAt)).flatMap((at) => (at === null ? [] : [at - signalAt]));
        const roundEnd = Date.now();
        const gaps = moved.map((s) => s.longestGap(signalAt, roundEnd));
        const result: RoundResult = {
          kind,
          victim: slot.nodeId,
          moved: moved.length,
          times,
          gaps,
          stuck: moved.length - times.length,
          load: `${loadBefore} → ${loadAverage()}`,
        };
        results.push(result);
        const steps = SIM_STEPS.map((step) => {
          const at = moved.map((s) => s.markSince(step, signalAt)).flatMap((t) => (t === null ? [] : [t - signalAt]));
          const sorted = at.sort((a, b) => a - b);
          return at.length === 0 ? null : `${step} ${(percentile(sorted, 50) / 1000).toFixed(2)}/${(percentile(sorted, 95) / 1000).toFixed(2)} s`;
        });
        console.log(
          `${kind} ${round}: ${slot.nodeId} carried ${moved.length}; ${figures(times)}; stuck ${result.stuck}; ` +
            `now ${slots.map((other) => `${other.nodeId} ${spread(other.nodeId)}`).join(", ")}; load ${result.load}`,
        );
        console.log(`  from the signal, p50/p95 of each step: ${steps.filter((step) => step !== null).join(", ")}`);
        console.log(`  longest pause in the teacher's camera, per student: ${figures(gaps)}`);
        console.log(`  this process (the peers) meanwhile: CPU ${ownCpu}, event loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms`);
        await slot.node.exited;
        await slot.node.stop();
        slot.node = await startExtraNode(stack.url, slot.nodeId, slot.region, slot.rtcBase);
        await sleep(SETTLE_MS);
      }
    }

    const failures = people.reduce((sum, p) => sum + p.consumeFailures, 0);
    console.log("");
    console.log(`| ${STUDENTS} students | rounds | students moved | p50 | p95 | max | stuck | longest pause p50 / p95 / max |`);
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const kind of ["kill", "drain"] as const) {
      const rounds = results.filter((r) => r.kind === kind);
      const all = rounds.flatMap((r) => r.times);
      const [p50, p95, max] = figures(all)
        .split(", ")
        .map((part) => part.split(" ").slice(1).join(" "));
      const label = kind === "kill" ? "kill -9" : "`SIGTERM` (drain)";
      const pauses = figures(rounds.flatMap((r) => r.gaps))
        .split(", ")
        .map((part) => part.split(" ").slice(1).join(" "))
        .join(" / ");
      console.log(
        `| ${label} | ${rounds.length} | ${rounds.reduce((sum, r) => sum + r.moved, 0)} | ${p50} | ${p95} | ${max} | ${rounds.reduce((sum, r) => sum + r.stuck, 0)} | ${pauses} |`,
      );
    }
    console.log(`consume attempts refused or failed (then retried): ${failures}; load average now ${loadAverage()}`);
  } finally {
    for (const person of people) person.close();
    for (const slot of slots) await slot.node.stop();
    stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
