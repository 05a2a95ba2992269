import { createResource, For, Show, type JSX } from "solid-js";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useSession } from "../session";
import { formatDateTime } from "../time";
import { fetchClassAttendance } from "./attendance-api";
import { formatDuration } from "./format";

/** Each student across the class's sessions, those who came least first, so drop-outs stand out. */
export function ClassAttendanceTable(props: { classId: string }): JSX.Element {
  const session = useSession();
  const [overview] = createResource(() => props.classId, fetchClassAttendance);
  return (
    <div class="stack">
      <ErrorAlert error={overview.error} />
      <Show
        when={overview()}
        fallback={
          <Show when={!overview.error}>
            <Loading label="Loading attendance…" />
          </Show>
        }
      >
        {(current) => (
          <Show when={current().students.length > 0} fallback={<p class="muted">No students yet.</p>}>
            <div class="table-wrap">
              <table class="table" data-testid="class-attendance-table">
                <caption class="visually-hidden">Each student's attendance over the {current().sessionsHeld} sessions held</caption>
                <thead>
                  <tr>
                    <th scope="col">Student</th>
                    <th scope="col">Sessions attended</th>
                    <th scope="col">Total time</th>
                    <th scope="col">Last attended</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={current().students}>
                    {(student) => (
                      <tr>
                        <th scope="row">
                          <bdi>{student.displayName}</bdi>
                          <Show when={!student.enrolled}>
                            <span class="small muted"> (no longer enrolled)</span>
                          </Show>
                        </th>
                        <td>
                          {student.sessionsAttended} of {current().sessionsHeld}
                          <Show when={student.sessionsAttended === 0 && current().sessionsHeld > 0}>
                            {" "}
                            <span class="badge badge--danger">Never came</span>
                          </Show>
                        </td>
                        <td>{formatDuration(student.totalPresentMs)}</td>
                        <td>{student.lastAttendedAt === null ? "—" : formatDateTime(student.lastAttendedAt, session.timeZone())}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
          </Show>
        )}
      </Show>
    </div>
  );
}
