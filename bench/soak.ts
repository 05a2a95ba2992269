import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Account, ChannelError, ClassChannel, openClass, signIn } from "../e2e/lib/class-channel";
import { processTree, workerdUsage } from "./lib/process-tree";
import { signalGroup, startStack } from "./lib/stack";

const repoRoot = path.resolve(import.meta.dirname, "..");
const PORT = Number(process.env.SOAK_PORT ?? 8841);
const MINUTES = Number(process.argv[2] ?? 30);
const PARTICIPANTS = Number(process.argv[3] ?? 50);
const SAMPLE_MS = 30_000;
/** Samples before this are warm-up (JIT, caches, the first sockets): the slope is fitted after it. */
const WARM_UP_MS = Math.min(5 * 60_000, (MINUTES * 60_000) / 4);
/** A student acts about every this many ms (chat ~1/3 of the time): 49 students make ~6 actions/s in all. */
const STUDENT_TICK_MS = 8_000;
const POLL_EVERY_MS = 60_000;
const LOG_PATH = process.env.SOAK_LOG ?? path.join(repoRoot, "test-results", "soak-stack.log");

if (!(MINUTES > 0) || !(PARTICIPANTS >= 2)) throw new Error("usage: npm run bench:soak -- [minutes=30] [participants=50 (≥ 2)]");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Spread out, so 49 students never act in the same millisecond. */
const jittered = (ms: number) => ms * (0.5 + Math.random());

/** Resident memory (MB) of one sample, by process. */
interface Memory {
  /** wrangler's proxy in front of the Worker: the workerd that listens on the stack's port. */
  workerdProxy: number;
  /** The workerd that runs the Worker and its Durable Objects (every other workerd of the stack). */
  workerdWorker: number;
  sfuNode: number;
  mediasoupWorkers: number;
}

function sampleMemory(rootPid: number): Memory {
  const tree = processTree(rootPid);
  const workerd = workerdUsage(tree, PORT);
  const totals: Memory = { workerdProxy: workerd.proxyMb, workerdWorker: workerd.workerMb, sfuNode: 0, mediasoupWorkers: 0 };
  for (const process of tree) {
    // The kernel cuts a command name to 15 characters: "mediasoup-worke".
    if (process.comm.startsWith("mediasoup-work")) totals.mediasoupWorkers += process.rssMb;
    else if (process.comm.startsWith("node") && process.cmdline.includes("sfu-node/src/main.ts")) totals.sfuNode += process.rssMb;
  }
  return totals;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxy / sxx;
}

const counts = { requests: 0, answered: 0, refused: new Map<string, number>(), joins: 0, leaves: 0, joinFailures: 0 };

/** Counts one request (or chain of them, named `what`) and, if it fails, its error code under `what`. */
function count(what: string, promise: Promise<unknown>): Promise<void> {
  counts.requests += 1;
  return promise.then(
    () => {
      counts.answered += 1;
    },
    (error: unknown) => {
      const key = `${what} ${error instanceof ChannelError ? error.code : String(error)}`;
      counts.refused.set(key, (counts.refused.get(key) ?? 0) + 1);
    },
  );
}

/** The poll a student should vote in: the newest open one it has heard of. */
function openPollOf(channel: ClassChannel): { id: string; options: { id: string }[] } | null {
  let poll: { id: string; status: string; options: { id: string }[] } | null = null;
  for (const n of channel.notifications) {
    if (n.notification === "snapshot") poll = n.data.polls.filter((p) => p.status === "open").at(-1) ?? null;
    if (n.notification === "events") for (const event of n.data.events) if (event.type === "poll") poll = event.poll;
  }
  return poll?.status === "open" ? poll : null;
}

async function student(url: string, account: Account, classId: string, until: number): Promise<void> {
  let channel: ClassChannel | null = null;
  let sent = 0;
  /** Requests still waiting for their answer: a leaving student lets them finish, as a person would. */
  const inFlight = new Set<Promise<void>>();
  const track = (what: string, request: Promise<unknown>) => {
    const counted = count(what, request);
    inFlight.add(counted);
    void counted.then(() => inFlight.delete(counted));
  };
  while (Date.now() < until) {
    if (!channel?.open) {
      try {
        channel = await ClassChannel.join(url, account, classId);
        counts.joins += 1;
      } catch {
        counts.joinFailures += 1;
        channel = null;
        await sleep(jittered(5_000));
        continue;
      }
    }
    await sleep(jittered(STUDENT_TICK_MS));
    // Only the newest notifications matter here; drop the rest so the client's own memory stays flat.
    if (channel.notifications.length > 200) channel.notifications.splice(1, channel.notifications.length - 100);
    const roll = Math.random();
    if (roll < 0.35) {
      sent += 1;
      const clientMessageId = `${account.userId.slice(0, 8)}-${sent}`;
      track("chat.send", channel.request("chat.send", { clientMessageId, body: `soak message ${sent} from ${account.person.name}` }));
    } else if (roll < 0.6) {
      const poll = openPollOf(channel);
      const option = poll?.options[Math.floor(Math.random() * poll.options.length)];
      if (poll && option) track("poll.vote", channel.request("poll.vote", { pollId: poll.id, optionIds: [option.id] }));
    } else if (roll < 0.75) {
      track(
        "hand.raise/lower",
        channel
          .request("hand.raise", {})
          .then(() => sleep(jittered(3_000)))
          .then(() => channel!.request("hand.lower", {})),
      );
    } else if (roll < 0.85) {
      track("reaction.send", channel.request("reaction.send", { emoji: "👍" }));
    } else if (roll < 0.93) {
      // Leave (closing the tab) and come back after a while.
      await Promise.all(inFlight);
      channel.close();
      counts.leaves += 1;
      channel = null;
      await sleep(jittered(10_000));
    }
  }
  await Promise.all(inFlight);
  channel?.close();
}

async function teacher(url: string, account: Account, classId: string, until: number): Promise<void> {
  let channel = await ClassChannel.join(url, account, classId);
  let round = 0;
  let pollId: string | null = null;
  while (Date.now() < until) {
    if (!channel.open) channel = await ClassChannel.join(url, account, classId);
    if (channel.notifications.length > 200) channel.notifications.splice(1, channel.notifications.length - 100);
    round += 1;
    try {
      if (pollId) await channel.request("poll.publish", { pollId });
      const created = await channel.request("poll.create", { question: `Soak question ${round}?`, options: ["yes", "no", "maybe"] });
      pollId = created.poll.id;
      await channel.request("chat.send", { clientMessageId: `teacher-${round}`, body: `Round ${round}: please vote` });
      counts.requests += 3;
      counts.answered += 3;
    } catch (error) {
      const code = error instanceof ChannelError ? error.code : String(error);
      counts.refused.set(`teacher ${code}`, (counts.refused.get(`teacher ${code}`) ?? 0) + 1);
    }
    await sleep(Math.min(POLL_EVERY_MS, Math.max(0, until - Date.now())));
  }
  channel.close();
}

/**
 * How often `wrangler dev` has restarted the Worker so far: it does when it sees a watched file change (a package
 * installed into the shared node_modules is enough), dropping every socket and every object's memory. Memory
 * before a restart says nothing about the slope after it.
 */
function reloadsSoFar(): number {
  return readFileSync(LOG_PATH, "utf8")
    .split("\n")
    .filter((line) => line.includes("Reloading local server")).length;
}

/** Lines of the stack's log that report an error (wrangler, workerd, the objects' structured events, sfu-node). */
function errorLines(): string[] {
  return readFileSync(LOG_PATH, "utf8")
    .split("\n")
    .filter((line) => /\berror\b|uncaught|exception|\bfatal\b|_failed"/i.test(line));
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "insp-live-soak-"));
  const started = new Date();
  console.log(`soak: ${MINUTES} min, ${PARTICIPANTS} participants, stack on port ${PORT} (${started.toISOString()}); stack log ${LOG_PATH}`);
  const { child, url } = await startStack({ port: PORT, stateDir, logPath: LOG_PATH, timeoutMs: 300_000 });
  const stop = () => signalGroup(child, "SIGTERM");
  process.once("SIGINT", () => {
    stop();
    process.exit(130);
  });
  try {
    const teacherAccount = await signIn(url, "teacher", "Soak Teacher");
    const students: Account[] = [];
    for (let i = 0; i < PARTICIPANTS - 1; i += 4) {
      students.push(
        ...(await Promise.all(Array.from({ length: Math.min(4, PARTICIPANTS - 1 - i) }, (_, k) => signIn(url, "student", `Soak Student ${i + k + 1}`)))),
      );
    }
    const classId = await openClass(url, teacherAccount, students);
    console.log(`signed in ${PARTICIPANTS}, class ${classId}; running`);

    const begin = Date.now();
    const until = begin + MINUTES * 60_000;
    const samples: ({ t: number; reloads: number } & Memory)[] = [];
    const sampler = (async () => {
      while (Date.now() < until) {
        const memory = sampleMemory(child.pid!);
        samples.push({ t: Date.now() - begin, reloads: reloadsSoFar(), ...memory });
        const minutes = ((Date.now() - begin) / 60_000).toFixed(1);
        console.log(
          `  ${minutes.padStart(5)} min  workerd ${memory.workerdWorker.toFixed(0)} MB + proxy ${memory.workerdProxy.toFixed(0)} MB, sfu-node ${memory.sfuNode.toFixed(0)} MB, mediasoup workers ${memory.mediasoupWorkers.toFixed(0)} MB; ` +
            `requests ${counts.requests} (answered ${counts.answered}), joins ${counts.joins}, leaves ${counts.leaves}`,
        );
        await sleep(Math.min(SAMPLE_MS, Math.max(1, until - Date.now())));
      }
    })();
    await Promise.all([sampler, teacher(url, teacherAccount, classId, until), ...students.map((s) => student(url, s, classId, until))]);
    // Let the last answers arrive before counting.
    await sleep(5_000);
    samples.push({ t: Date.now() - begin, reloads: reloadsSoFar(), ...sampleMemory(child.pid!) });

    // Fit after the warm-up, counted again from the last wrangler dev restart (if any came during the run).
    const lastReload = samples.findLast((s, i) => i > 0 && s.reloads !== samples[i - 1]!.reloads)?.t ?? 0;
    const fitFrom = lastReload + WARM_UP_MS;
    const fitted = samples.filter((s) => s.t >= fitFrom);
    const per10Min = (key: keyof Memory) => slope(fitted.map((s) => ({ x: s.t / 600_000, y: s[key] })));
    const first = fitted[0] ?? samples.at(-1)!;
    const last = samples.at(-1)!;
    const errors = errorLines();
    console.log(
      `\nsoak results (${started.toISOString()}, ${MINUTES} min, ${PARTICIPANTS} participants, ${samples.length} samples; slope fitted from ${(fitFrom / 60_000).toFixed(1)} min on, ${fitted.length} samples)`,
    );
    for (const [key, label] of [
      ["workerdWorker", "workerd (Worker, objects)"],
      ["workerdProxy", "workerd (wrangler's proxy)"],
      ["sfuNode", "sfu-node (tsx + Node)"],
      ["mediasoupWorkers", "mediasoup workers"],
    ] as const) {
      console.log(`  ${label.padEnd(24)} ${first[key].toFixed(0)} → ${last[key].toFixed(0)} MB, slope ${per10Min(key).toFixed(2)} MB / 10 min`);
    }
    const refused = [...counts.refused].map(([code, n]) => `${code} ${n}`).join(", ") || "none";
    console.log(`  requests ${counts.requests}, answered ${counts.answered}, refused/lost: ${refused}`);
    console.log(`  joins ${counts.joins}, leaves ${counts.leaves}, failed joins ${counts.joinFailures}`);
    const restarts = reloadsSoFar();
    console.log(
      `  wrangler dev restarts of the Worker during the run: ${restarts}${restarts > 0 ? " (each dropped every socket; participants rejoined)" : ""}`,
    );
    console.log(`  error lines in the stack log: ${errors.length}`);
    for (const line of [...new Set(errors.map((l) => l.slice(0, 240)))].slice(0, 10)) console.log(`    ${line}`);
  } finally {
    stop();
    await new Promise((r) => child.once("close", r));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
