import { A } from "@solidjs/router";
import type { JSX } from "solid-js";

export default function NotFound(): JSX.Element {
  return (
    <section class="empty stack">
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <A href="/">Back to your dashboard</A>
      </p>
    </section>
  );
}
