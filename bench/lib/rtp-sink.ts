/**
 * Counting RTP sinks for bench/sfu-forwarding.ts: child Node processes that bind UDP sockets, count RTP packets
 * per SSRC and find losses from sequence-number gaps. They run in their own processes so that the sink's
 * per-packet cost is visible (its CPU is reported) and does not slow the benchmark's own event loop, which
 * talks to the mediasoup workers.
 *
 * Many receive transports may send to one socket: every consumer has its own SSRC, so packets are told apart
 * by SSRC, not by socket.
 */
import { type ChildProcess, fork } from "node:child_process";
import dgram from "node:dgram";
import { fileURLToPath } from "node:url";

const CHILD_FLAG = "--rtp-sink-child";
/** Large kernel buffers absorb the bursts of a video frame sent to hundreds of consumers at once. */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Totals over every SSRC a sink has seen since it started. */
export interface SinkCounters {
  /** RTP packets received. */
  packets: number;
  /** Packets that should have arrived: per SSRC, highest sequence number − first + 1 (wraps unrolled). */
  expected: number;
  /** CPU time the sink process used (user + system), in ms. */
  cpuMs: number;
}

type ToChild = { type: "bind"; ports: number[] } | { type: "snapshot"; id: number };
type FromChild = { type: "bound" } | { type: "bind-failed"; message: string } | ({ type: "snapshot"; id: number } & SinkCounters);

/** A group of sink processes; receivers are pointed at {@link RtpSinks.ports}. */
export interface RtpSinks {
  readonly ports: readonly number[];
  readonly pids: readonly number[];
  /** The counters of every sink process, summed. */
  snapshot(): Promise<SinkCounters>;
  close(): void;
}

/** Forks `processes` sinks and spreads `ports` (consecutive, on 127.0.0.1) over them. */
export async function startRtpSinks(options: { processes: number; firstPort: number; sockets: number }): Promise<RtpSinks> {
  const ports = Array.from({ length: options.sockets }, (_, index) => options.firstPort + index);
  const children: ChildProcess[] = [];
  let nextId = 1;
  const pending = new Map<number, (counters: SinkCounters) => void>();
  const close = () => {
    for (const child of children) child.kill("SIGKILL");
  };
  try {
    for (let index = 0; index < options.processes; index++) {
      const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      children.push(child);
      child.on("message", (message: FromChild) => {
        if (message.type !== "snapshot") return;
        pending.get(message.id)?.({ packets: message.packets, expected: message.expected, cpuMs: message.cpuMs });
        pending.delete(message.id);
      });
      const share = ports.filter((_, portIndex) => portIndex % options.processes === index);
      await new Promise<void>((resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`RTP sink exited with code ${code} before binding`)));
        child.on("message", (message: FromChild) => {
          if (message.type === "bound") resolve();
          if (message.type === "bind-failed") reject(new Error(`RTP sink could not bind: ${message.message}`));
        });
        child.send({ type: "bind", ports: share } satisfies ToChild);
      });
    }
  } catch (error) {
    close();
    throw error;
  }
  const ask = (child: ChildProcess) =>
    new Promise<SinkCounters>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error("an RTP sink did not answer a snapshot within 5 s")), 5_000);
      pending.set(id, (counters) => {
        clearTimeout(timer);
        resolve(counters);
      });
      child.send({ type: "snapshot", id } satisfies ToChild);
    });
  return {
    ports,
    pids: children.map((child) => child.pid!),
    snapshot: async () => {
      const all = await Promise.all(children.map(ask));
      return all.reduce((sum, c) => ({ packets: sum.packets + c.packets, expected: sum.expected + c.expected, cpuMs: sum.cpuMs + c.cpuMs }), {
        packets: 0,
        expected: 0,
        cpuMs: 0,
      });
    },
    close,
  };
}

interface StreamState {
  first: number;
  /** Highest sequence number seen, with 16-bit wraps unrolled. */
  highest: number;
  received: number;
}

function runChild(): void {
  const streams = new Map<number, StreamState>();
  const sockets: dgram.Socket[] = [];
  const onPacket = (packet: Buffer) => {
    // RTP version 2 and not RTCP (mediasoup muxes its sender reports onto the same socket).
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const packetType = packet[1]!;
    if (packetType >= 192 && packetType <= 223) return;
    const ssrc = packet.readUInt32BE(8);
    const sequence = packet.readUInt16BE(2);
    const state = streams.get(ssrc);
    if (!state) {
      streams.set(ssrc, { first: sequence, highest: sequence, received: 1 });
      return;
    }
    state.received += 1;
    const ahead = (sequence - state.highest) & 0xffff;
    // A packet up to half the sequence space ahead is new; anything else is late or duplicated.
    if (ahead !== 0 && ahead < 0x8000) state.highest += ahead;
  };
  process.on("message", async (message: ToChild) => {
    if (message.type === "bind") {
      try {
        for (const port of message.ports) {
          const socket = dgram.createSocket({ type: "udp4", recvBufferSize: RECEIVE_BUFFER_BYTES });
          socket.on("message", onPacket);
          await new Promise<void>((resolve, reject) => {
            socket.once("error", reject);
            socket.bind(port, "127.0.0.1", () => {
              socket.off("error", reject);
              resolve();
            });
          });
          sockets.push(socket);
        }
        process.send!({ type: "bound" } satisfies FromChild);
      } catch (error) {
        process.send!({ type: "bind-failed", message: String(error) } satisfies FromChild);
      }
      return;
    }
    let packets = 0;
    let expected = 0;
    for (const state of streams.values()) {
      packets += state.received;
      expected += state.highest - state.first + 1;
    }
    const cpu = process.cpuUsage();
    process.send!({ type: "snapshot", id: message.id, packets, expected, cpuMs: (cpu.user + cpu.system) / 1000 } satisfies FromChild);
  });
  // The parent going away (even killed) must not leave sinks bound to the benchmark's ports.
  process.on("disconnect", () => process.exit(0));
}

if (process.argv.includes(CHILD_FLAG)) runChild();
