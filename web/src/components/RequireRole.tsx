import { A } from "@solidjs/router";
import { type JSX, Show } from "solid-js";
import type { Role } from "../../../schema/db";
import { useSession } from "../session";

const WHO: Record<Role, string> = { student: "students", teacher: "teachers", admin: "admins" };

/**
 * Shows `children` only to users with one of `roles`; everyone else gets a page that says so, instead of a form
 * that fails on submit or a page stuck loading. The server checks the role again for every action.
 */
export function RequireRole(props: { roles: readonly Role[]; children: JSX.Element }): JSX.Element {
  const session = useSession();
  const allowed = () => {
    const user = session.user();
    return user ? props.roles.includes(user.role) : false;
  };
  return (
    <Show when={allowed()} fallback={<NotAllowed roles={props.roles} />}>
      {props.children}
    </Show>
  );
}

function NotAllowed(props: { roles: readonly Role[] }): JSX.Element {
  return (
    <section class="empty stack" data-testid="not-allowed">
      <h1>Not available to you</h1>
      <p>This page is for {props.roles.map((role) => WHO[role]).join(" and ")} only.</p>
      <p>
        <A href="/">Back to your dashboard</A>
      </p>
    </section>
  );
}
