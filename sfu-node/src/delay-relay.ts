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
 */
import dgram from "node:dgram";
import { log } from "./log";

/** Packets held at once before more are dropped (a 110 ms hold of a few Mbit/s is a few hundred). */
const MAX_HELD_PACKETS = 20_000;
/** How often a relay that carried packets logs how late it let them go (`pipe_delay_relay`). */
const REPORT_EVERY_MS = 5_000;
/** Socket buffers asked for (the kernel may give less): a keyframe burst must not overflow while the loop is busy. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

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

interface Held {
  sendAt: number;
  packet: Buffer;
}

/** A delay relay in front of one pipe transport (see the module's comment). */
export class PipeDelayRelay {
  readonly delayMs: number;
  readonly #outer: dgram.Socket;
  readonly #inner: dgram.Socket;
  readonly #local: Address;
  #remote: Address | undefined;
  readonly #held: Held[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #dropped = 0;
  /** Since the last report: packets let go, and how much later than their time (the event loop's lateness). */
  #window = { packets: 0, lateMs: 0, maxLateMs: 0 };
  readonly #reportTimer: NodeJS.Timeout;

  private constructor(outer: dgram.Socket, inner: dgram.Socket, local: Address, delayMs: number, label: Record<string, string>) {
    this.#outer = outer;
    this.#inner = inner;
    this.#local = local;
    this.delayMs = delayMs;
    // Test figures depend on it: a busy machine makes the relay late, which a receiver sees as network jitter.
    this.#reportTimer = setInterval(() => {
      const { packets, lateMs, maxLateMs } = this.#window;
      if (packets === 0) return;
      log("info", "pipe_delay_relay", {
        ...label,
        delayMs,
        packets,
        meanLateMs: Number((lateMs / packets).toFixed(2)),
        maxLateMs: Number(maxLateMs.toFixed(1)),
        dropped: this.#dropped,
      });
      this.#window = { packets: 0, lateMs: 0, maxLateMs: 0 };
    }, REPORT_EVERY_MS);
    this.#reportTimer.unref();
    outer.on("message", (packet, from) => this.#fromPeer(packet, from));
    inner.on("message", (packet, from) => this.#fromLocal(packet, from));
    for (const socket of [outer, inner]) socket.on("error", (error) => log("warn", "pipe_delay_relay_error", { error: String(error) }));
  }

  /**
   * Binds the two sockets on `host` (any free ports) in front of the local transport listening at `local`.
   * The peer is to be connected to {@link outerPort}, the local transport to {@link innerPort}. `label` names the
   * pipe in the relay's log lines.
   */
  static async open(host: string, local: Address, delayMs: number, label: Record<string, string> = {}): Promise<PipeDelayRelay> {
    const type = host.includes(":") ? "udp6" : "udp4";
    const bind = async () => {
      const socket = dgram.createSocket({ type, recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, host, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      return socket;
    };
    const outer = await bind();
    const inner = await bind().catch((error: unknown) => {
      outer.close();
      throw error;
    });
    return new PipeDelayRelay(outer, inner, local, delayMs, label);
  }

  /** The port the peer sends to (reported as this node's end of the pipe). */
  get outerPort(): number {
    return this.#outer.address().port;
  }

  /** The port the local transport is connected to. */
  get innerPort(): number {
    return this.#inner.address().port;
  }

  /** Packets dropped because too many were held. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The peer's end, as the class object relayed it: only packets from there are taken, and replies go there. */
  connect(remote: Address): void {
    this.#remote = { address: remote.address, port: remote.port };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#reportTimer);
    this.#held.length = 0;
    this.#outer.close();
    this.#inner.close();
  }

  #fromPeer(packet: Buffer, from: dgram.RemoteInfo): void {
    const remote = this.#remote;
    if (!remote || from.port !== remote.port || from.address !== remote.address) return;
    if (this.#held.length >= MAX_HELD_PACKETS) {
      this.#dropped += 1;
      return;
    }
    this.#held.push({ sendAt: performance.now() + this.delayMs, packet });
    if (!this.#timer) this.#arm();
  }

  #fromLocal(packet: Buffer, from: dgram.RemoteInfo): void {
    const remote = this.#remote;
    if (!remote || from.port !== this.#local.port) return;
    this.#outer.send(packet, remote.port, remote.address);
  }

  /** One timer for the head of the queue: a constant delay keeps the queue in arrival order. */
  #arm(): void {
    const head = this.#held[0];
    if (!head || this.#closed) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(() => this.#release(), Math.max(0, head.sendAt - performance.now()));
  }

  #release(): void {
    const now = performance.now();
    let released = 0;
    while (released < this.#held.length && this.#held[released]!.sendAt <= now) {
      const held = this.#held[released]!;
      this.#inner.send(held.packet, this.#local.port, this.#local.address);
      const late = now - held.sendAt;
      this.#window.packets += 1;
      this.#window.lateMs += late;
      if (late > this.#window.maxLateMs) this.#window.maxLateMs = late;
      released += 1;
    }
    this.#held.splice(0, released);
    this.#arm();
  }
}
