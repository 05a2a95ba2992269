import type { ClassroomEvent, Participant, Poll, UnsequencedEvent } from "../schema/protocol/classroom";

/** Who receives an event: moderators (teacher, admins) see more of a poll than students do. */
export type Audience = "all" | "moderators" | "students";

/** Socket tags the Classroom gives each connection, so a frame goes to one audience without reading state. */
export const AUDIENCE_TAGS = { moderators: "audience:moderators", students: "audience:students" } as const;

/** The tag of every socket of one user (their own changes reach them even when other students do not see them). */
export const USER_TAG = (userId: string) => `user:${userId}`;

/** The tags of a participant's socket: their user, and their audience. The same on a fan-out object. */
export function participantTags(userId: string, moderator: boolean): string[] {
  return [USER_TAG(userId), moderator ? AUDIENCE_TAGS.moderators : AUDIENCE_TAGS.students];
}

/**
 * Where a frame goes: a socket of this object, or a fan-out object that relays it to its own sockets with the
 * same tag (durable-objects/fan-out.ts).
 */
export interface Recipient {
  send(frame: string): void;
}

/**
 * One participant's change for the broadcaster. Students see only some people (teachers, the stage, raised
 * hands); whether the person was and is in that view decides what students are told.
 */
export interface PresenceChange {
  /** The participant's latest state; null when they left. */
  participant: Participant | null;
  /** In the students' view before this change. */
  visibleBefore: boolean;
  /** In the students' view after it. */
  visibleAfter: boolean;
  /** The participant must hear of it themselves (their hand, their chat mute) even when out of the view. */
  tellSelf: boolean;
}

/**
 * Chat, moderation and poll changes go out at most once per window: the first change after a quiet spell goes
 * out at once, later ones wait for the window to end and share one frame. One object can only send about 12,000
 * frames a second, so with 1,000 sockets every separate broadcast costs a twelfth of a second; the window
 * therefore widens with the audience so that the object never plans more than {@link SEND_BUDGET_PER_SECOND}.
 */
const MIN_DELTA_WINDOW_MS = 50;
const SEND_BUDGET_PER_SECOND = 8_000;
/**
 * Presence alone (joins, leaves, hands) may wait longer, and longer still in a large class: while 1,000 people
 * join, every presence frame goes to everyone already in, so its window widens with the audience to keep
 * presence within {@link PRESENCE_SEND_BUDGET_PER_SECOND} (500 ms up to 250 sockets, 2 s at 1,000; measured in
 * bench/classroom.ts: ~4 s of the object's ~29 s busy time during a 1,000-socket join at a fixed 500 ms).
 * A presence change pending when other changes flush rides along in their frame.
 */
const MIN_PRESENCE_WINDOW_MS = 500;
const MAX_PRESENCE_WINDOW_MS = 3_000;
const PRESENCE_SEND_BUDGET_PER_SECOND = 500;
/** Reactions are summed and sent once a second. */
const REACTION_WINDOW_MS = 1000;

export interface PollRenderer {
  /** The poll as `audience` sees it, or null when it no longer exists. */
  (pollId: string, audience: "moderators" | "students"): Poll | null;
}

/** Collects changes and delivers them as one `events` frame per window and audience. */
export class Broadcaster {
  /** Sequence numbers stay increasing across restarts of the object: they start at the clock (µs resolution). */
  private seq = Date.now() * 1000;
  private queue: { event: ClassroomEvent; audience: Audience }[] = [];
  private presence = new Map<string, PresenceChange>();
  /** The head count students were last told (null after a wake-up: the next presence flush tells it again). */
  private lastHeadCount: number | null = null;
  private dirtyPolls = new Map<string, { students: boolean }>();
  private reactions = new Map<string, number>();
  private deltaTimer: { handle: ReturnType<typeof setTimeout>; due: number } | null = null;
  private lastFlushAt = 0;
  /** The current delta window; recomputed from the number of sockets at every flush. */
  private deltaWindowMs = MIN_DELTA_WINDOW_MS;
  /** The current presence window; recomputed from the number of sockets at every flush. */
  private presenceWindowMs = MIN_PRESENCE_WINDOW_MS;
  private reactionTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly sockets: (tag: string) => Recipient[],
    private readonly renderPoll: PollRenderer,
    /** Called whenever pending presence changes were sent or dropped (snapshot caches must be rebuilt). */
    private readonly onPresenceSettled: () => void = () => undefined,
    /** How many are in the class now (read once per presence flush). */
    private readonly headCount: () => number = () => 0,
    /**
     * The most sockets one fan-out object relays to (0 without fan-out): each relays every frame to all of its
     * sockets, so the window must keep that object within the send budget too.
     */
    private readonly busiestRelay: () => number = () => 0,
  ) {}

  /** The last sequence number handed out: a snapshot taken now contains every event up to it. */
  get currentSeq(): number {
    return this.seq;
  }

  emit(event: UnsequencedEvent, audience: Audience = "all"): void {
    this.queue.push({ event: { ...event, seq: ++this.seq } as ClassroomEvent, audience });
    this.schedule(this.deltaWindowMs);
  }

  /**
   * A participant's latest state; several changes of one window collapse into one (the first `visibleBefore`,
   * the last state). Joins and leaves students do not see wait for the presence window; someone entering or
   * leaving the students' view (a hand, the stage, a teacher) goes out with the next delta window.
   */
  presenceChanged(userId: string, change: PresenceChange): void {
    const earlier = this.presence.get(userId);
    this.presence.set(userId, {
      ...change,
      visibleBefore: earlier?.visibleBefore ?? change.visibleBefore,
      tellSelf: change.tellSelf || (earlier?.tellSelf ?? false),
    });
    this.schedule(change.visibleBefore !== change.visibleAfter || change.visibleAfter ? this.deltaWindowMs : this.presenceWindowMs);
  }

  /** A poll changed; students are only told when what they can see changed (not on every vote). */
  pollChanged(pollId: string, studentsToo: boolean): void {
    const dirty = this.dirtyPolls.get(pollId);
    this.dirtyPolls.set(pollId, { students: studentsToo || (dirty?.students ?? false) });
    this.schedule(this.deltaWindowMs);
  }

  reaction(emoji: string): void {
    this.reactions.set(emoji, (this.reactions.get(emoji) ?? 0) + 1);
    this.reactionTimer ??= setTimeout(() => this.flushReactions(), REACTION_WINDOW_MS);
  }

  /** Sends everything pending now (also used before the object closes every socket). */
  flush(): void {
    if (this.deltaTimer) clearTimeout(this.deltaTimer.handle);
    this.deltaTimer = null;
    this.lastFlushAt = Date.now();
    const forModerators: ClassroomEvent[] = [];
    const forStudents: ClassroomEvent[] = [];
    const toThemselves: { userId: string; event: ClassroomEvent }[] = [];
    if (this.presence.size > 0) {
      const upserts: Participant[] = [];
      const removed: string[] = [];
      const seenUpserts: Participant[] = [];
      const seenRemoved: string[] = [];
      const seq = ++this.seq;
      for (const [userId, { participant, visibleBefore, visibleAfter, tellSelf }] of this.presence) {
        if (participant) upserts.push(participant);
        else removed.push(userId);
        if (participant && visibleAfter) seenUpserts.push(participant);
        else if (visibleBefore) seenRemoved.push(userId);
        // A moderator, or someone in the view, already hears of their own change in their audience's frame.
        if (participant && tellSelf && participant.role === "student" && !visibleAfter)
          toThemselves.push({ userId, event: { type: "participants", seq, upserts: [participant], removed: [] } });
      }
      this.presence.clear();
      this.onPresenceSettled();
      forModerators.push({ type: "participants", seq, upserts, removed });
      if (seenUpserts.length > 0 || seenRemoved.length > 0) forStudents.push({ type: "participants", seq, upserts: seenUpserts, removed: seenRemoved });
      const count = this.headCount();
      if (count !== this.lastHeadCount) {
        this.lastHeadCount = count;
        const event: ClassroomEvent = { type: "headcount", seq: ++this.seq, count };
        forModerators.push(event);
        forStudents.push(event);
      }
    }
    for (const { event, audience } of this.queue) {
      if (audience !== "students") forModerators.push(event);
      if (audience !== "moderators") forStudents.push(event);
    }
    this.queue = [];
    for (const [pollId, dirty] of this.dirtyPolls) {
      const seq = ++this.seq;
      const moderatorView = this.renderPoll(pollId, "moderators");
      if (moderatorView) forModerators.push({ type: "poll", seq, poll: moderatorView });
      const studentView = dirty.students ? this.renderPoll(pollId, "students") : null;
      if (studentView) forStudents.push({ type: "poll", seq, poll: studentView });
    }
    this.dirtyPolls.clear();
    const sockets = Math.max(this.send(AUDIENCE_TAGS.moderators, forModerators) + this.send(AUDIENCE_TAGS.students, forStudents), this.busiestRelay());
    for (const { userId, event } of toThemselves) this.send(USER_TAG(userId), [event]);
    if (sockets > 0) {
      this.deltaWindowMs = Math.max(MIN_DELTA_WINDOW_MS, Math.ceil((sockets / SEND_BUDGET_PER_SECOND) * 1000));
      this.presenceWindowMs = Math.min(MAX_PRESENCE_WINDOW_MS, Math.max(MIN_PRESENCE_WINDOW_MS, Math.ceil((sockets / PRESENCE_SEND_BUDGET_PER_SECOND) * 1000)));
    }
  }

  /**
   * Sends an unsequenced notification to every participant at once, outside the windows: the pen moving must not
   * wait for a window (a stroke in progress is replaced by its `board.op` when it is done).
   */
  sendNow(frame: string): void {
    for (const tag of [AUDIENCE_TAGS.moderators, AUDIENCE_TAGS.students]) {
      for (const socket of this.sockets(tag)) {
        try {
          socket.send(frame);
        } catch {
          // Closing; its close handler does the bookkeeping.
        }
      }
    }
  }

  /** Drops pending timers (the session ended; nothing more goes out). */
  stop(): void {
    if (this.deltaTimer) clearTimeout(this.deltaTimer.handle);
    if (this.reactionTimer) clearTimeout(this.reactionTimer);
    this.deltaTimer = null;
    this.reactionTimer = null;
    this.queue = [];
    this.presence.clear();
    this.lastHeadCount = null;
    this.onPresenceSettled();
    this.dirtyPolls.clear();
    this.reactions.clear();
  }

  private flushReactions(): void {
    this.reactionTimer = null;
    if (this.reactions.size === 0) return;
    const event: ClassroomEvent = { type: "reactions", seq: ++this.seq, counts: Object.fromEntries(this.reactions) };
    this.reactions.clear();
    this.send(AUDIENCE_TAGS.moderators, [event]);
    this.send(AUDIENCE_TAGS.students, [event]);
  }

  /** Flushes once `windowMs` has passed since the last flush (at once, within this turn, after a quiet spell). */
  private schedule(windowMs: number): void {
    const now = Date.now();
    const due = Math.max(now, this.lastFlushAt + windowMs);
    if (this.deltaTimer && this.deltaTimer.due <= due) return;
    if (this.deltaTimer) clearTimeout(this.deltaTimer.handle);
    this.deltaTimer = { handle: setTimeout(() => this.flush(), due - now), due };
  }

  /** Sends one frame to every socket with `tag`; returns how many sockets it went to. */
  private send(tag: string, events: ClassroomEvent[]): number {
    if (events.length === 0) return 0;
    const frame = JSON.stringify({ notification: "events", data: { events } });
    const sockets = this.sockets(tag);
    for (const socket of sockets) {
      try {
        socket.send(frame);
      } catch {
        // The socket is closing; its close handler does the bookkeeping.
      }
    }
    return sockets.length;
  }
}
