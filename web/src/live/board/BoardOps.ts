import { createEffect, on } from "solid-js";
import { createStore, produce } from "solid-js/store";
import { type BoardOp, type BoardSurface, type Shape, surfaceKey } from "../../../../schema/protocol/board";
import { ChannelRequestError, type ClassChannel } from "../class-channel";

/** An op sent by this browser and not yet seen in the board's state (shown at once, as if accepted). */
export interface PendingOp {
  clientOpId: string;
  surface: BoardSurface;
  key: string;
  op: BoardOp;
  /** The object's order for it once it answered; the op is dropped when the board state reaches it. */
  opSeq: number | null;
}

/**
 * Sends this browser's board ops. Each gets a client op id, is shown at once (the pending list), and is kept until
 * the object answered; a lost connection keeps it, and it is sent again after the reconnect (the object answers a
 * repeated client op id from its log, so a resend never applies twice). A refusal drops it and is reported.
 */
export class BoardOps {
  readonly pending: PendingOp[];
  private readonly setPending: (fn: (list: PendingOp[]) => void) => void;

  constructor(
    private readonly channel: ClassChannel,
    private readonly onError: (error: unknown) => void,
  ) {
    const [pending, setPending] = createStore<PendingOp[]>([]);
    this.pending = pending;
    this.setPending = (fn) => setPending(produce(fn));
    createEffect(
      on(
        () => channel.state.status,
        (status, previous) => {
          if (status === "open" && previous !== undefined && previous !== "open") this.resend();
        },
      ),
    );
    // An op stops being pending once the state it shows is the object's: its order reached, or another surface shown.
    createEffect(() => {
      const current = channel.state.board.current;
      if (!current) return;
      const reached = current.opSeq;
      if (this.pending.some((entry) => entry.opSeq !== null && entry.opSeq <= reached)) {
        this.setPending((list) => {
          for (let i = list.length - 1; i >= 0; i--) if (list[i]!.opSeq !== null && list[i]!.opSeq! <= reached) list.splice(i, 1);
        });
      }
    });
  }

  /** Sends `op` on `surface`; resolves when the object accepted it, or when it waits for a reconnect. */
  async send(surface: BoardSurface, op: BoardOp): Promise<void> {
    const entry: PendingOp = { clientOpId: crypto.randomUUID(), surface, key: surfaceKey(surface), op, opSeq: null };
    this.setPending((list) => void list.push(entry));
    await this.transmit(entry);
  }

  /** The shapes of `key` as the user should see them: the object's, with this browser's pending ops on top. */
  applyPending(key: string, shapes: { shape: Shape; userId: string }[], myUserId: string): { shape: Shape; userId: string }[] {
    let result = shapes;
    for (const entry of this.pending) {
      if (entry.key !== key) continue;
      const op = entry.op;
      if (op.type === "add") {
        if (!result.some((s) => s.shape.id === op.shape.id)) result = [...result, { shape: op.shape, userId: myUserId }];
      } else if (op.type === "update") result = result.map((s) => (s.shape.id === op.shape.id ? { ...s, shape: op.shape } : s));
      else if (op.type === "delete") result = result.filter((s) => !op.shapeIds.includes(s.shape.id));
      else result = [];
    }
    return result;
  }

  private resend(): void {
    for (const entry of this.pending) if (entry.opSeq === null) void this.transmit(entry);
  }

  private async transmit(entry: PendingOp): Promise<void> {
    try {
      const { opSeq } = await this.channel.request("board.op", { clientOpId: entry.clientOpId, surface: entry.surface, op: entry.op });
      this.setPending((list) => {
        const found = list.find((item) => item.clientOpId === entry.clientOpId);
        if (found) found.opSeq = opSeq;
      });
    } catch (error) {
      // Unanswered (connection lost or slow): kept for the resend after the reconnect. Refused: dropped.
      if (error instanceof ChannelRequestError && error.code === "UNAVAILABLE") return;
      this.setPending((list) => {
        const index = list.findIndex((item) => item.clientOpId === entry.clientOpId);
        if (index >= 0) list.splice(index, 1);
      });
      this.onError(error);
    }
  }
}
