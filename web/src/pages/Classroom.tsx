import { A, useParams } from "@solidjs/router";
import type { JSX } from "solid-js";

/** Placeholder for the live classroom; the CHANNEL work replaces this page (and web/src/live/**). */
export default function Classroom(): JSX.Element {
  const params = useParams();
  return (
    <section class="stack">
      <h1>Live class</h1>
      <p class="empty">The live classroom is not available yet.</p>
      <p>
        <A href={`/classes/${params.id}`}>Back to the class page</A>
      </p>
    </section>
  );
}
