import type { Env } from "../env";

export type OccurrenceChange = { occurrenceId: string; kind: "moved" | "cancelled" };

/**
 * Called by the occurrence routes after an occurrence was moved or cancelled (the row is already updated).
 * The reminders capability cancels pending reminders, creates the new ones and sends change notices.
 */
export async function occurrenceChanged(env: Env, change: OccurrenceChange): Promise<void> {
  void env;
  void change;
}
