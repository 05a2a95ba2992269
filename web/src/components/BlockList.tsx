import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import { LIMITS, type BlockCreate, type BlockView, BlockListResponseSchema, BlockResponseSchema, NoContentSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { useSession } from "../session";
import { formatDateTime, fromLocalInputValue } from "../time";
import { ErrorAlert, Loading } from "./ErrorAlert";
import { Modal } from "./Modal";
import { useToasts } from "./Toasts";
import { isolate } from "../bidi";

/** Someone who can be blocked, as offered by the page (enrolled students, or an admin's user search). */
export interface BlockCandidate {
  id: string;
  displayName: string;
  email: string;
}

/**
 * Active blocks with "Lift", and a form to add one. With `classId` it lists and adds blocks for that class;
 * without, it is the admin's view of every block and adds global ones (or per-class, via `classOptions`).
 */
export function BlockList(props: {
  classId?: string;
  /** Who may be picked in the add form. */
  candidates: BlockCandidate[];
  /** Shown above the candidates select (e.g. an admin's user search). */
  candidatePicker?: JSX.Element;
  /** Admin view: classes a block can be limited to, by id → title. */
  classOptions?: { id: string; title: string }[];
}): JSX.Element {
  const session = useSession();
  const toasts = useToasts();
  const [blocks, { refetch }] = createResource(
    () => ({ classId: props.classId }),
    ({ classId }) => api("/api/blocks", BlockListResponseSchema, { query: { classId } }),
  );
  const [userId, setUserId] = createSignal("");
  const [scopeClassId, setScopeClassId] = createSignal("");
  const [reason, setReason] = createSignal("");
  const [expires, setExpires] = createSignal("");
  const [lifting, setLifting] = createSignal<BlockView | null>(null);

  const classTitle = (classId: string | null) => {
    if (classId === null) return "Everywhere";
    if (classId === props.classId) return "This class";
    return props.classOptions?.find((c) => c.id === classId)?.title ?? "A class";
  };

  const add = createAction(async () => {
    const chosen = userId() || props.candidates[0]?.id;
    if (!chosen) throw new Error("Choose who to block.");
    let expiresAt: number | undefined;
    if (expires()) {
      const parsed = fromLocalInputValue(expires(), session.timeZone());
      if (parsed === null || parsed <= Date.now()) throw new Error("The end of the block must be in the future.");
      expiresAt = parsed;
    }
    const classId = props.classId ?? (scopeClassId() || undefined);
    const body: BlockCreate = { userId: chosen, reason: reason().trim(), ...(classId ? { classId } : {}), ...(expiresAt ? { expiresAt } : {}) };
    const { block } = await api("/api/blocks", BlockResponseSchema, { method: "POST", body });
    toasts.notify(`${isolate(block.user.displayName)} is blocked.`);
    setReason("");
    setExpires("");
    void refetch();
  });

  const lift = createAction(async (block: BlockView) => {
    await api(`/api/blocks/${block.id}`, NoContentSchema, { method: "DELETE" });
    setLifting(null);
    toasts.notify(`The block on ${isolate(block.user.displayName)} is lifted.`);
    void refetch();
  });

  return (
    <div class="stack">
      <form
        class="card stack"
        onSubmit={(event) => {
          event.preventDefault();
          void add.run();
        }}
        aria-labelledby="block-add-title"
      >
        <h2 id="block-add-title">Block someone</h2>
        <p class="muted small">
          {props.classId
            ? "A blocked student cannot join or chat in this class; the block takes effect in a live class at once."
            : "A global block stops the person from signing in at all."}
        </p>
        {props.candidatePicker}
        <div class="form-grid form-grid--2">
          <div class="field">
            <label for="block-user">Person</label>
            <select
              id="block-user"
              class="select"
              required
              value={userId()}
              onChange={(e) => setUserId(e.currentTarget.value)}
              disabled={props.candidates.length === 0}
            >
              <Show when={props.candidates.length === 0}>
                <option value="">{props.classId ? "Nobody is enrolled" : "Search for a person first"}</option>
              </Show>
              <For each={props.candidates}>
                {(candidate) => (
                  <option value={candidate.id}>
                    {candidate.displayName} ({candidate.email})
                  </option>
                )}
              </For>
            </select>
          </div>
          <Show when={!props.classId && props.classOptions}>
            {(options) => (
              <div class="field">
                <label for="block-scope">Where</label>
                <select id="block-scope" class="select" value={scopeClassId()} onChange={(e) => setScopeClassId(e.currentTarget.value)}>
                  <option value="">Everywhere (cannot sign in)</option>
                  <For each={options()}>{(option) => <option value={option.id}>Only in {option.title}</option>}</For>
                </select>
              </div>
            )}
          </Show>
          <div class="field">
            <label for="block-expires">Until (optional)</label>
            <input
              id="block-expires"
              class="input"
              type="datetime-local"
              value={expires()}
              onInput={(e) => setExpires(e.currentTarget.value)}
              aria-describedby="block-expires-hint"
            />
            <span id="block-expires-hint" class="field__hint">
              Leave empty to block until lifted. {session.timeZone().replaceAll("_", " ")} time.
            </span>
          </div>
        </div>
        <div class="field">
          <label for="block-reason">Reason</label>
          <textarea
            id="block-reason"
            class="textarea"
            required
            maxLength={LIMITS.blockReasonLength}
            value={reason()}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </div>
        <ErrorAlert error={add.error()} />
        <div class="form-actions">
          <button type="submit" class="button button--danger" disabled={add.pending() || props.candidates.length === 0}>
            Block
          </button>
        </div>
      </form>

      <section class="card stack" aria-labelledby="blocks-title">
        <h2 id="blocks-title">Active blocks</h2>
        <ErrorAlert error={blocks.error} />
        <Show
          when={blocks.latest}
          fallback={
            <Show when={!blocks.error}>
              <Loading />
            </Show>
          }
        >
          {(list) => (
            <Show when={list().blocks.length > 0} fallback={<p class="muted">Nobody is blocked.</p>}>
              <div class="table-wrap">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">Person</th>
                      <th scope="col">Where</th>
                      <th scope="col">Reason</th>
                      <th scope="col">Until</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list().blocks}>
                      {(block) => (
                        <tr>
                          <td>
                            <bdi>{block.user.displayName}</bdi>
                            <br />
                            <span class="muted">{block.user.email}</span>
                          </td>
                          <td>{classTitle(block.classId)}</td>
                          <td>
                            <bdi>{block.reason}</bdi>
                            <br />
                            <span class="muted">
                              by <bdi>{block.blockedBy.displayName}</bdi>
                            </span>
                          </td>
                          <td>{block.expiresAt === null ? "Until lifted" : formatDateTime(block.expiresAt, session.timeZone())}</td>
                          <td>
                            <button type="button" class="button button--small" onClick={() => setLifting(block)}>
                              Lift<span class="visually-hidden"> the block on {block.user.displayName}</span>
                            </button>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </section>

      <Show when={lifting()}>
        {(block) => (
          <Modal open onOpenChange={(open) => !open && setLifting(null)} title={`Lift the block on ${block().user.displayName}?`}>
            <div class="stack">
              <p>{block().classId === null ? "They can sign in again at once." : "They can join this class again at once."}</p>
              <ErrorAlert error={lift.error()} />
              <div class="form-actions">
                <button type="button" class="button" onClick={() => setLifting(null)}>
                  Keep the block
                </button>
                <button type="button" class="button button--primary" disabled={lift.pending()} onClick={() => void lift.run(block())}>
                  Lift block
                </button>
              </div>
            </div>
          </Modal>
        )}
      </Show>
    </div>
  );
}
