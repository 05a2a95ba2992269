import type { JSX } from "solid-js";

/** Placeholder; the REMINDERS work writes this page (the reminders a user was sent). */
export default function Notifications(): JSX.Element {
  return (
    <section class="stack">
      <h1>Notifications</h1>
      <p class="empty">No notifications yet.</p>
    </section>
  );
}
