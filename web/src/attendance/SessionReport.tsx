import { createResource, For, Show, type JSX } from "solid-js";
import type { AttendanceLine } from "../../../schema/api/attendance";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useSession } from "../session";
import { formatTime } from "../time";
import { csvUrl, fetchSessionReport } from "./attendance-api";
import { formatDuration, formatShare } from "./format";
import { PresenceChart } from "./PresenceChart";

const ROLE_WORDS: Record<AttendanceLine["role"], string> = { teacher: "Teacher", admin: "Admin", student: "Student" };
const LEAVE_WORDS: Record<NonNullable<AttendanceLine["lastLeaveReason"]>, string> = {
  left: "left",
  kicked: "removed by the teacher",
  blocked: "blocked",
  ended: "session ended",
  timeout: "connection lost",
};

/**
 * One session's report: for a teacher, everyone's line, the totals, presence over time and the CSV download;
 * for a student, their own line.
 */
export function SessionReport(props: { classId: string; sessionId: string }): JSX.Element {
  const session = useSession();
  const zone = () => session.timeZone();
  const [report] = createResource(
    () => [props.classId, props.sessionId] as const,
    ([classId, sessionId]) => fetchSessionReport(classId, sessionId),
  );
  /** The teacher's view (totals and the chart), or null for a student's own line. */
  const everyone = () => {
    const current = report();
    return current?.scope === "everyone" ? current : null;
  };
  // A time on the session's day is shown as a time only; the date is in the session's heading.
  const time = (ms: number) => formatTime(ms, zone());

  return (
    <div class="stack" data-testid="session-report">
      <ErrorAlert error={report.error} />
      <Show
        when={report()}
        fallback={
          <Show when={!report.error}>
            <Loading label="Loading the report…" />
          </Show>
        }
      >
        {(current) => (
          <>
            <p class="small muted" style={{ margin: 0 }}>
              {current().session.endedAt === null
                ? `Running for ${formatDuration(current().durationMs)} so far`
                : `Lasted ${formatDuration(current().durationMs)}`}{" "}
              · times in {zone().replaceAll("_", " ")}
            </p>
            <Show when={everyone()}>
              {(full) => (
                <>
                  <p style={{ margin: 0 }} data-testid="session-totals">
                    {full().totals.students} {full().totals.students === 1 ? "student" : "students"} came (at most {full().totals.peakPresent} people at once),
                    on average for {formatDuration(full().totals.averageStudentPresentMs)}; {full().totals.chatMessages} chat{" "}
                    {full().totals.chatMessages === 1 ? "message" : "messages"}, {full().totals.pollAnswers} poll{" "}
                    {full().totals.pollAnswers === 1 ? "answer" : "answers"}; {full().totals.handsRaised} {full().totals.handsRaised === 1 ? "hand" : "hands"}{" "}
                    raised, {full().totals.reactions} {full().totals.reactions === 1 ? "reaction" : "reactions"}.
                  </p>
                  <Show when={full().presence.length > 1}>
                    <PresenceChart points={full().presence} timeZone={zone()} />
                  </Show>
                </>
              )}
            </Show>
            <Show
              when={current().lines.length > 0}
              fallback={<p class="muted">{current().scope === "own" ? "You did not attend this session." : "Nobody attended this session."}</p>}
            >
              <div class="table-wrap">
                <table class="table" data-testid="attendance-table">
                  <caption class="visually-hidden">
                    {current().scope === "own" ? "Your attendance in this session" : "Who attended this session"}, times in {zone().replaceAll("_", " ")}
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Role</th>
                      <th scope="col">First joined</th>
                      <th scope="col">Last left</th>
                      <th scope="col">Time present</th>
                      <th scope="col">Share of session</th>
                      <th scope="col">Chat messages</th>
                      <th scope="col">Poll answers</th>
                      <th scope="col">Hands raised</th>
                      <th scope="col">Reactions</th>
                      <th scope="col">Time on stage</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={current().lines}>
                      {(line) => (
                        <tr>
                          <th scope="row">
                            <bdi>{line.displayName}</bdi>
                          </th>
                          <td>{ROLE_WORDS[line.role]}</td>
                          <td>{time(line.firstJoinAt)}</td>
                          <td>{line.lastLeaveAt === null ? "still here" : `${time(line.lastLeaveAt)} (${LEAVE_WORDS[line.lastLeaveReason ?? "left"]})`}</td>
                          <td>
                            {formatDuration(line.presentMs)}
                            <Show when={line.joins > 1}>
                              <span class="small muted"> · joined {line.joins} times</span>
                            </Show>
                          </td>
                          <td>{formatShare(line.share)}</td>
                          <td>{line.chatMessages}</td>
                          <td>{line.pollAnswers}</td>
                          <td>{line.handsRaised}</td>
                          <td>{line.reactions}</td>
                          <td>{line.stageMs === 0 ? "none" : formatDuration(line.stageMs)}</td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
            <div class="row">
              <a class="button button--small" href={csvUrl(props.classId, props.sessionId)} download="">
                Download CSV
              </a>
            </div>
          </>
        )}
      </Show>
    </div>
  );
}
