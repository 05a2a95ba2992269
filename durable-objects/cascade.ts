import type { ClassLinkAnswer, ClassLinkCommand, ClassLinkCommandData } from "../schema/protocol/class-link";
import type { MediaSource } from "../schema/tokens/media-token";

/** How the cascade reaches the class's nodes: a command over a node's class link, resolving with its answer. */
export interface CascadeLinks {
  command<M extends ClassLinkCommand>(nodeId: string, method: M, data: ClassLinkCommandData<M>): Promise<ClassLinkAnswer<M>>;
}

/** A producer of the class as the media map knows it (reported over its node's class link). */
export interface CascadeProducer {
  producerId: string;
  nodeId: string;
  userId: string;
  source: MediaSource;
}

interface Pair {
  readonly pipeId: string;
  readonly ready: Promise<void>;
}

/**
 * One class as one media session across nodes: when a participant on node B consumes a producer that lives on
 * node A, B says `pipeWanted`, and this has A and B open and connect a PipeTransport pair (once per node pair,
 * reused), A send the producer through it (`pipeConsume`) and B take it in under the same id
 * (`pipeProduce`), which B's waiting consume then uses. Every later consumer on B shares that copy; B closes it
 * a while after its last consumer leaves and says `pipeIdle`, and A stops sending it. Pause and close of the
 * producer are relayed to every node holding a copy (nothing but media crosses a pipe). One hop from the
 * producer's node to each consuming node, no chains.
 *
 * Nodes only ever hear of nodes this class object knows from their authenticated class links (a producer's
 * node is the link that reported it; the asking node is the link that asked), and each pipe end's address is
 * the one its node reported in `pipeOpen`, never one guessed here. The state is in memory: an object woken
 * from hibernation has forgotten its pairs and opens new ones (a new `pipeId` replaces a node's old end), and
 * the nodes' `pipeConsume`/`pipeProduce` are idempotent, so asking again is always safe.
 */
export class Cascade {
  /** Pipe pairs by "A|B" (node ids sorted). */
  private readonly pairs = new Map<string, Pair>();
  /** Pipes being made, by "producerId>B": a second ask waits for the first. */
  private readonly making = new Map<string, Promise<void>>();
  /** Copies made: producer id → node holding a copy → node sending it. */
  private readonly copies = new Map<string, Map<string, string>>();

  constructor(
    private readonly links: CascadeLinks,
    private readonly producer: (producerId: string) => CascadeProducer | null,
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {}

  /** Node `to` wants `producerId` for a consumer of its own: piped there, or `pipeUnavailable` with the reason. */
  async wanted(to: string, producerId: string): Promise<void> {
    const key = `${producerId}>${to}`;
    let making = this.making.get(key);
    if (!making) {
      making = this.pipe(to, producerId).finally(() => this.making.delete(key));
      this.making.set(key, making);
    }
    try {
      await making;
    } catch (error) {
      const message = error instanceof CascadeError ? error.message : "That stream could not be brought to your media server; try again";
      console.warn(JSON.stringify({ event: "cascade_pipe_failed", to, producerId, error: String(error) }));
      await this.links.command(to, "pipeUnavailable", { producerId, message }).catch(() => undefined);
    }
  }

  /** Node `at` closed its unused copy of `producerId`: its sender stops sending it there. */
  async idle(at: string, producerId: string): Promise<void> {
    const from = this.copies.get(producerId)?.get(at);
    if (!from) return;
    this.forgetCopy(producerId, at);
    await this.links.command(from, "pipeUnconsume", { peerNodeId: at, producerId }).catch(() => undefined);
  }

  /** The producer was paused or resumed on its node: so are its copies. */
  async producerPaused(producerId: string, paused: boolean): Promise<void> {
    const holders = [...(this.copies.get(producerId)?.keys() ?? [])];
    await Promise.all(holders.map((at) => this.links.command(at, "pipePause", { producerId, paused }).catch(() => undefined)));
  }

  /** The producer closed on its node: so do its copies. */
  async producerRemoved(producerId: string): Promise<void> {
    const holders = [...(this.copies.get(producerId)?.keys() ?? [])];
    this.copies.delete(producerId);
    await Promise.all(holders.map((at) => this.links.command(at, "pipeDrop", { producerId }).catch(() => undefined)));
  }

  /** A node's link is gone: the other nodes close their pipes to it, and everything through them is forgotten. */
  async nodeGone(nodeId: string): Promise<void> {
    const others: string[] = [];
    for (const key of [...this.pairs.keys()]) {
      const [a, b] = key.split("|") as [string, string];
      if (a !== nodeId && b !== nodeId) continue;
      this.pairs.delete(key);
      others.push(a === nodeId ? b : a);
    }
    for (const [producerId, holders] of [...this.copies]) {
      for (const [at, from] of [...holders]) if (at === nodeId || from === nodeId) this.forgetCopy(producerId, at);
    }
    await Promise.all(others.map((other) => this.links.command(other, "pipeClose", { peerNodeId: nodeId }).catch(() => undefined)));
  }

  private async pipe(to: string, producerId: string): Promise<void> {
    const producer = this.producer(producerId);
    if (!producer) throw new CascadeError("That stream has ended");
    const from = producer.nodeId;
    if (from === to) throw new CascadeError("That stream is on your own media server already");
    for (let attempt = 0; ; attempt++) {
      const pair = await this.pair(from, to);
      try {
        const stream = await this.links.command(from, "pipeConsume", { peerNodeId: to, producerId });
        await this.links.command(to, "pipeProduce", { peerNodeId: from, producerId, userId: producer.userId, source: producer.source, stream });
        break;
      } catch (error) {
        // A node that restarted its room since has no end for this pair any more: open a new pair, once.
        if (attempt > 0) throw error;
        if (this.pairs.get(pairKey(from, to)) === pair) this.pairs.delete(pairKey(from, to));
      }
    }
    let holders = this.copies.get(producerId);
    if (!holders) {
      holders = new Map();
      this.copies.set(producerId, holders);
    }
    holders.set(to, from);
  }

  /** The pipe pair between `a` and `b`, opened and connected on first use (both ends at once). */
  private async pair(a: string, b: string): Promise<Pair> {
    const key = pairKey(a, b);
    const existing = this.pairs.get(key);
    if (existing) {
      await existing.ready;
      return existing;
    }
    const pipeId = this.newId();
    const ready = (async () => {
      const [endA, endB] = await Promise.all([
        this.links.command(a, "pipeOpen", { peerNodeId: b, pipeId }),
        this.links.command(b, "pipeOpen", { peerNodeId: a, pipeId }),
      ]);
      await Promise.all([
        this.links.command(a, "pipeConnect", { peerNodeId: b, pipeId, remote: endB }),
        this.links.command(b, "pipeConnect", { peerNodeId: a, pipeId, remote: endA }),
      ]);
    })();
    const pair: Pair = { pipeId, ready };
    this.pairs.set(key, pair);
    try {
      await ready;
    } catch (error) {
      if (this.pairs.get(key) === pair) this.pairs.delete(key);
      throw error;
    }
    return pair;
  }

  private forgetCopy(producerId: string, at: string): void {
    const holders = this.copies.get(producerId);
    holders?.delete(at);
    if (holders?.size === 0) this.copies.delete(producerId);
  }
}

/** A reason the asking node's participant may read. */
class CascadeError extends Error {}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
