import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MediaJoinResponse } from "../../schema/protocol/classroom";
import {
  ConnectionLadder,
  HANDOVER_CHECK_MS,
  HANDOVER_MAX_MS,
  ICE_RECOVERY_MS,
  type LadderDependencies,
  type MediaStatus,
  REJOIN_BASE_MS,
  REJOIN_MAX_MS,
  RENEW_BEFORE_EXPIRY_MS,
} from "../../web/src/live/media/connection-ladder";

// The browser's connection ladder (web/src/live/media/connection-ladder.ts) alone: the class channel, the
// node's socket and the transports are fakes that record what the ladder asked for; time is vitest's fake clock.

const TOKEN_LIFETIME_MS = 10 * 60_000;

/** A refusal with a code, as the class channel or the node sends it. */
class Refusal extends Error {
  constructor(
    readonly from: "class" | "node",
    readonly code: string,
    readonly retryAfterMs = 0,
  ) {
    super(`${from} said ${code}`);
  }
}

interface FakeLink {
  id: number;
  closed: boolean;
}

/** The world around one browser's ladder: what it asked for and when, and what it showed the user. */
class FakeWorld {
  readonly joinTimes: number[] = [];
  readonly statuses: MediaStatus[] = [];
  message: string | null = null;
  readonly links: FakeLink[] = [];
  readonly renewals: string[] = [];
  readonly handedOver: string[] = [];
  /** What the next `media.join`s answer; an empty queue grants a place. */
  readonly joinAnswers: (Refusal | "grant")[] = [];
  /** What each `media.join` named as unreachable (undefined: nothing). */
  readonly unreachableClaims: (string | undefined)[] = [];
  /** How the next signaling sockets fail to open; an empty queue opens them. */
  readonly signalingFailures: Error[] = [];
  handOverRefusal: Refusal | null = null;
  /** Whether the new link of a make-before-break move carries everything yet (what the session answers). */
  newLinkReady = false;
  readonly ladder: ConnectionLadder<FakeLink>;

  constructor(random: () => number = () => 0.5) {
    const deps: LadderDependencies<FakeLink> = {
      createLink: () => {
        const link = { id: this.links.length + 1, closed: false };
        this.links.push(link);
        return link;
      },
      joinMedia: async (unreachable) => {
        this.joinTimes.push(Date.now());
        this.unreachableClaims.push(unreachable);
        const answer = this.joinAnswers.shift() ?? "grant";
        if (answer !== "grant") throw answer;
        return grant(Date.now() + TOKEN_LIFETIME_MS);
      },
      openSignaling: async () => {
        const failure = this.signalingFailures.shift();
        if (failure) throw failure;
      },
      createTransports: async () => undefined,
      connected: () => undefined,
      renewalNode: (link) => (link.closed ? null : "node-a"),
      renewMedia: async (nodeId) => {
        this.renewals.push(nodeId);
        return { token: `token-${this.renewals.length}`, expiresAt: Date.now() + TOKEN_LIFETIME_MS };
      },
      handOverToken: async (_link, token) => {
        if (this.handOverRefusal) throw this.handOverRefusal;
        this.handedOver.push(token);
      },
      closeLink: (link) => {
        link.closed = true;
      },
      tookOver: () => this.newLinkReady,
      failure: (error) => (error instanceof Refusal ? { from: error.from, code: error.code, retryAfterMs: error.retryAfterMs } : null),
      report: (status, message) => {
        this.statuses.push(status);
        if (message !== undefined) this.message = message;
      },
      clock: { now: () => Date.now(), setTimeout: (run, ms) => setTimeout(run, ms), clearTimeout: (timer) => clearTimeout(timer as number), random },
    };
    this.ladder = new ConnectionLadder(deps);
  }

  get status(): MediaStatus | undefined {
    return this.statuses.at(-1);
  }

  /** The link in use; fails the test when there is none. */
  get link(): FakeLink {
    const link = this.ladder.current;
    if (!link) throw new Error("no current link");
    return link;
  }
}

function grant(expiresAt: number): MediaJoinResponse {
  return { nodeId: "node-a", signalingUrl: "wss://node-a.example/media/c1?token=t", expiresAt, expiresInMs: expiresAt - Date.now(), produce: [] };
}

/** A seeded random source (mulberry32): each browser its own sequence, the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The backoff's window for rejoin number `attempt` (0 = the first after a loss). */
function windowMs(attempt: number): number {
  return Math.min(REJOIN_MAX_MS, REJOIN_BASE_MS * 2 ** attempt);
}

async function connected(world: FakeWorld): Promise<void> {
  world.ladder.start();
  await vi.advanceTimersByTimeAsync(0);
  expect(world.status).toBe("connected");
}

describe("media connection ladder", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-12-07T09:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("joins, and after its node fails shows reconnecting and joins again within the first second", async () => {
    const world = new FakeWorld(() => 0.25);
    world.ladder.start();
    expect(world.status).toBe("joining");
    await vi.advanceTimersByTimeAsync(0);
    expect(world.status).toBe("connected");

    const failedAt = Date.now();
    const first = world.link;
    world.ladder.lost(first);
    expect(first.closed).toBe(true);
    expect(world.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS);
    expect(world.joinTimes).toEqual([failedAt, failedAt + 250]);
    expect(world.status).toBe("connected");
    expect(world.link).not.toBe(first);
    expect(world.statuses).toEqual(["joining", "connected", "reconnecting", "reconnecting", "connected"]);
  });

  it("the class's media.move rejoins at once, without the backoff, on a fresh link", async () => {
    const world = new FakeWorld(() => 0.99);
    await connected(world);
    const first = world.link;
    const movedAt = Date.now();
    world.ladder.moveNow();
    expect(first.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(world.joinTimes).toEqual([movedAt, movedAt]);
    expect(world.status).toBe("connected");
    expect(world.link).not.toBe(first);
  });

  it("a draining node's media.move is make-before-break: the old link stays, still connected, until the new one took over", async () => {
    const world = new FakeWorld(() => 0.99);
    await connected(world);
    const first = world.link;
    const movedAt = Date.now();
    world.ladder.moveNow({ keepCurrent: true });
    expect(first.closed).toBe(false);
    expect(world.ladder.handingOver).toBe(first);
    await vi.advanceTimersByTimeAsync(0);
    expect(world.joinTimes).toEqual([movedAt, movedAt]);
    expect(world.link).not.toBe(first);
    // The new link is up but does not carry everything yet: the old one goes on.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first.closed).toBe(false);
    world.newLinkReady = true;
    await vi.advanceTimersByTimeAsync(HANDOVER_CHECK_MS);
    expect(first.closed).toBe(true);
    expect(world.link.closed).toBe(false);
    expect(world.ladder.handingOver).toBeNull();
    // The user never saw "reconnecting": media flowed through the old link all along.
    expect(world.statuses).toEqual(["joining", "connected", "connected"]);
  });

  it("a second draining move while one is handing over changes nothing: the old link still carries the media", async () => {
    const world = new FakeWorld(() => 0.99);
    await connected(world);
    const first = world.link;
    world.ladder.moveNow({ keepCurrent: true });
    world.ladder.moveNow({ keepCurrent: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(first.closed).toBe(false);
    expect(world.ladder.handingOver).toBe(first);
    expect(world.links).toHaveLength(2);
    expect(world.joinTimes).toHaveLength(2);
  });

  it("a make-before-break move closes the old link after the longest handover even when the new one never took over", async () => {
    const world = new FakeWorld(() => 0.99);
    await connected(world);
    const first = world.link;
    world.ladder.moveNow({ keepCurrent: true });
    await vi.advanceTimersByTimeAsync(HANDOVER_MAX_MS - HANDOVER_CHECK_MS);
    expect(first.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * HANDOVER_CHECK_MS);
    expect(first.closed).toBe(true);
    expect(world.status).toBe("connected");
  });

  it("a make-before-break move whose join fails drops the old link too and rejoins after the backoff", async () => {
    const world = new FakeWorld(() => 0.5);
    await connected(world);
    const first = world.link;
    world.joinAnswers.push(new Refusal("class", "UNAVAILABLE"));
    world.ladder.moveNow({ keepCurrent: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(first.closed).toBe(true);
    expect(world.ladder.handingOver).toBeNull();
    expect(world.status).toBe("unavailable");
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS);
    expect(world.status).toBe("connected");
  });

  it("a media.move while a rejoin waits for its backoff starts that rejoin now, once", async () => {
    const world = new FakeWorld(() => 0.99);
    await connected(world);
    world.ladder.lost(world.link);
    await vi.advanceTimersByTimeAsync(100);
    expect(world.joinTimes).toHaveLength(1);
    const movedAt = Date.now();
    world.ladder.moveNow();
    await vi.advanceTimersByTimeAsync(REJOIN_MAX_MS);
    // The waiting rejoin was replaced, not added to.
    expect(world.joinTimes).toEqual([world.joinTimes[0], movedAt]);
    expect(world.status).toBe("connected");
  });

  it("spreads the students of a failed node over the first second instead of one instant", async () => {
    const students = Array.from({ length: 30 }, (_, index) => new FakeWorld(seededRandom(index + 1)));
    for (const student of students) student.ladder.start();
    await vi.advanceTimersByTimeAsync(0);
    const failedAt = Date.now();
    for (const student of students) student.ladder.lost(student.link);
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS);

    const waits = students.map((student) => student.joinTimes[1]! - failedAt);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(0);
    for (const wait of waits) expect(wait).toBeLessThan(REJOIN_BASE_MS);
    // Not everyone at once: distinct instants, spread over most of the window.
    expect(new Set(waits).size).toBeGreaterThanOrEqual(25);
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(REJOIN_BASE_MS / 2);
    // Two browsers with their own random sources do not come back in the same millisecond.
    expect(waits[0]).not.toBe(waits[1]);
  });

  it("waits longer after each failed try, each wait random within its window, and says no media server is available", async () => {
    const draws = [0.9, 0.3, 0.99, 0.6, 0.95, 0.1, 0.999];
    let draw = 0;
    const world = new FakeWorld(() => draws[draw++ % draws.length]!);
    const refusal = new Refusal("class", "UNAVAILABLE");
    world.joinAnswers.push(...draws.map(() => refusal));
    world.ladder.start();
    await vi.advanceTimersByTimeAsync(REJOIN_MAX_MS * draws.length);

    expect(world.joinTimes.length).toBeGreaterThanOrEqual(draws.length + 1);
    expect(world.status).toBe("connected");
    expect(world.statuses).toContain("unavailable");
    const waits = world.joinTimes.slice(1, draws.length + 1).map((time, index) => time - world.joinTimes[index]!);
    waits.forEach((wait, attempt) => {
      expect(wait).toBe(Math.floor(draws[attempt]! * windowMs(attempt)));
      expect(wait).toBeLessThanOrEqual(windowMs(attempt));
    });
    // The windows grow: 1 s, 2 s, 4 s, 8 s, then 10 s at most.
    expect(waits[2]).toBeGreaterThan(waits[0]!);
    expect(waits[4]).toBeGreaterThan(waits[2]!);
    expect(Math.max(...waits)).toBeLessThanOrEqual(REJOIN_MAX_MS);
  });

  it("starts from the first window again once a rejoin succeeded", async () => {
    const world = new FakeWorld(() => 0.99);
    world.joinAnswers.push(new Refusal("node", "UNAVAILABLE"), new Refusal("node", "UNAVAILABLE"));
    world.ladder.start();
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS * 4);
    expect(world.status).toBe("connected");
    const before = world.joinTimes.length;
    const failedAt = Date.now();
    world.ladder.lost(world.link);
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS);
    expect(world.joinTimes.length).toBe(before + 1);
    expect(world.joinTimes.at(-1)! - failedAt).toBeLessThan(REJOIN_BASE_MS);
  });

  it("gives up, with the class's reason, when the class refuses who we are", async () => {
    const world = new FakeWorld();
    world.joinAnswers.push(new Refusal("class", "FORBIDDEN"));
    world.ladder.start();
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(world.status).toBe("closed");
    expect(world.message).toBe("class said FORBIDDEN");
    expect(world.joinTimes).toHaveLength(1);
  });

  it("waits as long as a RATE_LIMITED class asked before the next media.join", async () => {
    const world = new FakeWorld(() => 0.5);
    world.joinAnswers.push(new Refusal("class", "RATE_LIMITED", 7_000));
    world.ladder.start();
    await vi.advanceTimersByTimeAsync(6_999);
    expect(world.joinTimes).toHaveLength(1);
    expect(world.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1);
    expect(world.joinTimes).toHaveLength(2);
    expect(world.status).toBe("connected");
  });

  it("renews the media token a minute before it expires, on the same connection", async () => {
    const world = new FakeWorld();
    await connected(world);
    const link = world.link;
    await vi.advanceTimersByTimeAsync(TOKEN_LIFETIME_MS - RENEW_BEFORE_EXPIRY_MS - 1);
    expect(world.renewals).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(world.renewals).toEqual(["node-a"]);
    expect(world.handedOver).toEqual(["token-1"]);
    // And again before the renewed token expires; never a second media.join.
    await vi.advanceTimersByTimeAsync(TOKEN_LIFETIME_MS - RENEW_BEFORE_EXPIRY_MS);
    expect(world.handedOver).toEqual(["token-1", "token-2"]);
    expect(world.joinTimes).toHaveLength(1);
    expect(world.link).toBe(link);
    expect(world.status).toBe("connected");
  });

  it("rejoins when the node refuses the renewed token", async () => {
    const world = new FakeWorld(() => 0.5);
    await connected(world);
    world.handOverRefusal = new Refusal("node", "UNAUTHORIZED");
    await vi.advanceTimersByTimeAsync(TOKEN_LIFETIME_MS - RENEW_BEFORE_EXPIRY_MS);
    expect(world.status).toBe("reconnecting");
    world.handOverRefusal = null;
    await vi.advanceTimersByTimeAsync(REJOIN_BASE_MS);
    expect(world.joinTimes).toHaveLength(2);
    expect(world.status).toBe("connected");
  });

  it("restarts ICE at once, and rejoins only when ICE has not recovered in time", { timeout: 60_000 }, async () => {
    const world = new FakeWorld(() => 0.5);
    await connected(world);
    let restarts = 0;
    const restartIce = async () => {
      restarts += 1;
    };
    world.ladder.iceStateChanged(world.link, "disconnected", restartIce);
    expect(world.status).toBe("reconnecting");
    expect(restarts).toBe(1);
    await vi.advanceTimersByTimeAsync(ICE_RECOVERY_MS / 2);
    world.ladder.iceStateChanged(world.link, "connected", restartIce);
    expect(world.status).toBe("connected");
    await vi.advanceTimersByTimeAsync(ICE_RECOVERY_MS * 2);
    expect(world.joinTimes).toHaveLength(1);

    world.ladder.iceStateChanged(world.link, "failed", restartIce);
    await vi.advanceTimersByTimeAsync(ICE_RECOVERY_MS - 1);
    expect(world.joinTimes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1 + REJOIN_BASE_MS);
    expect(world.joinTimes).toHaveLength(2);
    expect(world.status).toBe("connected");
  });

  it("does nothing more once closed", async () => {
    const world = new FakeWorld();
    await connected(world);
    const link = world.link;
    world.ladder.close();
    world.ladder.close();
    expect(link.closed).toBe(true);
    world.ladder.lost(link);
    await vi.advanceTimersByTimeAsync(TOKEN_LIFETIME_MS * 2);
    expect(world.joinTimes).toHaveLength(1);
    expect(world.renewals).toEqual([]);
  });

  it("a node whose media socket never opened is named in the next media.join, and only in that one", async () => {
    const world = new FakeWorld();
    world.signalingFailures.push(new Error("no answer"), new Refusal("node", "UNAVAILABLE"));
    world.ladder.start();
    await vi.advanceTimersByTimeAsync(REJOIN_MAX_MS * 3);
    expect(world.status).toBe("connected");
    // First try: no claim; the next two: the node the try before could not reach.
    expect(world.unreachableClaims).toEqual([undefined, "node-a", "node-a"]);
    // Lost later, once connected: the rejoin names nothing (the socket had opened).
    world.ladder.lost(world.link);
    await vi.advanceTimersByTimeAsync(REJOIN_MAX_MS);
    expect(world.status).toBe("connected");
    expect(world.unreachableClaims).toEqual([undefined, "node-a", "node-a", undefined]);
  });
});
