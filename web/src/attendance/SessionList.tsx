import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useSession } from "../session";
import { formatDateTime, formatTime } from "../time";
import { fetchSessions } from "./attendance-api";
import { SessionReport } from "./SessionReport";

/** The class's live sessions, newest first; opening one shows its report under it. */
export function SessionList(props: { classId: string }): JSX.Element {
  const session = useSession();
  const [sessions] = createResource(() => props.classId, fetchSessions);
  const [open, setOpen] = createSignal<string | null>(null);
  return (
    <div class="stack">
      <ErrorAlert error={sessions.error} />
      <Show
        when={sessions()}
        fallback={
          <Show when={!sessions.error}>
            <Loading label="Loading the sessions…" />
          </Show>
        }
      >
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">No live sessions yet. They appear here once the class has been live.</p>}>
            <ul class="list" aria-label="Live sessions">
              <For each={list()}>
                {(item) => (
                  <li style={{ display: "block" }}>
                    <div class="row" style={{ "justify-content": "space-between" }}>
                      <span>
                        {formatDateTime(item.startedAt, session.timeZone())}
                        {item.endedAt === null ? " – now" : ` – ${formatTime(item.endedAt, session.timeZone())}`} ·{" "}
                        <span class="muted">{item.present} present</span>
                        <Show when={item.endedAt === null}>
                          {" "}
                          <span class="badge badge--success">Live now</span>
                        </Show>
                      </span>
                      <button
                        type="button"
                        class="button button--small"
                        aria-expanded={open() === item.id}
                        aria-controls={`session-report-${item.id}`}
                        onClick={() => setOpen(open() === item.id ? null : item.id)}
                      >
                        {open() === item.id ? "Hide report" : "Show report"}
                      </button>
                    </div>
                    <Show when={open() === item.id}>
                      <div id={`session-report-${item.id}`} style={{ "margin-top": "var(--space-3)" }}>
                        <SessionReport classId={props.classId} sessionId={item.id} />
                      </div>
                    </Show>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        )}
      </Show>
    </div>
  );
}
