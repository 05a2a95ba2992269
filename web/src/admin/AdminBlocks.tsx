import { createResource, createSignal, Show, type JSX } from "solid-js";
import { createAction } from "../action";
import { type AdminUserListResponse, AdminUserListResponseSchema } from "../../../schema/api/auth";
import { ClassListResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { BlockList } from "../components/BlockList";
import { ErrorAlert } from "../components/ErrorAlert";

/** Admins: every block, plus global or per-class blocks for anyone found by search. */
export default function AdminBlocks(): JSX.Element {
  const [query, setQuery] = createSignal("");
  // A plain action rather than a resource: a search must not suspend the page around the search box.
  const [found, setFound] = createSignal<AdminUserListResponse | null>(null);
  const search = createAction(async () => {
    const q = query().trim();
    setFound(await api("/api/admin/users", AdminUserListResponseSchema, { query: { q: q || undefined } }));
  });
  const [classes] = createResource(() => api("/api/classes", ClassListResponseSchema, { query: { scope: "all" } }));

  const picker = (
    <div class="field">
      <label for="block-search">Find the person by name or e-mail</label>
      <div class="copy-field">
        <input
          id="block-search"
          class="input"
          type="search"
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={(e) => {
            // Enter searches instead of submitting the block form around it.
            if (e.key === "Enter") {
              e.preventDefault();
              void search.run();
            }
          }}
        />
        <button type="button" class="button" disabled={search.pending()} onClick={() => void search.run()}>
          Search
        </button>
      </div>
      <Show when={found()}>
        {(result) => (
          <span class="field__hint" role="status">
            {result().users.length === 0 ? "Nobody found." : `${result().users.length} found — pick below.`}
          </span>
        )}
      </Show>
      <ErrorAlert error={search.error()} />
    </div>
  );

  return (
    <section class="stack">
      <h1>Blocks</h1>
      <BlockList
        candidates={found()?.users ?? []}
        candidatePicker={picker}
        classOptions={(classes.latest?.classes ?? []).map((c) => ({ id: c.id, title: c.title }))}
      />
    </section>
  );
}
