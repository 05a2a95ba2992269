import { A } from "@solidjs/router";
import { Show, type JSX } from "solid-js";
import { canJoinAt, createNow } from "../clock";

/**
 * "Join" for an occurrence: a link to the live class from 15 minutes before the start until the end; before
 * that a disabled button that says when it opens.
 */
export function JoinButton(props: { classId: string; occurrence: { startsAt: number; endsAt: number; status: string }; label?: string }): JSX.Element {
  const now = createNow();
  const label = () => props.label ?? "Join";
  return (
    <Show
      when={canJoinAt(props.occurrence, now())}
      fallback={
        <button type="button" class="button" disabled title="Opens 15 minutes before the start">
          {label()}
        </button>
      }
    >
      <A href={`/classes/${props.classId}/live`} class="button button--primary">
        {label()}
      </A>
    </Show>
  );
}
