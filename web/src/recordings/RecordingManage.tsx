import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import { FeedbackSummarySchema } from "../../../schema/api/portal";
import { type RecordingView, RecordingResponseSchema } from "../../../schema/api/recordings";
import { createAction } from "../action";
import { api } from "../api";
import { ErrorAlert } from "../components/ErrorAlert";
import { useToasts } from "../components/Toasts";
import { useSession } from "../session";
import { formatDateTime } from "../time";

/** The class's teacher (or an admin) names the recording and reads what students wrote about it. */
export function RecordingManage(props: { recording: RecordingView; onSaved: () => void }): JSX.Element {
  const toasts = useToasts();
  const session = useSession();
  const [title, setTitle] = createSignal(props.recording.title);
  const rename = createAction(async () => {
    await api(`/api/recordings/${props.recording.id}`, RecordingResponseSchema, { method: "PATCH", body: { title: title().trim() } });
    toasts.notify(title().trim() ? "Recording renamed." : "The recording takes the class title again.");
    props.onSaved();
  });
  const [feedback] = createResource(
    () => props.recording.id,
    async (id) => api(`/api/recordings/${id}/feedback`, FeedbackSummarySchema),
  );
  return (
    <>
      <section class="card stack" aria-labelledby="recording-name">
        <h2 id="recording-name">Name</h2>
        <form
          class="row"
          onSubmit={(event) => {
            event.preventDefault();
            void rename.run();
          }}
        >
          <label class="field" style={{ flex: "1" }}>
            <span class="label">Recording title (empty: the class title and date)</span>
            <input class="input" value={title()} maxLength={200} onInput={(event) => setTitle(event.currentTarget.value)} />
          </label>
          <button type="submit" class="button button--primary" disabled={rename.pending()}>
            Save title
          </button>
        </form>
        <ErrorAlert error={rename.error()} />
      </section>
      <section class="card stack" aria-labelledby="recording-comments">
        <h2 id="recording-comments">What students wrote</h2>
        <Show when={feedback()} fallback={<ErrorAlert error={feedback.error} />}>
          {(summary) => (
            <Show when={(summary().comments ?? []).length > 0} fallback={<p class="muted">No comments yet.</p>}>
              <ul class="stack" data-testid="recording-comments">
                <For each={summary().comments}>
                  {(comment) => (
                    <li>
                      <span aria-label={`${comment.rating} of 5 stars`}>{"★".repeat(comment.rating) + "☆".repeat(5 - comment.rating)}</span>{" "}
                      <strong>
                        <bdi>{comment.displayName}</bdi>
                      </strong>{" "}
                      <span class="muted">{formatDateTime(comment.updatedAt, session.timeZone())}</span>
                      <p dir="auto">{comment.comment}</p>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          )}
        </Show>
      </section>
    </>
  );
}
