import { A } from "@solidjs/router";
import { createMemo, createResource, createSignal, For, Show, type JSX } from "solid-js";
import { type ClassSummary, ClassListResponseSchema, ClassResponseSchema } from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { RatingSummary } from "../components/StarRating";
import { useToasts } from "../components/Toasts";
import { When } from "../components/When";
import { RecordingCatalog } from "../recordings/RecordingCatalog";
import { useUser } from "../session";
import { isolate } from "../bidi";

/** Every class the user may see, with a filter and an Enroll button, and the recorded lectures they may watch. */
export default function Catalog(): JSX.Element {
  const user = useUser();
  const toasts = useToasts();
  const [classes, { mutate, refetch }] = createResource(() => api("/api/classes", ClassListResponseSchema, { query: { scope: "all" } }));
  const [query, setQuery] = createSignal("");
  const [enrolling, setEnrolling] = createSignal<string | null>(null);

  const visible = createMemo(() => {
    // A failed load is shown by the alert below; reading the resource then would throw out of this memo.
    if (classes.error) return [];
    const needle = query().trim().toLowerCase();
    const all = classes()?.classes ?? [];
    if (!needle) return all;
    return all.filter((item) => `${item.title} ${item.description} ${item.teacher.displayName}`.toLowerCase().includes(needle));
  });

  const enroll = async (item: ClassSummary) => {
    setEnrolling(item.id);
    try {
      const { class: updated } = await api(`/api/classes/${item.id}/enrollment`, ClassResponseSchema, { method: "POST" });
      mutate((current) => current && { classes: current.classes.map((c) => (c.id === updated.id ? { ...c, ...updated } : c)) });
      toasts.notify(`You are enrolled in ${isolate(updated.title)}.`);
    } catch (error) {
      toasts.notify(errorMessage(error), "error");
    } finally {
      setEnrolling(null);
    }
  };

  return (
    <section class="stack">
      <div class="page-head">
        <h1>Classes</h1>
        <Show when={user().role !== "student"}>
          <A href="/classes/new" class="button button--primary">
            New class
          </A>
        </Show>
      </div>
      <div class="field" style={{ "max-width": "28rem" }}>
        <label for="catalog-search">Search classes</label>
        <input id="catalog-search" class="input" type="search" value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
      </div>
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
        <Show when={classes()} fallback={<Loading label="Loading classes…" />}>
          <p class="muted small" role="status">
            {visible().length} {visible().length === 1 ? "class" : "classes"}
          </p>
          <Show when={visible().length > 0} fallback={<p class="empty">No classes match.</p>}>
            <ul class="grid-cards">
              <For each={visible()}>
                {(item) => (
                  <li class="card class-card">
                    <h2 class="card__title">
                      <A href={`/classes/${item.id}`}>
                        <bdi>{item.title}</bdi>
                      </A>
                    </h2>
                    <p class="card__meta">
                      with <bdi>{item.teacher.displayName}</bdi> · {item.kind === "live" ? "Live" : "Recorded"} · {item.enrolledCount} enrolled
                    </p>
                    <Show when={item.status === "archived"}>
                      <span class="badge">Archived</span>
                    </Show>
                    <Show when={item.description}>
                      <p class="small">{item.description.length > 180 ? `${item.description.slice(0, 177)}…` : item.description}</p>
                    </Show>
                    <p class="small">
                      <Show when={item.nextOccurrence} fallback={<span class="muted">Nothing scheduled</span>}>
                        {(next) => (
                          <>
                            Next: <When startsAt={next().startsAt} endsAt={next().endsAt} />
                          </>
                        )}
                      </Show>
                    </p>
                    <p class="small">
                      <RatingSummary average={item.rating.average} count={item.rating.count} />
                    </p>
                    <div class="row">
                      <Show
                        when={item.teacher.id !== user().id}
                        fallback={
                          <A href={`/classes/${item.id}/manage`} class="button">
                            Manage
                          </A>
                        }
                      >
                        <Show when={!item.enrolled} fallback={<span class="badge badge--success">Enrolled</span>}>
                          <button
                            type="button"
                            class="button button--primary"
                            disabled={enrolling() === item.id || item.status === "archived"}
                            onClick={() => void enroll(item)}
                            aria-label={`Enroll in ${item.title}`}
                          >
                            Enroll
                          </button>
                        </Show>
                      </Show>
                      <A href={`/classes/${item.id}`} class="button button--quiet">
                        Details
                      </A>
                    </div>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </Show>
      </Show>
      <section class="stack" aria-labelledby="catalog-recordings">
        <h2 id="catalog-recordings">Recorded lectures</h2>
        <p class="muted small">Recordings of the classes you teach or are enrolled in, matching the search above.</p>
        <RecordingCatalog query={query()} />
      </section>
    </section>
  );
}
