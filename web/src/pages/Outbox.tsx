import type { JSX } from "solid-js";

/** Placeholder; the REMINDERS work writes this page (the local e-mail/SMS outbox of the embedded setup). */
export default function Outbox(): JSX.Element {
  return (
    <section class="stack">
      <h1>Outbox</h1>
      <p class="empty">The outbox is empty.</p>
    </section>
  );
}
