/**
 * CPU profiles of the Worker's isolate under `wrangler dev`, through its DevTools inspector (`--inspector-port`):
 * the edge and every Durable Object of the script run in that one isolate, so the profile shows where a phase of
 * the benchmark spends the object's single thread. The profile is saved (open it in Chrome DevTools) and the
 * functions with the most self time are printed.
 */
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const TOP_FUNCTIONS = 20;

/** Starts profiling; `stop(file)` saves the profile and prints a summary. */
export async function startProfile(inspectorPort: number): Promise<{ stop(file: string): Promise<void> }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string; title?: string }[];
  const target = targets[0];
  if (!target) throw new Error(`no inspector target on port ${inspectorPort}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  // Ids well above the inspector proxy's own, whose replies it may pass on to every client.
  let nextId = 1_000_000;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.error ? Promise.reject(new Error(JSON.stringify(message.error))) : message.result);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 60_000);
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 500 });
  await call("Profiler.start");
  return {
    async stop(file) {
      const { profile } = (await call("Profiler.stop")) as { profile: Profile };
      socket.close();
      writeFileSync(file, JSON.stringify(profile));
      printProfileSummary(profile, file, "the Worker isolate");
    },
  };
}

/** Prints the functions with the most self and total time of a saved V8 CPU profile (`what` names whose it is). */
export function printProfileSummary(profile: Profile, file: string, what: string): void {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (node: ProfileNode) => {
    const frame = node.callFrame;
    return `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
  };
  const selfMs = new Map<string, number>();
  const totalMs = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const node = byNode.get(samples[i]!);
    // A sample's time is the gap to the next one.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    if (!node) continue;
    sampled += ms;
    if (node.callFrame.functionName === "(idle)") idle += ms;
    selfMs.set(label(node), (selfMs.get(label(node)) ?? 0) + ms);
    // Inclusive time: every function on the stack once (recursion counted once).
    const onStack = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) onStack.add(label(byNode.get(id)!));
    for (const key of onStack) totalMs.set(key, (totalMs.get(key) ?? 0) + ms);
  }
  const top = (map: Map<string, number>) =>
    [...map]
      .filter(([key]) => !key.startsWith("(root)") && !key.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_FUNCTIONS)
      .map(([key, ms]) => `    ${ms.toFixed(0).padStart(6)} ms  ${key}`)
      .join("\n");
  console.log(`  CPU profile of ${what} (${file}): ${(sampled / 1000).toFixed(2)} s sampled, ${((sampled - idle) / 1000).toFixed(2)} s busy`);
  console.log(`  self time:\n${top(selfMs)}`);
  console.log(`  total time (function and what it calls):\n${top(totalMs)}`);
}
