import { A } from "@solidjs/router";
import { createResource, For, Show, type JSX } from "solid-js";
import { type ClassSummary, ClassListResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { createNow } from "../clock";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { JoinButton } from "../components/JoinButton";
import { When } from "../components/When";
import { useSession, useUser } from "../session";
import { relativeTime } from "../time";

/** Classes the user takes or teaches, soonest first; classes with nothing scheduled go last. */
async function loadMyClasses(role: string): Promise<ClassSummary[]> {
  const scopes = role === "student" ? ["enrolled"] : ["teaching", "enrolled"];
  const lists = await Promise.all(scopes.map((scope) => api("/api/classes", ClassListResponseSchema, { query: { scope } })));
  const byId = new Map<string, ClassSummary>();
  for (const list of lists) for (const item of list.classes) byId.set(item.id, item);
  const soonest = (item: ClassSummary) => item.nextOccurrence?.startsAt ?? Number.POSITIVE_INFINITY;
  return [...byId.values()].sort((a, b) => soonest(a) - soonest(b) || a.title.localeCompare(b.title));
}

/** The start page: the user's upcoming classes with their next occurrence and a Join button. */
export default function Dashboard(): JSX.Element {
  const user = useUser();
  const session = useSession();
  const now = createNow(60_000);
  const [classes, { refetch }] = createResource(() => user().role, loadMyClasses);

  return (
    <section class="stack">
      <div class="page-head">
        <h1>
          Hello, <bdi>{user().displayName}</bdi>
        </h1>
        <div class="row">
          <Show when={user().role !== "student"}>
            <A href="/classes/new" class="button button--primary">
              New class
            </A>
          </Show>
          <A href="/calendar" class="button">
            Open calendar
          </A>
        </div>
      </div>
      <p class="muted">
        Times are shown in {session.timeZone().replaceAll("_", " ")}. You can change this in <A href="/settings">Settings</A>.
      </p>
      <h2>Your upcoming classes</h2>
      <Show
        when={!classes.error}
        fallback={
          <>
            <ErrorAlert error={classes.error} />
            <button type="button" class="button" onClick={() => void refetch()}>
              Try again
            </button>
          </>
        }
      >
        <Show when={classes()} fallback={<Loading label="Loading your classes…" />}>
          {(list) => (
            <Show
              when={list().length > 0}
              fallback={
                <div class="empty stack">
                  <p>You are not enrolled in any class yet.</p>
                  <p>
                    <A href="/classes" class="button button--primary">
                      Browse classes
                    </A>
                  </p>
                </div>
              }
            >
              <ul class="grid-cards">
                <For each={list()}>
                  {(item) => (
                    <li class="card class-card">
                      <h3 class="card__title">
                        <A href={`/classes/${item.id}`}>
                          <bdi>{item.title}</bdi>
                        </A>
                      </h3>
                      <p class="card__meta">
                        {item.teacher.id === user().id ? (
                          "You teach this class"
                        ) : (
                          <>
                            with <bdi>{item.teacher.displayName}</bdi>
                          </>
                        )}
                        {item.status === "archived" && " · archived"}
                      </p>
                      <Show when={item.nextOccurrence} fallback={<p class="muted">Nothing scheduled.</p>}>
                        {(next) => (
                          <>
                            <p>
                              <When startsAt={next().startsAt} endsAt={next().endsAt} />
                              <br />
                              <span class="small muted">{next().startsAt <= now() ? "In progress" : relativeTime(next().startsAt, now())}</span>
                            </p>
                            <div class="row">
                              <JoinButton classId={item.id} occurrence={next()} teaching={item.teacher.id === user().id || user().role === "admin"} />
                            </div>
                          </>
                        )}
                      </Show>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          )}
        </Show>
      </Show>
    </section>
  );
}
