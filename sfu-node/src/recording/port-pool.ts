import dgram from "node:dgram";

/** The two local UDP ports FFmpeg binds for one recorded track: RTP on an even port, RTCP on the next one. */
export interface PortPair {
  readonly rtp: number;
  readonly rtcp: number;
}

/** No free pair was left in the pool's range. */
export class PortPoolExhaustedError extends Error {
  constructor(min: number, max: number) {
    super(`No free recording port pair between ${min} and ${max}`);
    this.name = "PortPoolExhaustedError";
  }
}

/**
 * The ports recorder FFmpeg processes listen on. FFmpeg must be told its port in the SDP before it starts,
 * so the node hands them out itself: pairs (even RTP, odd RTCP) from a configured range, skipping pairs some
 * other process already holds. Every capture releases its pair on every exit path; `inUse` lets tests check.
 */
export class PortPool {
  readonly min: number;
  readonly max: number;
  readonly #taken = new Set<number>();
  #next: number;

  constructor(min: number, max: number) {
    if (min > max - 1) throw new Error(`A recording port range needs at least two ports (got ${min}-${max})`);
    this.min = min % 2 === 0 ? min : min + 1;
    this.max = max;
    this.#next = this.min;
  }

  /** Pairs currently handed out. */
  get inUse(): number {
    return this.#taken.size;
  }

  /** The next free pair (round robin, so a just-released pair is not reused while its old socket lingers). */
  async acquire(): Promise<PortPair> {
    const pairs = Math.floor((this.max - this.min + 1) / 2);
    for (let tried = 0; tried < pairs; tried++) {
      const rtp = this.#next;
      this.#next = rtp + 2 + 1 > this.max ? this.min : rtp + 2;
      if (this.#taken.has(rtp)) continue;
      this.#taken.add(rtp);
      if (await bothFree(rtp, rtp + 1)) return { rtp, rtcp: rtp + 1 };
      this.#taken.delete(rtp);
    }
    throw new PortPoolExhaustedError(this.min, this.max);
  }

  /** Gives a pair back. Safe to call twice. */
  release(pair: PortPair): void {
    this.#taken.delete(pair.rtp);
  }
}

/** Whether nothing else on this machine holds `ports` (checked by binding and letting go at once). */
async function bothFree(...ports: number[]): Promise<boolean> {
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
