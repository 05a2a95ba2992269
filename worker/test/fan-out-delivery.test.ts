/**
 * The class object's delivery channel to one fan-out object, when that object does not answer: batches are sent
 * again in order, and past the give-up bound (time or items queued) the queue is replaced by the closes the class
 * object answers, so it cannot grow without end; once the object answers it gets the batch that was on its way,
 * then the closes, nothing of what was dropped.
 */
import { describe, expect, it } from "vitest";
import { DeliveryChannel, type FanOutTarget } from "../../durable-objects/fan-out";
import type { FanOutDelivery, FanOutItem } from "../../schema/protocol/fan-out";

/** A fan-out object that refuses deliveries while `down`, and keeps what it took. */
function flakyTarget() {
  const state = { down: true, attempts: 0, taken: [] as FanOutDelivery[] };
  const target: FanOutTarget = {
    async deliver(delivery) {
      state.attempts += 1;
      if (state.down) throw new Error("the fan-out object does not answer");
      state.taken.push(delivery);
      return { sockets: null };
    },
  };
  return { state, target };
}

const send = (n: number): FanOutItem => ({ kind: "send", to: "audience:students", frame: `frame ${n}` });
const closeOf = (socketId: string): FanOutItem => ({ kind: "close", socketId, code: 1013, reason: "reconnect" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe("delivery to a fan-out object that does not answer", () => {
  it("gives up after the time bound: what queued is replaced by the closes, sent after the batch that was on its way", async () => {
    const { state, target } = flakyTarget();
    let givenUp = 0;
    const channel = new DeliveryChannel(
      7,
      () => target,
      {
        restarted: () => undefined,
        givenUp: () => {
          givenUp += 1;
          return [closeOf("a"), closeOf("b")];
        },
      },
      { afterMs: 400, items: 1_000 },
    );
    channel.push(send(1));
    await until(() => state.attempts >= 1, "a first attempt");
    for (let n = 2; n <= 20; n += 1) channel.push(send(n));
    await until(() => givenUp === 1, "given up");
    expect(channel.queued).toBe(2);

    state.down = false;
    await until(() => state.taken.length === 2, "both batches taken");
    // The batch on its way when the object stopped answering, then the closes; frames 2–20 are not sent.
    expect(state.taken.map((delivery) => [delivery.epoch, delivery.batch, delivery.items])).toEqual([
      [7, 1, [send(1)]],
      [7, 2, [closeOf("a"), closeOf("b")]],
    ]);
    expect(givenUp).toBe(1);
    // Answering again, the channel carries on as before.
    channel.push(send(21));
    await until(() => state.taken.length === 3, "a later batch");
    expect(state.taken[2]).toMatchObject({ batch: 3, items: [send(21)] });
  });

  it("gives up when too much queues before the time bound, and does not give up while deliveries go through", async () => {
    const { state, target } = flakyTarget();
    let givenUp = 0;
    const events = {
      restarted: () => undefined,
      givenUp: () => {
        givenUp += 1;
        return [closeOf("a")];
      },
    };
    const channel = new DeliveryChannel(1, () => target, events, { afterMs: 60_000, items: 50 });
    channel.push(send(0));
    await until(() => state.attempts >= 1, "a first attempt");
    for (let n = 1; n <= 50; n += 1) channel.push(send(n));
    expect(givenUp).toBe(0);
    channel.push(send(51));
    expect(givenUp).toBe(1);
    expect(channel.queued).toBe(1);

    // An object that answers is never given up on, however much is sent to it.
    state.down = false;
    await until(() => channel.queued === 0 && state.taken.length === 2, "the queue sent");
    for (let n = 100; n < 400; n += 1) channel.push(send(n));
    await until(() => channel.queued === 0, "everything sent");
    expect(givenUp).toBe(1);
    expect(state.taken.flatMap((delivery) => delivery.items).filter((item) => item.kind === "send")).toHaveLength(301);
  });
});
