import type { MediaJoinResponse } from "../../../../schema/protocol/classroom";

// No DOM and no mediasoup-client here: everything outside arrives through `LadderDependencies`, so the ladder
// runs (and is tested, worker/test/media-ladder.test.ts) with fakes in any JavaScript runtime.

export type MediaStatus = "idle" | "joining" | "connected" | "reconnecting" | "unavailable" | "closed";

/** After this long without ICE recovering (restartIce included), the session rejoins from `media.join`. */
export const ICE_RECOVERY_MS = 10_000;
/** The first rejoin waits up to this long (see {@link rejoinDelayMs}). */
export const REJOIN_BASE_MS = 1_000;
/** No rejoin waits longer than this (see {@link rejoinDelayMs}). */
export const REJOIN_MAX_MS = 10_000;
/**
 * Renew the media token this long before it expires (the node closes the socket at expiry). A minute leaves
 * room for a retry or two even when a request runs into its 10 s timeout.
 */
export const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** Tries at renewing one token before falling back to a rejoin. */
export const RENEW_ATTEMPTS = 3;
/** Wait between renewal tries. */
export const RENEW_RETRY_MS = 3_000;
/**
 * Renewal refusals another try cannot fix: the node left the fleet (`NOT_FOUND` from the class), or the node
 * does not take the token (`UNAUTHORIZED`, `FORBIDDEN`) or does not know `token.renew` (`INVALID_MESSAGE`, a
 * node from before it existed). Anything else (a timeout, `UNAVAILABLE`) is tried again while time is left.
 */
const FINAL_RENEW_ERRORS: readonly string[] = ["NOT_FOUND", "UNAUTHORIZED", "FORBIDDEN", "INVALID_MESSAGE"];
/**
 * A make-before-break move keeps the old link at most this long while the new one gets ready; by then a node
 * that is still forwarding would have had its keyframe through many times over.
 */
export const HANDOVER_MAX_MS = 8_000;
/** How often a make-before-break move asks whether the new link has taken over everything the old one carried. */
export const HANDOVER_CHECK_MS = 50;
/** `media.join` refusals (from the class) after which retrying cannot help. */
const FINAL_JOIN_ERRORS: readonly string[] = ["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"];

/**
 * The wait before rejoin number `attempt` (0 for the first after a loss): "full jitter", a uniform random time
 * between 0 and min({@link REJOIN_MAX_MS}, {@link REJOIN_BASE_MS} · 2^attempt), i.e. up to 1 s, 2 s, 4 s, 8 s,
 * then up to 10 s for every further try. When a node fails, every student on it loses the connection in the
 * same millisecond; a fixed backoff would send all their `media.join`s to the class at the same instant, the
 * random wait spreads them over the window (LiveKit's reconnect policy does the same).
 */
export function rejoinDelayMs(attempt: number, random: () => number): number {
  const cap = Math.min(REJOIN_MAX_MS, REJOIN_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.floor(random() * cap);
}

/** What the ladder needs to know of a failed request: its code, and whether the class or the node said it. */
export interface LadderFailure {
  from: "class" | "node";
  code: string;
  /** For the class's `RATE_LIMITED`: how long until the same request would pass (0 otherwise). */
  retryAfterMs: number;
}

/** A fresh token for the same node (`media.renew`); `expiresAt` on this browser's clock. */
export interface LadderRenewal {
  token: string;
  expiresAt: number;
}

/** The clock the ladder waits with; the browser's own by default, fakes in tests. */
export interface LadderClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  /** Uniform in [0, 1): the jitter of the rejoin backoff. */
  random(): number;
}

/**
 * Everything the ladder does to the world, as the session (web/src/live/media/index.ts) gives it. `Link` is
 * whatever the session keeps of one connection to one node; the ladder only passes it around.
 */
export interface LadderDependencies<Link> {
  /** An empty connection record for the next try. */
  createLink(): Link;
  /**
   * `media.join` over the class channel: a place on a node; `expiresAt` already on this browser's clock.
   * `unreachable`: the node of the last try, whose signaling socket could not be opened.
   */
  joinMedia(unreachable?: string): Promise<MediaJoinResponse>;
  /**
   * Opens the signaling socket to the granted node (its loss comes back as {@link ConnectionLadder.lost}); fails
   * only when the socket never opened.
   */
  openSignaling(link: Link, grant: MediaJoinResponse): Promise<void>;
  /** Negotiates the transports on the open socket (ICE states come back as {@link ConnectionLadder.iceStateChanged}). */
  createTransports(link: Link): Promise<void>;
  /** The connection is up: consume, publish again. */
  connected(link: Link, grant: MediaJoinResponse): void;
  /** The node a renewal is for, or null when the link has no open socket (then the ladder rejoins). */
  renewalNode(link: Link): string | null;
  /** `media.renew` over the class channel. */
  renewMedia(nodeId: string): Promise<LadderRenewal>;
  /** `token.renew` over the open socket. */
  handOverToken(link: Link, token: string): Promise<void>;
  /** Closes the link's socket and transports (the tracks stay for the next link). */
  closeLink(link: Link): void;
  /**
   * After a make-before-break move ({@link ConnectionLadder.moveNow} with `keepCurrent`): whether `next` now
   * carries everything `previous` did (our producers sent again, every stream still in the class showing on
   * `next`), so `previous` can close without anyone seeing or hearing a gap.
   */
  tookOver(previous: Link, next: Link): boolean;
  /** What a failed request was; null for anything that is not a refusal with a code. */
  failure(error: unknown): LadderFailure | null;
  /** The status (and the message for the user; `undefined` keeps the last one) the UI shows. */
  report(status: MediaStatus, message?: string | null): void;
  clock?: LadderClock;
}

const browserClock: LadderClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

/**
 * The connection ladder of one class's media: `media.join` → signaling socket → transports → connected. ICE
 * `disconnected`/`failed` → `restartIce` at once; no recovery within {@link ICE_RECOVERY_MS}, a lost socket, or
 * the node's `reconnect` → throw the link away and join again after a jittered backoff ({@link rejoinDelayMs}),
 * maybe on another node. The media token is renewed on the open socket {@link RENEW_BEFORE_EXPIRY_MS} before it
 * expires, without touching the media; only when that fails does the ladder rejoin.
 */
export class ConnectionLadder<Link> {
  private link: Link | null = null;
  /** The link a make-before-break move keeps until the new one took over (media still flows through it). */
  private previous: Link | null = null;
  private handoverTimer: unknown = null;
  private rejoinAttempt = 0;
  private rejoinTimer: unknown = null;
  private iceTimer: unknown = null;
  private renewTimer: unknown = null;
  private closed = false;
  private status: MediaStatus = "idle";
  private joinedOnceFlag = false;
  /** The node whose signaling socket the last try could not open, told to the next `media.join`. */
  private unreachable: string | null = null;
  private readonly clock: LadderClock;

  constructor(private readonly deps: LadderDependencies<Link>) {
    this.clock = deps.clock ?? browserClock;
  }

  /** Whether a connection was up at least once (later tries say "reconnecting", not "joining"). */
  get joinedOnce(): boolean {
    return this.joinedOnceFlag;
  }

  /** The link of the current try, or null between tries. */
  get current(): Link | null {
    return this.link;
  }

  /** The old link of a make-before-break move while it still carries media, or null. */
  get handingOver(): Link | null {
    return this.previous;
  }

  /** Whether `link` is still the one in use (work for an older link must stop). */
  isCurrent(link: Link): boolean {
    return !this.closed && this.link === link;
  }

  /** Joins now (the class channel opened). */
  start(): void {
    void this.join();
  }

  /** The link's socket closed on its own, or its node said `reconnect`: rejoin after the backoff. */
  lost(link: Link): void {
    if (this.isCurrent(link)) this.rejoin();
  }

  /**
   * The class says the node is gone or draining (`media.move`): join again now, without the backoff (the class
   * already spread its people over a window) and with a fresh backoff for later tries. A rejoin waiting for its
   * backoff starts now. With `keepCurrent` (a draining node, which goes on forwarding until its people left) a
   * connected link stays up while the new one is made — make-before-break: it closes once the new link took over
   * ({@link LadderDependencies.tookOver}) or after {@link HANDOVER_MAX_MS}, so media never stops. Otherwise the
   * link is thrown away first.
   */
  moveNow(options: { keepCurrent?: boolean } = {}): void {
    if (this.closed) return;
    // Already moving make-before-break: the link being made is the move (a repeated notice changes nothing).
    if (options.keepCurrent === true && this.previous !== null) return;
    if (this.rejoinTimer !== null) this.clock.clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.rejoinAttempt = 0;
    const keep = options.keepCurrent === true && this.link !== null && this.status === "connected";
    if (keep) {
      const current = this.link;
      this.link = null;
      this.stopLinkTimers();
      this.closePrevious();
      this.previous = current;
    } else this.teardown();
    void this.join();
  }

  /** ICE trouble: restart ICE at once; if the transport is not connected again in time, rejoin. */
  iceStateChanged(link: Link, state: string, restartIce: () => Promise<unknown>): void {
    if (!this.isCurrent(link)) return;
    if (state === "connected") {
      if (this.iceTimer !== null) this.clock.clearTimeout(this.iceTimer);
      this.iceTimer = null;
      if (this.status === "reconnecting") this.report("connected");
      return;
    }
    if (state !== "disconnected" && state !== "failed") return;
    this.report("reconnecting");
    this.iceTimer ??= this.clock.setTimeout(() => {
      this.iceTimer = null;
      this.lost(link);
    }, ICE_RECOVERY_MS);
    restartIce().catch(() => undefined);
  }

  /** Leaves: closes the current link and stops every timer. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rejoinTimer !== null) this.clock.clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.teardown();
  }

  private async join(): Promise<void> {
    if (this.closed) return;
    const link = this.deps.createLink();
    this.link = link;
    // While the old link of a make-before-break move still carries the media, the user sees no reconnecting.
    if (this.previous === null) this.report(this.joinedOnceFlag ? "reconnecting" : "joining");
    try {
      const unreachable = this.unreachable ?? undefined;
      this.unreachable = null;
      const grant = await this.deps.joinMedia(unreachable);
      if (!this.isCurrent(link)) return;
      try {
        await this.deps.openSignaling(link, grant);
      } catch (error) {
        // The socket never opened (refused, or no answer in time): the next `media.join` says so, and goes elsewhere.
        this.unreachable = grant.nodeId;
        throw error;
      }
      if (!this.isCurrent(link)) return;
      await this.deps.createTransports(link);
      if (!this.isCurrent(link)) return;
      this.joinedOnceFlag = true;
      this.rejoinAttempt = 0;
      this.report("connected", null);
      this.scheduleRenewal(link, grant.expiresAt);
      this.deps.connected(link, grant);
      this.handOver(link);
    } catch (error) {
      if (!this.isCurrent(link)) return;
      this.teardown();
      const failure = this.deps.failure(error);
      // Only the class refusing who we are is final; anything else (a node restarting, a slow answer) is worth a retry.
      const refused = failure?.from === "class" && FINAL_JOIN_ERRORS.includes(failure.code);
      const status = refused ? "closed" : failure?.code === "UNAVAILABLE" ? "unavailable" : "reconnecting";
      this.report(status, error instanceof Error ? error.message : String(error));
      if (!refused) this.scheduleRejoin(failure?.retryAfterMs ?? 0);
    }
  }

  /** Renews {@link RENEW_BEFORE_EXPIRY_MS} before `expiresAt` (this browser's clock). */
  private scheduleRenewal(link: Link, expiresAt: number): void {
    if (this.renewTimer !== null) this.clock.clearTimeout(this.renewTimer);
    const wait = Math.max(0, expiresAt - this.clock.now() - RENEW_BEFORE_EXPIRY_MS);
    this.renewTimer = this.clock.setTimeout(() => void this.renew(link, expiresAt), wait);
  }

  /**
   * Keeps the connection past its token's expiry: a fresh token for the same node from the class
   * (`media.renew`), handed over the open socket (`token.renew`). Transports, producers and consumers stay, so
   * nobody's audio or video stops. Only when that cannot work (the node is gone, it refuses, or no try
   * succeeds in time) does the ladder rejoin from `media.join`, which rebuilds everything.
   */
  private async renew(link: Link, expiresAt: number): Promise<void> {
    this.renewTimer = null;
    for (let attempt = 1; ; attempt++) {
      const nodeId = this.deps.renewalNode(link);
      if (!this.isCurrent(link) || !nodeId) break;
      try {
        const renewal = await this.deps.renewMedia(nodeId);
        if (!this.isCurrent(link)) return;
        await this.deps.handOverToken(link, renewal.token);
        if (!this.isCurrent(link)) return;
        this.scheduleRenewal(link, renewal.expiresAt);
        return;
      } catch (error) {
        if (!this.isCurrent(link)) return;
        const failure = this.deps.failure(error);
        const final = failure !== null && FINAL_RENEW_ERRORS.includes(failure.code);
        const wait = Math.max(RENEW_RETRY_MS, failure?.retryAfterMs ?? 0);
        // Stop trying while there is still time to rejoin before the node closes the socket at expiry.
        const timeLeft = expiresAt - this.clock.now() - wait;
        if (final || attempt >= RENEW_ATTEMPTS || timeLeft < RENEW_RETRY_MS) break;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
      }
    }
    this.lost(link);
  }

  /** Throws the link away and joins again after the backoff. */
  private rejoin(): void {
    if (this.closed) return;
    this.teardown();
    this.report("reconnecting");
    this.scheduleRejoin(0);
  }

  /** Joins again after the jittered backoff, or after `atLeastMs` when the class asked for that long (`RATE_LIMITED`). */
  private scheduleRejoin(atLeastMs: number): void {
    if (this.closed || this.rejoinTimer !== null) return;
    const delay = Math.max(atLeastMs, rejoinDelayMs(this.rejoinAttempt, this.clock.random));
    this.rejoinAttempt += 1;
    this.rejoinTimer = this.clock.setTimeout(() => {
      this.rejoinTimer = null;
      void this.join();
    }, delay);
  }

  private report(status: MediaStatus, message?: string | null): void {
    this.status = status;
    this.deps.report(status, message);
  }

  /** Closes the link of a make-before-break move once `next` took over everything, or after {@link HANDOVER_MAX_MS}. */
  private handOver(next: Link): void {
    const previous = this.previous;
    if (previous === null) return;
    const startedAt = this.clock.now();
    const check = () => {
      this.handoverTimer = null;
      if (this.previous !== previous || !this.isCurrent(next)) return;
      if (this.deps.tookOver(previous, next) || this.clock.now() - startedAt >= HANDOVER_MAX_MS) this.closePrevious();
      else this.handoverTimer = this.clock.setTimeout(check, HANDOVER_CHECK_MS);
    };
    check();
  }

  private closePrevious(): void {
    if (this.handoverTimer !== null) this.clock.clearTimeout(this.handoverTimer);
    this.handoverTimer = null;
    const previous = this.previous;
    this.previous = null;
    if (previous !== null) this.deps.closeLink(previous);
  }

  private stopLinkTimers(): void {
    if (this.iceTimer !== null) this.clock.clearTimeout(this.iceTimer);
    if (this.renewTimer !== null) this.clock.clearTimeout(this.renewTimer);
    this.iceTimer = null;
    this.renewTimer = null;
  }

  /** Closes the link in use, and the old one of a move still handing over (a failed or lost new link ends it too). */
  private teardown(): void {
    const link = this.link;
    this.link = null;
    this.stopLinkTimers();
    this.closePrevious();
    if (link !== null) this.deps.closeLink(link);
  }
}
