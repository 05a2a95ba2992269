import { createSignal, onCleanup } from "solid-js";

/** The current time as a signal that ticks every `intervalMs`, so "Join" buttons enable themselves on time. */
export function createNow(intervalMs = 15_000): () => number {
  const [now, setNow] = createSignal(Date.now());
  const timer = setInterval(() => setNow(Date.now()), intervalMs);
  onCleanup(() => clearInterval(timer));
  return now;
}

/** Students may join from this long before the start. */
export const JOIN_OPENS_BEFORE_MS = 15 * 60_000;

/** Whether an occurrence can be joined now: from 15 minutes before its start until its end, unless cancelled. */
export function canJoinAt(occurrence: { startsAt: number; endsAt: number; status: string }, now: number): boolean {
  return occurrence.status === "scheduled" && now >= occurrence.startsAt - JOIN_OPENS_BEFORE_MS && now < occurrence.endsAt;
}
