import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import { graphemeCount } from "./chat";
import type { Engagement } from "./engagement";
import { ChannelError } from "./errors";
import type { Presence } from "./presence";

const PICTOGRAPHIC = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

/** Raised hands (a queue ordered by when each went up) and reactions (summed and sent once a second). */
export class Hands {
  constructor(
    private readonly presence: Presence,
    private readonly broadcaster: Broadcaster,
    private readonly engagement: Engagement,
  ) {}

  raise(caller: ClassIdentity, now: number): number {
    const participant = this.presence.get(caller.userId);
    if (!participant) throw new ChannelError("CONFLICT", "You are not in the class");
    if (participant.handRaisedAt !== null) return participant.handRaisedAt;
    this.presence.setHand(caller.userId, now);
    this.engagement.handRaised(caller.userId);
    return now;
  }

  /** Lowers `userId`'s hand (default: the caller's own); only moderators lower someone else's. */
  lower(caller: ClassIdentity, userId: string | undefined): void {
    const target = userId ?? caller.userId;
    if (target !== caller.userId && !isModerator(caller.role)) throw new ChannelError("FORBIDDEN", "Only the teacher can lower someone else's hand");
    const participant = this.presence.get(target);
    if (!participant) throw new ChannelError("NOT_FOUND", "That person is not in the class");
    if (participant.handRaisedAt !== null) this.presence.setHand(target, null);
  }

  react(caller: ClassIdentity, emoji: string): void {
    if (graphemeCount(emoji) !== 1 || !PICTOGRAPHIC.test(emoji)) throw new ChannelError("INVALID_MESSAGE", "A reaction is a single emoji");
    // Counted here, where the sender is known: the class only ever sees the per-second sums.
    this.engagement.reacted(caller.userId);
    this.broadcaster.reaction(emoji);
  }
}
