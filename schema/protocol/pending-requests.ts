import type { ResponseError, ResponseFrame } from "./envelope";

interface Entry<Context> {
  context: Context;
  resolve(data: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The requests a client of the envelope (schema/protocol/envelope.ts) has sent and not yet had answered: each
 * gets the next id and a timeout, is settled once by the response frame with its id, and fails when the
 * socket goes. Used by every client of the envelope: the browser's class channel and media signaling, and the
 * class object's commands to sfu-nodes. `Context` is what a request needs remembered to read its answer (the
 * method, for a response schema).
 */
export class PendingRequests<Context = undefined> {
  private readonly pending = new Map<number, Entry<Context>>();
  private nextId = 1;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Registers a request and hands its id to `send`, which puts the frame on the wire (a throw from it fails
   * the request). The promise resolves with what {@link settle}'s `read` makes of the answer.
   */
  send(context: Context, timeoutError: () => Error, send: (id: number) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(timeoutError());
      }, this.timeoutMs);
      this.pending.set(id, { context, resolve, reject, timer });
      try {
        send(id);
      } catch (error) {
        this.take(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * Settles the request `frame` answers (a frame nobody waits for is ignored): `read` turns an ok answer's data
   * into the result (it may throw, e.g. when the data does not match the method's schema), `refused` turns an
   * error answer into the rejection.
   */
  settle(frame: ResponseFrame, read: (data: unknown, context: Context) => unknown, refused: (error: ResponseError, context: Context) => Error): void {
    const entry = frame.id === null ? undefined : this.take(frame.id);
    if (!entry) return;
    if (!frame.ok) {
      entry.reject(refused(frame.error, entry.context));
      return;
    }
    try {
      entry.resolve(read(frame.data, entry.context));
    } catch (error) {
      entry.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Fails every request still waiting (the socket closed: no answer will come). */
  failAll(error: () => Error): void {
    for (const id of [...this.pending.keys()]) this.take(id)?.reject(error());
  }

  private take(id: number): Entry<Context> | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }
}
