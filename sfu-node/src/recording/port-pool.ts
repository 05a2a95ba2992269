import dgram from "node:dgram";

/**
 * The local UDP ports of one recorded track: FFmpeg binds `rtp` and `rtcp` (the next port), and the node
 * reads mediasoup's RTCP sender reports on `reports`.
 */
export interface PortBlock {
  readonly rtp: number;
  readonly rtcp: number;
  readonly reports: number;
}

/** Ports per track, aligned so a block never straddles another. */
const BLOCK = 4;

/** No free block was left in the pool's range. */
export class PortPoolExhaustedError extends Error {
  constructor(min: number, max: number) {
    super(`No free recording port block between ${min} and ${max}`);
    this.name = "PortPoolExhaustedError";
  }
}

/**
 * The ports recorder FFmpeg processes (and the node's sender-report sockets) listen on. FFmpeg must be told
 * its port in the SDP before it starts, so the node hands them out itself: blocks of four from a configured
 * range, skipping blocks some other process already holds. Every capture releases its block on every exit
 * path; `inUse` lets tests check.
 */
export class PortPool {
  readonly min: number;
  readonly max: number;
  readonly #taken = new Set<number>();
  #next: number;

  constructor(min: number, max: number) {
    this.min = Math.ceil(min / BLOCK) * BLOCK;
    if (this.min + BLOCK - 1 > max) throw new Error(`A recording port range needs at least ${BLOCK} aligned ports (got ${min}-${max})`);
    this.max = max;
    this.#next = this.min;
  }

  /** Blocks currently handed out. */
  get inUse(): number {
    return this.#taken.size;
  }

  /** The next free block (round robin, so a just-released block is not reused while its old sockets linger). */
  async acquire(): Promise<PortBlock> {
    const blocks = Math.floor((this.max - this.min + 1) / BLOCK);
    for (let tried = 0; tried < blocks; tried++) {
      const rtp = this.#next;
      this.#next = rtp + 2 * BLOCK - 1 > this.max ? this.min : rtp + BLOCK;
      if (this.#taken.has(rtp)) continue;
      this.#taken.add(rtp);
      if (await allFree(rtp, rtp + 1, rtp + 2)) return { rtp, rtcp: rtp + 1, reports: rtp + 2 };
      this.#taken.delete(rtp);
    }
    throw new PortPoolExhaustedError(this.min, this.max);
  }

  /** Gives a block back. Safe to call twice. */
  release(block: PortBlock): void {
    this.#taken.delete(block.rtp);
  }
}

/** Whether nothing else on this machine holds `ports` (checked by binding and letting go at once). */
async function allFree(...ports: number[]): Promise<boolean> {
  const sockets: dgram.Socket[] = [];
  try {
    for (const port of ports) {
      const socket = dgram.createSocket("udp4");
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, "0.0.0.0", () => resolve());
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())).catch(() => undefined)));
  }
}
