import { createSignal, Show, type JSX } from "solid-js";
import { type FeedbackPut, LIMITS } from "../../../schema/api/portal";
import type { RecordingFeedbackResponse, RecordingView } from "../../../schema/api/recordings";
import { createAction } from "../action";
import { api } from "../api";
import { ErrorAlert } from "../components/ErrorAlert";
import { StarRating } from "../components/StarRating";
import { useToasts } from "../components/Toasts";

/** A student's rating of a recording (stars and an optional comment); rating again replaces it. */
export function RecordingRating(props: { recording: RecordingView; onSaved: () => void }): JSX.Element {
  const toasts = useToasts();
  const [rating, setRating] = createSignal<number | null>(props.recording.myRating?.rating ?? null);
  const [comment, setComment] = createSignal(props.recording.myRating?.comment ?? "");
  const [missingRating, setMissingRating] = createSignal(false);
  const save = createAction(async () => {
    const chosen = rating();
    if (chosen === null) {
      setMissingRating(true);
      return;
    }
    const trimmed = comment().trim();
    await api<RecordingFeedbackResponse>(`/api/recordings/${props.recording.id}/feedback`, {
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
        <span class="label">Your rating of this recording</span>
        <StarRating
          name="recording-rating"
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
        <label for="recording-rating-comment">Comment (optional)</label>
        <textarea
          id="recording-rating-comment"
          class="textarea"
          maxLength={LIMITS.feedbackCommentLength}
          value={comment()}
          onInput={(e) => setComment(e.currentTarget.value)}
        />
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
