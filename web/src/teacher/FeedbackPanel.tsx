import { createResource, For, Index, Show, type JSX } from "solid-js";
import { FeedbackSummarySchema } from "../../../schema/api/portal";
import { api } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { RatingSummary } from "../components/StarRating";
import { useSession } from "../session";
import { formatDateTime } from "../time";

/** Ratings of a class: average, how the stars are spread, and the students' comments. */
export function FeedbackPanel(props: { classId: string }): JSX.Element {
  const session = useSession();
  const [summary] = createResource(
    () => props.classId,
    (classId) => api(`/api/classes/${classId}/feedback`, FeedbackSummarySchema),
  );
  return (
    <section class="card stack" aria-labelledby="feedback-title">
      <h2 id="feedback-title">Feedback</h2>
      <ErrorAlert error={summary.error} />
      <Show
        when={summary()}
        fallback={
          <Show when={!summary.error}>
            <Loading />
          </Show>
        }
      >
        {(current) => (
          <>
            <p>
              <RatingSummary average={current().average} count={current().count} />
            </p>
            <table class="table" style={{ "max-width": "24rem" }}>
              <caption class="visually-hidden">Ratings by number of stars</caption>
              <thead>
                <tr>
                  <th scope="col">Stars</th>
                  <th scope="col">Ratings</th>
                </tr>
              </thead>
              <tbody>
                <Index each={[...current().distribution].reverse()}>
                  {(n, index) => (
                    <tr>
                      <th scope="row">{5 - index}</th>
                      <td>
                        <meter
                          min={0}
                          max={Math.max(1, current().count)}
                          value={n()}
                          aria-hidden="true"
                          style={{ width: "8rem", "margin-right": "var(--space-2)" }}
                        />
                        {n()}
                      </td>
                    </tr>
                  )}
                </Index>
              </tbody>
            </table>
            <h3>Comments</h3>
            <Show when={(current().comments ?? []).length > 0} fallback={<p class="muted">No comments yet.</p>}>
              <ul class="list">
                <For each={current().comments}>
                  {(comment) => (
                    <li style={{ display: "block" }}>
                      <p style={{ margin: 0 }}>
                        <strong>{comment.displayName}</strong> · <span aria-label={`${comment.rating} out of 5 stars`}>{"★".repeat(comment.rating)}</span>{" "}
                        <span class="muted small">{formatDateTime(comment.updatedAt, session.timeZone())}</span>
                      </p>
                      <p style={{ margin: 0, "white-space": "pre-wrap" }}>{comment.comment}</p>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </>
        )}
      </Show>
    </section>
  );
}
