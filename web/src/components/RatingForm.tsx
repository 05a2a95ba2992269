import { createSignal, Show, type JSX } from "solid-js";
import * as v from "valibot";
import { FeedbackResponseSchema, type FeedbackPut, LIMITS } from "../../../schema/api/portal";
import { RecordingFeedbackResponseSchema } from "../../../schema/api/recordings";
import { api } from "../api";
import { createAction } from "../action";
import { ErrorAlert } from "./ErrorAlert";
import { StarRating } from "./StarRating";
import { useToasts } from "./Toasts";

const COMMENT_LIMIT = LIMITS.feedbackCommentLength;

/**
 * A student's rating of something they attended or watched (a class, a recording): stars plus an optional
 * comment, PUT to `feedbackPath`; saving again replaces the earlier rating. `idPrefix` keeps the inputs' ids
 * apart when two forms share a page.
 */
export function RatingForm(props: {
  feedbackPath: string;
  label: string;
  idPrefix: string;
  saved: { rating: number; comment: string } | null | undefined;
  onSaved: () => void;
}): JSX.Element {
  const toasts = useToasts();
  const [rating, setRating] = createSignal<number | null>(props.saved?.rating ?? null);
  const [comment, setComment] = createSignal(props.saved?.comment ?? "");
  const [missingRating, setMissingRating] = createSignal(false);
  const save = createAction(async () => {
    const chosen = rating();
    if (chosen === null) {
      setMissingRating(true);
      return;
    }
    const trimmed = comment().trim();
    await api(props.feedbackPath, v.union([FeedbackResponseSchema, RecordingFeedbackResponseSchema]), {
      method: "PUT",
      body: (trimmed ? { rating: chosen, comment: trimmed } : { rating: chosen }) satisfies FeedbackPut,
    });
    toasts.notify("Thank you — your rating is saved.");
    props.onSaved();
  });
  const commentId = () => `${props.idPrefix}-comment`;

  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void save.run();
      }}
    >
      <div class="field">
        <span class="label" id={`${props.idPrefix}-label`}>
          {props.label}
        </span>
        <StarRating
          name={props.idPrefix}
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
        <label for={commentId()}>Comment (optional)</label>
        <textarea
          id={commentId()}
          class="textarea"
          maxLength={COMMENT_LIMIT}
          value={comment()}
          onInput={(e) => setComment(e.currentTarget.value)}
          aria-describedby={`${commentId()}-count`}
        />
        <span id={`${commentId()}-count`} class="field__hint">
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
