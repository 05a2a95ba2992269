/**
 * TEST ONLY: network delay on the pipes between sfu-nodes that run on one machine (SFU_PIPE_DELAY_MS), so a
 * local "multi-region" world costs what a real one does. The kernel here has no netem, so the delay is added in
 * user space, by the receiving node itself: the node does not know its pipes' ports in advance (one pair per
 * node pair and class, dynamic), so no outside relay could be put in front of them.
 *
 * Between a pipe transport and its peer, two UDP sockets on the node's loopback address:
 *
 *   peer ──► outer (the port this node reports for its end) ──[held delayMs]──► inner ──► local transport
 *   peer ◄── outer ◄───────────────────────────────────────────────────────── inner ◄── local transport
 *
 * Each side sees the source it expects (mediasoup's pipe transports take RTP only from the address they were
 * connected to): the peer is connected to the outer socket, the local transport to the inner one. Only what the
 * node receives is held, so between two delayed nodes each direction costs the receiver's setting. Never used
 * in production: config.ts refuses the setting unless the node listens on loopback.
 *
 * The relays run on a thread of their own at a raised scheduling priority: a network's delay does not depend on
 * how busy the machine is, and on the node's own event loop (or at normal priority beside two browsers encoding
 * video on two cores) packets went out up to 23 ms late, which receivers took for jitter and buffered against.
 */
import { Worker } from "node:worker_threads";
import { log } from "./log";

/** How often a relay that carried packets logs how late it let them go (`pipe_delay_relay`). */
const REPORT_EVERY_MS = 5_000;
/** The relay thread's nice value (Linux: per thread): above the browsers and servers it shares the machine with. */
const RELAY_THREAD_NICE = -15;

/** How much delay a node adds to what it receives through its pipes, per peer node. */
export interface PipeDelays {
  /** For a peer not named in {@link byPeer}; 0 = no relay at all (the production path). */
  defaultMs: number;
  byPeer: Readonly<Record<string, number>>;
}

/** The delay towards `peerNodeId` (0: none). */
export function pipeDelayFor(delays: PipeDelays | undefined, peerNodeId: string): number {
  if (!delays) return 0;
  return delays.byPeer[peerNodeId] ?? delays.defaultMs;
}

interface Address {
  address: string;
  port: number;
}

/** What the node asks of the relay thread. */
type ToThread =
  | { op: "open"; id: number; host: string; local: Address; delayMs: number }
  | { op: "connect"; id: number; remote: Address }
  | { op: "close"; id: number };

/** What the relay thread answers and reports. */
type FromThread =
  | { op: "opened"; id: number; outerPort: number; innerPort: number }
  | { op: "failed"; id: number; error: string }
  | { op: "report"; id: number; packets: number; meanLateMs: number; maxLateMs: number; dropped: number }
  | { op: "error"; id: number; error: string };

/**
 * The relay thread's whole program, as plain JavaScript: a thread runs it as given, without the TypeScript loader
 * the node may run under (tsx, vitest, or none in the bundle). Each relay holds what arrives from the peer for
 * its delay (a constant delay keeps arrival order: one timer for the head of the queue) and passes what the local
 * transport sends straight on; packets beyond 20,000 held (a 110 ms hold of a few Mbit/s is a few hundred) are
 * dropped; every 5 s it reports how late it let packets go.
 */
const RELAY_THREAD_PROGRAM = `
const dgram = require("node:dgram");
const os = require("node:os");
const { parentPort, workerData } = require("node:worker_threads");
const MAX_HELD_PACKETS = 20000;
// Socket buffers asked for (the kernel may give less): a keyframe burst must not overflow.
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
try { os.setPriority(workerData.nice); } catch {}
const relays = new Map();
const bind = (type, host) => new Promise((resolve, reject) => {
  const socket = dgram.createSocket({ type, recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
  socket.once("error", reject);
  socket.bind(0, host, () => { socket.off("error", reject); resolve(socket); });
});
const arm = (relay) => {
  const head = relay.held[0];
  relay.timer = head && !relay.closed ? setTimeout(() => release(relay), Math.max(0, head.sendAt - performance.now())) : undefined;
};
const release = (relay) => {
  const now = performance.now();
  let released = 0;
  while (released < relay.held.length && relay.held[released].sendAt <= now) {
    const held = relay.held[released];
    relay.inner.send(held.packet, relay.local.port, relay.local.address);
    const late = now - held.sendAt;
    relay.window.packets += 1;
    relay.window.lateMs += late;
    if (late > relay.window.maxLateMs) relay.window.maxLateMs = late;
    released += 1;
  }
  relay.held.splice(0, released);
  arm(relay);
};
const open = async ({ id, host, local, delayMs }) => {
  const type = host.includes(":") ? "udp6" : "udp4";
  const outer = await bind(type, host);
  const inner = await bind(type, host).catch((error) => { outer.close(); throw error; });
  const relay = { id, outer, inner, local, delayMs, remote: undefined, held: [], timer: undefined, closed: false, dropped: 0,
    window: { packets: 0, lateMs: 0, maxLateMs: 0 } };
  outer.on("message", (packet, from) => {
    const remote = relay.remote;
    if (!remote || from.port !== remote.port || from.address !== remote.address) return;
    if (relay.held.length >= MAX_HELD_PACKETS) { relay.dropped += 1; return; }
    relay.held.push({ sendAt: performance.now() + relay.delayMs, packet });
    if (!relay.timer) arm(relay);
  });
  inner.on("message", (packet, from) => {
    const remote = relay.remote;
    if (!remote || from.port !== relay.local.port) return;
    outer.send(packet, remote.port, remote.address);
  });
  for (const socket of [outer, inner]) socket.on("error", (error) => parentPort.postMessage({ op: "error", id, error: String(error) }));
  relays.set(id, relay);
  parentPort.postMessage({ op: "opened", id, outerPort: outer.address().port, innerPort: inner.address().port });
};
setInterval(() => {
  for (const relay of relays.values()) {
    const { packets, lateMs, maxLateMs } = relay.window;
    if (packets === 0) continue;
    parentPort.postMessage({ op: "report", id: relay.id, packets, meanLateMs: lateMs / packets, maxLateMs, dropped: relay.dropped });
    relay.window = { packets: 0, lateMs: 0, maxLateMs: 0 };
  }
}, workerData.reportEveryMs);
parentPort.on("message", (message) => {
  if (message.op === "open") open(message).catch((error) => parentPort.postMessage({ op: "failed", id: message.id, error: String(error) }));
  const relay = relays.get(message.id);
  if (!relay) return;
  if (message.op === "connect") relay.remote = message.remote;
  if (message.op === "close") {
    relays.delete(message.id);
    relay.closed = true;
    clearTimeout(relay.timer);
    relay.held.length = 0;
    relay.outer.close();
    relay.inner.close();
  }
});
`;

/** The one relay thread of this process, started with the first relay; it never keeps the process alive. */
class RelayThread {
  static #shared: RelayThread | undefined;
  readonly #worker: Worker;
  readonly #relays = new Map<number, PipeDelayRelay>();
  readonly #opening = new Map<number, { resolve: (ports: { outerPort: number; innerPort: number }) => void; reject: (error: Error) => void }>();
  #nextId = 1;

  static get shared(): RelayThread {
    RelayThread.#shared ??= new RelayThread();
    return RelayThread.#shared;
  }

  private constructor() {
    this.#worker = new Worker(RELAY_THREAD_PROGRAM, { eval: true, workerData: { nice: RELAY_THREAD_NICE, reportEveryMs: REPORT_EVERY_MS } });
    this.#worker.unref();
    this.#worker.on("message", (message: FromThread) => this.#onMessage(message));
    const gone = (error: Error) => {
      log("error", "pipe_delay_relay_thread_gone", { error: String(error), relays: this.#relays.size });
      if (RelayThread.#shared === this) RelayThread.#shared = undefined;
      for (const { reject } of this.#opening.values()) reject(error);
      this.#opening.clear();
    };
    this.#worker.on("error", gone);
    this.#worker.on("exit", (code) => gone(new Error(`the relay thread exited (${code})`)));
  }

  open(host: string, local: Address, delayMs: number): Promise<{ id: number; outerPort: number; innerPort: number }> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#opening.set(id, { resolve: (ports) => resolve({ id, ...ports }), reject });
      this.#post({ op: "open", id, host, local, delayMs });
    });
  }

  adopt(id: number, relay: PipeDelayRelay): void {
    this.#relays.set(id, relay);
  }

  connect(id: number, remote: Address): void {
    this.#post({ op: "connect", id, remote });
  }

  close(id: number): void {
    this.#relays.delete(id);
    this.#post({ op: "close", id });
  }

  #post(message: ToThread): void {
    this.#worker.postMessage(message);
  }

  #onMessage(message: FromThread): void {
    if (message.op === "opened" || message.op === "failed") {
      const waiting = this.#opening.get(message.id);
      this.#opening.delete(message.id);
      if (message.op === "opened") waiting?.resolve({ outerPort: message.outerPort, innerPort: message.innerPort });
      else waiting?.reject(new Error(message.error));
      return;
    }
    this.#relays.get(message.id)?.onThreadMessage(message);
  }
}

/** A delay relay in front of one pipe transport (see the module's comment). */
export class PipeDelayRelay {
  readonly delayMs: number;
  readonly outerPort: number;
  readonly innerPort: number;
  readonly #thread: RelayThread;
  readonly #id: number;
  readonly #label: Record<string, string>;
  #dropped = 0;
  #closed = false;

  private constructor(thread: RelayThread, opened: { id: number; outerPort: number; innerPort: number }, delayMs: number, label: Record<string, string>) {
    this.#thread = thread;
    this.#id = opened.id;
    this.outerPort = opened.outerPort;
    this.innerPort = opened.innerPort;
    this.delayMs = delayMs;
    this.#label = label;
  }

  /**
   * Binds the two sockets on `host` (any free ports) in front of the local transport listening at `local`.
   * The peer is to be connected to {@link outerPort}, the local transport to {@link innerPort}. `label` names the
   * pipe in the relay's log lines.
   */
  static async open(host: string, local: Address, delayMs: number, label: Record<string, string> = {}): Promise<PipeDelayRelay> {
    const thread = RelayThread.shared;
    const relay = new PipeDelayRelay(thread, await thread.open(host, local, delayMs), delayMs, label);
    thread.adopt(relay.#id, relay);
    return relay;
  }

  /** Packets dropped because too many were held (as of the relay's last report). */
  get dropped(): number {
    return this.#dropped;
  }

  /** The peer's end, as the class object relayed it: only packets from there are taken, and replies go there. */
  connect(remote: Address): void {
    this.#thread.connect(this.#id, { address: remote.address, port: remote.port });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#thread.close(this.#id);
  }

  /** A report or a socket error from the relay thread. */
  onThreadMessage(message: FromThread): void {
    if (message.op === "error") {
      log("warn", "pipe_delay_relay_error", { ...this.#label, error: message.error });
      return;
    }
    if (message.op !== "report") return;
    this.#dropped = message.dropped;
    // Test figures depend on it: a relay that lets packets go late looks like network jitter to a receiver.
    log("info", "pipe_delay_relay", {
      ...this.#label,
      delayMs: this.delayMs,
      packets: message.packets,
      meanLateMs: Number(message.meanLateMs.toFixed(2)),
      maxLateMs: Number(message.maxLateMs.toFixed(1)),
      dropped: message.dropped,
    });
  }
}
