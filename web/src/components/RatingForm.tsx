import { createSignal, Show, type JSX } from "solid-js";
import { LIMITS, type ClassDetail, type FeedbackPut, type FeedbackResponse } from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { ErrorAlert } from "./ErrorAlert";
import { StarRating } from "./StarRating";
import { useToasts } from "./Toasts";

const COMMENT_LIMIT = LIMITS.feedbackCommentLength;

/** The student's rating of a class: stars plus an optional comment; saving again replaces the earlier rating. */
export function RatingForm(props: { classDetail: ClassDetail; onSaved: () => void }): JSX.Element {
  const toasts = useToasts();
  const [rating, setRating] = createSignal<number | null>(props.classDetail.myRating?.rating ?? null);
  const [comment, setComment] = createSignal(props.classDetail.myRating?.comment ?? "");
  const [missingRating, setMissingRating] = createSignal(false);
  const save = createAction(async () => {
    const chosen = rating();
    if (chosen === null) {
      setMissingRating(true);
      return;
    }
    const trimmed = comment().trim();
    await api<FeedbackResponse>(`/api/classes/${props.classDetail.id}/feedback`, {
      method: "PUT",
      body: (trimmed ? { rating: chosen, comment: trimmed } : { rating: chosen }) satisfies FeedbackPut,
    });
    toasts.notify("Thank you — your rating is saved.");
    props.onSaved();
  });

  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void save.run();
      }}
    >
      <div class="field">
        <span class="label" id="rating-label">
          Your rating
        </span>
        <StarRating
          value={rating()}
          onChange={(value) => {
            setRating(value);
            setMissingRating(false);
          }}
        />
        <Show when={missingRating()}>
          <span class="field__error" role="alert">
            Choose from 1 to 5 stars.
          </span>
        </Show>
      </div>
      <div class="field">
        <label for="rating-comment">Comment (optional)</label>
        <textarea
          id="rating-comment"
          class="textarea"
          maxLength={COMMENT_LIMIT}
          value={comment()}
          onInput={(e) => setComment(e.currentTarget.value)}
          aria-describedby="rating-comment-count"
        />
        <span id="rating-comment-count" class="field__hint">
          {comment().length} / {COMMENT_LIMIT}
        </span>
      </div>
      <ErrorAlert error={save.error()} />
      <div class="form-actions">
        <button type="submit" class="button button--primary" disabled={save.pending()}>
          Submit rating
        </button>
      </div>
    </form>
  );
}
