import { MEDIA_TOKEN_MAX_LIFETIME_SECONDS, type MediaSource } from "../../schema/tokens/media-token";
import { MediaError } from "./errors";

interface Override {
  /** When the class decided (ms); tokens issued before then carry an outdated grant. */
  at: number;
  /** The grant from then on, or null: the participant was removed from the class. */
  produce: readonly MediaSource[] | null;
}

/**
 * What the class decided over its link after a participant's media token was signed: a new grant (stage
 * invite or revoke) or a removal. A token stays valid for minutes, so without this a reconnect with the old
 * token would bring back a revoked grant, or a kicked participant's media. Kept per node (a room closes when
 * its last peer leaves; the decision must outlive it) until every token from before it has expired.
 */
export class GrantOverrides {
  readonly #byClass = new Map<string, Map<string, Override>>();

  set(classId: string, userId: string, produce: readonly MediaSource[] | null, at = Date.now()): void {
    this.#prune(at);
    let users = this.#byClass.get(classId);
    if (!users) this.#byClass.set(classId, (users = new Map()));
    users.set(userId, { at, produce });
  }

  /**
   * The grant a joining peer gets: its token's, unless the class decided otherwise after the token was
   * issued. Throws FORBIDDEN for a participant removed since.
   */
  admit(classId: string, userId: string, issuedAt: number | undefined, produce: readonly MediaSource[]): readonly MediaSource[] {
    const override = this.#byClass.get(classId)?.get(userId);
    if (!override || (issuedAt !== undefined && issuedAt > override.at)) return produce;
    if (override.produce === null) throw new MediaError("FORBIDDEN", "You were removed from this class; join it again");
    return override.produce;
  }

  #prune(now: number): void {
    const horizon = now - MEDIA_TOKEN_MAX_LIFETIME_SECONDS * 1000;
    for (const [classId, users] of this.#byClass) {
      for (const [userId, override] of users) if (override.at < horizon) users.delete(userId);
      if (users.size === 0) this.#byClass.delete(classId);
    }
  }
}
