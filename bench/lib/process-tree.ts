/**
 * The processes under one root (a `wrangler dev`, `scripts/start.sh`), read from /proc: what the benchmarks
 * sample for the CPU time and resident memory of workerd, sfu-node and mediasoup workers.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Linux's USER_HZ for /proc/<pid>/stat times. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessInfo {
  pid: number;
  /** The kernel's command name, cut to 15 characters ("mediasoup-worke"). */
  comm: string;
  cmdline: string;
  rssMb: number;
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
}

/** Every process under `rootPid`, the root included (processes that end while being read are skipped). */
export function processTree(rootPid: number): ProcessInfo[] {
  const children = new Map<number, number[]>();
  const info = new Map<number, ProcessInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command: state ppid … utime(14) stime(15).
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      const pid = Number(entry);
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ?? 0);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      info.set(pid, { pid, comm: stat.slice(stat.indexOf("(") + 1, close), cmdline, rssMb: rssKb / 1024, cpuSeconds });
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // The process ended while we looked.
    }
  }
  const tree: ProcessInfo[] = [];
  const walk = (pid: number) => {
    const process = info.get(pid);
    if (process) tree.push(process);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(rootPid);
  return tree;
}

export interface WorkerdUsage {
  /** wrangler's proxy in front of the Worker: the workerd whose command line names the stack's port. */
  proxyMb: number;
  proxyCpuSeconds: number;
  /** The workerd that runs the Worker and its Durable Objects (every other workerd under the root). */
  workerMb: number;
  workerCpuSeconds: number;
}

/** Resident memory and CPU time of a stack's two workerd processes, told apart by the port the proxy listens on. */
export function workerdUsage(tree: ProcessInfo[], port: number): WorkerdUsage {
  const usage: WorkerdUsage = { proxyMb: 0, proxyCpuSeconds: 0, workerMb: 0, workerCpuSeconds: 0 };
  for (const process of tree) {
    if (process.comm !== "workerd") continue;
    if (process.cmdline.includes(`127.0.0.1:${port} `)) {
      usage.proxyMb += process.rssMb;
      usage.proxyCpuSeconds += process.cpuSeconds;
    } else {
      usage.workerMb += process.rssMb;
      usage.workerCpuSeconds += process.cpuSeconds;
    }
  }
  return usage;
}

/** CPU seconds used so far by the workerd processes under `rootPid`. */
export function workerdCpuSeconds(rootPid: number): number {
  return processTree(rootPid)
    .filter((process) => process.comm === "workerd")
    .reduce((sum, process) => sum + process.cpuSeconds, 0);
}
