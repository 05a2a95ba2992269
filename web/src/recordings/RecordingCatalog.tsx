import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import { RecordingCatalogResponseSchema } from "../../../schema/api/recordings";
import { api } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { RecordingCard } from "./RecordingCard";
import "./recordings.css";

/** Recorded lectures the user may watch (their classes' ready recordings), searched on the server, in pages. */
export function RecordingCatalog(props: { query: string }): JSX.Element {
  const [page, setPage] = createSignal(1);
  const [result] = createResource(
    () => ({ q: props.query.trim(), page: page() }),
    ({ q, page: p }) => api("/api/recordings", RecordingCatalogResponseSchema, { query: { q: q || undefined, page: p } }),
  );
  return (
    <Show when={!result.error} fallback={<ErrorAlert error={result.error} />}>
      <Show when={result.latest} fallback={<Loading label="Loading recordings…" />}>
        {(current) => (
          <div class="stack">
            <Show when={current().recordings.length > 0} fallback={<p class="empty">No recordings match.</p>}>
              <ul class="recording-grid" aria-label="Recorded lectures">
                <For each={current().recordings}>{(recording) => <RecordingCard recording={recording} showClass />}</For>
              </ul>
            </Show>
            <Show when={current().page > 1 || current().hasMore}>
              <div class="row">
                <button type="button" class="button" disabled={current().page <= 1 || result.loading} onClick={() => setPage((p) => p - 1)}>
                  Newer
                </button>
                <span class="small muted">Page {current().page}</span>
                <button type="button" class="button" disabled={!current().hasMore || result.loading} onClick={() => setPage((p) => p + 1)}>
                  Older
                </button>
              </div>
            </Show>
          </div>
        )}
      </Show>
    </Show>
  );
}
