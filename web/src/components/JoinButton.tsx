import { A } from "@solidjs/router";
import { Show, type JSX } from "solid-js";
import { canJoinAt, createNow, JOIN_OPENS_BEFORE_MS } from "../clock";
import { useSession } from "../session";
import { formatTime } from "../time";

/**
 * "Join" for an occurrence. Students get a link from 15 minutes before the start until the end, and before that a
 * disabled button. The class's teacher (or an admin) may open the room at any time, as the server allows
 * (worker/routes/join.ts), so they get "Start class now" until the session ends; the line beside it says when
 * students can come in, so the teacher knows who will be there.
 */
export function JoinButton(props: {
  classId: string;
  occurrence: { startsAt: number; endsAt: number; status: string };
  label?: string;
  /** The viewer teaches the class or is an admin. */
  teaching?: boolean;
}): JSX.Element {
  const now = createNow();
  const session = useSession();
  const label = () => props.label ?? "Join";
  const studentsFrom = () => formatTime(props.occurrence.startsAt - JOIN_OPENS_BEFORE_MS, session.timeZone());
  const teacherMayStart = () => props.teaching === true && props.occurrence.status === "scheduled" && now() < props.occurrence.endsAt;
  const teacherEarly = () => teacherMayStart() && !canJoinAt(props.occurrence, now());
  return (
    <Show
      when={teacherMayStart() || canJoinAt(props.occurrence, now())}
      fallback={
        <>
          <button type="button" class="button" disabled>
            {label()}
          </button>
          <span class="small muted">Opens at {studentsFrom()}, 15 minutes before the start.</span>
        </>
      }
    >
      {/* The teacher chose to start now: the live page skips its lobby (`?start=now`). */}
      <A href={`/classes/${props.classId}/live${teacherEarly() ? "?start=now" : ""}`} class="button button--primary">
        {teacherEarly() ? "Start class now" : label()}
      </A>
      <Show when={props.teaching}>
        <span class="small muted">
          {teacherEarly()
            ? `You can open the room any time. Students can enter from ${studentsFrom()} (15 minutes before the start) until the end.`
            : "Students can enter until the end."}
        </span>
      </Show>
    </Show>
  );
}
