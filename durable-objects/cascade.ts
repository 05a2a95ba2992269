import type { ClassLinkAnswer, ClassLinkCommand, ClassLinkCommandData, PipeOpenAnswer } from "../schema/protocol/class-link";
import type { MediaSource } from "../schema/tokens/media-token";

/** How the cascade reaches the class's nodes over their class links. */
export interface CascadeLinks {
  /** Sends a command to a node's class link; resolves with its answer. */
  command<M extends ClassLinkCommand>(nodeId: string, method: M, data: ClassLinkCommandData<M>): Promise<ClassLinkAnswer<M>>;
  /** The nodes with an open class link for this class. */
  nodes(): string[];
}

/** A producer of the class as the media map knows it (reported over its node's class link). */
export interface CascadeProducer {
  producerId: string;
  nodeId: string;
  userId: string;
  source: MediaSource;
}

/**
 * One class as one media session across nodes: when a participant on node B consumes a producer that lives on
 * node A, B says `pipeWanted`, and this has A and B open and connect a PipeTransport pair (once per node pair,
 * reused), A send the producer through it (`pipeConsume`) and B take it in under the same id (`pipeProduce`),
 * which B's waiting consume then uses. Every later consumer on B shares that copy; B closes it a while after its
 * last consumer leaves and says `pipeIdle`, and A stops sending it. Pause and close of a producer are relayed
 * to the class's other nodes (nothing but media crosses a pipe; a node without a copy ignores them). One hop
 * from the producer's node to each consuming node, no chains.
 *
 * Nodes only ever hear of nodes this class object knows from their authenticated class links (a producer's
 * node is the link that reported it; the asking node is the link that asked), and each pipe end's address is
 * the one its node reported in `pipeOpen`, never one guessed here. Nothing is remembered between frames but the
 * pairs being made right now: a class object is evicted from memory whenever it hibernates, so which pairs
 * exist is read from the nodes themselves (each `pipeOpen` answer says what its end is connected to), and the
 * nodes' `pipeConsume`/`pipeProduce` are idempotent, so asking again is always safe.
 */
export class Cascade {
  /** Pairs being opened or checked now, by "A|B" (node ids sorted): a second ask waits for the first. */
  private readonly pairing = new Map<string, Promise<void>>();
  /** Pipes being made, by "producerId>B". */
  private readonly making = new Map<string, Promise<void>>();

  constructor(
    private readonly links: CascadeLinks,
    private readonly producer: (producerId: string) => CascadeProducer | null,
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

  /** Node `at` closed its unused copy of `producerId`: the producer's node stops sending it there. */
  async idle(at: string, producerId: string): Promise<void> {
    const from = this.producer(producerId)?.nodeId;
    // A producer already gone took its pipe consumers with it.
    if (!from || from === at) return;
    await this.links.command(from, "pipeUnconsume", { peerNodeId: at, producerId }).catch(() => undefined);
  }

  /** The producer was paused or resumed on node `from`: so are its copies on the others. */
  async producerPaused(from: string, producerId: string, paused: boolean): Promise<void> {
    await this.toOthers(from, (nodeId) => this.links.command(nodeId, "pipePause", { producerId, paused }));
  }

  /** The producer closed on node `from`: so do its copies. */
  async producerRemoved(from: string, producerId: string): Promise<void> {
    await this.toOthers(from, (nodeId) => this.links.command(nodeId, "pipeDrop", { producerId }));
  }

  /** A node's link is gone: the other nodes close their pipes to it, and everything through them. */
  async nodeGone(nodeId: string): Promise<void> {
    await this.toOthers(nodeId, (other) => this.links.command(other, "pipeClose", { peerNodeId: nodeId }));
  }

  private async toOthers(except: string, send: (nodeId: string) => Promise<unknown>): Promise<void> {
    await Promise.all(
      this.links
        .nodes()
        .filter((nodeId) => nodeId !== except)
        .map((nodeId) => send(nodeId).catch(() => undefined)),
    );
  }

  private async pipe(to: string, producerId: string): Promise<void> {
    const producer = this.producer(producerId);
    if (!producer) throw new CascadeError("That stream has ended");
    const from = producer.nodeId;
    if (from === to) throw new CascadeError("That stream is on your own media server already");
    for (let attempt = 0; ; attempt++) {
      // Checked again before the second try: a node that answered the first check may have lost its end since
      // (then the pair is replaced). A pair that checks out is never closed here: other streams may use it.
      await this.pair(from, to);
      try {
        const stream = await this.links.command(from, "pipeConsume", { peerNodeId: to, producerId });
        await this.links.command(to, "pipeProduce", { peerNodeId: from, producerId, userId: producer.userId, source: producer.source, stream });
        // The producer closed while its copy was being made: the `pipeDrop` sent then found nothing on `to`, so
        // the copy just made would stay, dead, until it went idle.
        if (!this.producer(producerId)) await this.links.command(to, "pipeDrop", { producerId }).catch(() => undefined);
        return;
      } catch (error) {
        if (attempt > 0) throw error;
      }
    }
  }

  /** Makes sure `a` and `b` have a pipe pair whose ends point at each other (concurrent callers share one check). */
  private async pair(a: string, b: string): Promise<void> {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let pairing = this.pairing.get(key);
    if (!pairing) {
      pairing = this.connectPair(a, b).finally(() => this.pairing.delete(key));
      this.pairing.set(key, pairing);
    }
    await pairing;
  }

  private async connectPair(a: string, b: string): Promise<void> {
    let [endA, endB] = await this.open(a, b);
    const pointsAt = (end: PipeOpenAnswer, other: PipeOpenAnswer) => end.connectedTo?.ip === other.ip && end.connectedTo.port === other.port;
    if (pointsAt(endA, endB) && pointsAt(endB, endA)) return;
    // An end connected elsewhere (its peer's end was replaced since): both ends are made anew.
    if ((endA.connectedTo && !pointsAt(endA, endB)) || (endB.connectedTo && !pointsAt(endB, endA))) {
      await Promise.all([this.links.command(a, "pipeClose", { peerNodeId: b }), this.links.command(b, "pipeClose", { peerNodeId: a })]);
      [endA, endB] = await this.open(a, b);
    }
    const { connectedTo: _a, ...remoteA } = endA;
    const { connectedTo: _b, ...remoteB } = endB;
    await Promise.all([
      endA.connectedTo ? undefined : this.links.command(a, "pipeConnect", { peerNodeId: b, remote: remoteB }),
      endB.connectedTo ? undefined : this.links.command(b, "pipeConnect", { peerNodeId: a, remote: remoteA }),
    ]);
  }

  private open(a: string, b: string): Promise<[PipeOpenAnswer, PipeOpenAnswer]> {
    return Promise.all([this.links.command(a, "pipeOpen", { peerNodeId: b }), this.links.command(b, "pipeOpen", { peerNodeId: a })]);
  }
}

/** A reason the asking node's participant may read. */
class CascadeError extends Error {}
