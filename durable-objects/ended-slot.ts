import { endedInSlot, JOIN_OPENS_BEFORE_START_MS } from "../schema/api/join";

/**
 * Whether a student's class token is for a slot whose session a teacher has ended since the token was issued (it
 * lives two minutes): such a token must not open a fresh, empty session after the end.
 *
 * The class object asks only while it has no session running: with one running, the class's latest session is
 * that one and it has not ended. A class of 1,000 joining therefore asks D1 at most once (the students who come
 * before the first session starts share one question), where the edge used to ask twice per join.
 */
export class EndedSlots {
  /** Questions to D1 still under way, by occurrence: concurrent joiners share one. */
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly db: D1Database,
    private readonly classId: () => string,
  ) {}

  ended(occurrenceId: string): Promise<boolean> {
    let answer = this.asking.get(occurrenceId);
    if (!answer) {
      answer = this.ask(occurrenceId).finally(() => this.asking.delete(occurrenceId));
      this.asking.set(occurrenceId, answer);
    }
    return answer;
  }

  private async ask(occurrenceId: string): Promise<boolean> {
    const row = await this.db
      .prepare(
        `SELECT (SELECT starts_at FROM occurrences WHERE id = ?2) AS startsAt,
                latest.ended_at AS endedAt, latest.end_reason AS endReason
         FROM (SELECT 1) LEFT JOIN (SELECT ended_at, end_reason FROM live_sessions WHERE class_id = ?1 ORDER BY started_at DESC LIMIT 1) AS latest ON 1`,
      )
      .bind(this.classId(), occurrenceId)
      .first<{ startsAt: number | null; endedAt: number | null; endReason: string | null }>();
    if (!row || row.startsAt === null) return false;
    return endedInSlot(row, row.startsAt - JOIN_OPENS_BEFORE_START_MS);
  }
}
