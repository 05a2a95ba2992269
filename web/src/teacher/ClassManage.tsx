import { Tabs } from "@kobalte/core/tabs";
import { A, useParams, useSearchParams } from "@solidjs/router";
import { createResource, Show, Suspense, type JSX } from "solid-js";
import { ClassResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { AttendanceSection } from "../attendance/AttendanceSection";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { BlocksPanel } from "./BlocksPanel";
import { FeedbackPanel } from "./FeedbackPanel";
import { SchedulePanel } from "./SchedulePanel";
import { StudentsPanel } from "./StudentsPanel";

const TABS = ["schedule", "students", "attendance", "blocks", "feedback"] as const;
type Tab = (typeof TABS)[number];

/** A teacher's (or admin's) workspace for one class: schedule, students, attendance, blocks and feedback as tabs. */
export default function ClassManage(): JSX.Element {
  const params = useParams();
  const [search, setSearch] = useSearchParams();
  const [detail, { refetch }] = createResource(
    () => params.id,
    async (id) => (await api(`/api/classes/${id}`, ClassResponseSchema)).class,
  );
  // The open tab lives in the URL so reload and back keep it.
  const tab = (): Tab => ((TABS as readonly string[]).includes(String(search.tab)) ? (search.tab as Tab) : "schedule");

  return (
    <Show when={!detail.error} fallback={<ErrorAlert error={detail.error} />}>
      <Show when={detail.latest} fallback={<Loading />}>
        {(current) => (
          <section class="stack">
            <div class="page-head">
              <div>
                <h1>{current().title}</h1>
                <p class="muted" style={{ margin: 0 }}>
                  Schedule, students, attendance, blocks and feedback
                </p>
              </div>
              <div class="row">
                <A href={`/classes/${current().id}/edit`} class="button">
                  Edit details
                </A>
                <A href={`/classes/${current().id}`} class="button button--quiet">
                  Class page
                </A>
              </div>
            </div>
            <Show when={current().canManage} fallback={<p class="alert alert--error">Only this class's teacher or an admin can manage it.</p>}>
              <Tabs value={tab()} onChange={(value) => setSearch({ tab: value }, { replace: true })}>
                <Tabs.List class="tabs__list" aria-label="Manage class">
                  <Tabs.Trigger class="tabs__trigger" value="schedule">
                    Schedule
                  </Tabs.Trigger>
                  <Tabs.Trigger class="tabs__trigger" value="students">
                    Students
                  </Tabs.Trigger>
                  <Tabs.Trigger class="tabs__trigger" value="attendance">
                    Attendance
                  </Tabs.Trigger>
                  <Tabs.Trigger class="tabs__trigger" value="blocks">
                    Blocks
                  </Tabs.Trigger>
                  <Tabs.Trigger class="tabs__trigger" value="feedback">
                    Feedback
                  </Tabs.Trigger>
                </Tabs.List>
                <Tabs.Content value="schedule">
                  <SchedulePanel detail={current()} reload={() => void refetch()} />
                </Tabs.Content>
                <Tabs.Content value="students">
                  <Suspense fallback={<Loading />}>
                    <StudentsPanel classId={current().id} />
                  </Suspense>
                </Tabs.Content>
                <Tabs.Content value="attendance">
                  <AttendanceSection classId={current().id} everyone />
                </Tabs.Content>
                <Tabs.Content value="blocks">
                  <Suspense fallback={<Loading />}>
                    <BlocksPanel classId={current().id} />
                  </Suspense>
                </Tabs.Content>
                <Tabs.Content value="feedback">
                  <Suspense fallback={<Loading />}>
                    <FeedbackPanel classId={current().id} />
                  </Suspense>
                </Tabs.Content>
              </Tabs>
            </Show>
          </section>
        )}
      </Show>
    </Show>
  );
}
