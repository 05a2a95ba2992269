import { Show, type JSX } from "solid-js";
import { ClassAttendanceTable } from "./ClassAttendanceTable";
import { SessionList } from "./SessionList";

/**
 * The "Attendance" section of a class: for its teacher and admins, every student across the class and each
 * session's full report; for an enrolled student, the sessions with their own line.
 */
export function AttendanceSection(props: { classId: string; everyone: boolean }): JSX.Element {
  return (
    <section class="card stack" aria-labelledby="attendance-title">
      <h2 id="attendance-title">Attendance</h2>
      <Show when={props.everyone}>
        <h3>Students across all sessions</h3>
        <ClassAttendanceTable classId={props.classId} />
        <h3>Sessions</h3>
      </Show>
      <Show when={!props.everyone}>
        <p class="muted small" style={{ margin: 0 }}>
          When you were in each live session of this class.
        </p>
      </Show>
      <SessionList classId={props.classId} />
    </section>
  );
}
