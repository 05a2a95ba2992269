import { A, useNavigate, useParams, useSearchParams } from "@solidjs/router";
import { createEffect, createResource, onCleanup, Show, type JSX } from "solid-js";
import { RecordingResponseSchema } from "../../../schema/api/recordings";
import { api } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { RatingSummary } from "../components/StarRating";
import { formatDuration, isInProgress, recordingTitle, statusLabel } from "../recordings/format";
import { RecordingViewer } from "../recordings/RecordingViewer";
import { RecordingManage } from "../recordings/RecordingManage";
import { linkTitle, SessionParts } from "../recordings/SessionParts";
import { RatingForm } from "../components/RatingForm";
import { useSession } from "../session";
import "../recordings/recordings.css";

/** While the recording is still processed, the page asks again this often (less often while it is recorded). */
const POLL_MS = 2_000;
const POLL_WHILE_RECORDING_MS = 10_000;

/** One recording: the player (once playable), its class, duration and rating; progress while it is processed. */
export default function RecordingPage(): JSX.Element {
  const params = useParams();
  const session = useSession();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const [response, { refetch }] = createResource(
    () => params.id,
    (id) => api(`/api/recordings/${id}`, RecordingResponseSchema),
  );
  /** The recording as last fetched (kept while a poll is under way). */
  const recording = () => response.latest?.recording;
  const neighbours = () => response.latest?.neighbours ?? { previous: null, next: null };
  /** The next part, when it can be played: the player goes on there at the end. */
  const playableNext = () => {
    const next = neighbours().next;
    const r = recording();
    return next && r && next.status !== "failed" && next.status !== "recording"
      ? { id: next.id, title: linkTitle(next, r.classTitle, session.timeZone()) }
      : null;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  createEffect(() => {
    const current = recording();
    clearTimeout(timer);
    if (current && isInProgress(current))
      timer = setTimeout(() => void refetch(), current.status === "recording" && current.endedAt === null ? POLL_WHILE_RECORDING_MS : POLL_MS);
  });
  onCleanup(() => clearTimeout(timer));

  return (
    <Show when={!response.error} fallback={<ErrorAlert error={response.error} />}>
      <Show when={recording()} fallback={<Loading label="Loading the recording…" />}>
        {(r) => (
          <article class="stack">
            <div class="page-head">
              <div>
                <h1>{recordingTitle(r(), session.timeZone())}</h1>
                <p class="muted" style={{ margin: 0 }}>
                  <A href={`/classes/${r().classId}`}>{r().classTitle}</A> with {r().teacher.displayName} · {formatDuration(r().durationMs)}
                </p>
              </div>
            </div>
            <SessionParts neighbours={neighbours()} classTitle={r().classTitle} />
            <Show
              when={r().status === "ready" || (isInProgress(r()) && r().playableUrl)}
              fallback={
                <p class="card" role="status" data-testid="recording-status">
                  {statusLabel(r().status)}
                  <Show when={isInProgress(r()) && r().status !== "recording"}>
                    {" "}
                    <progress max={100} value={r().progress} /> {r().progress}%
                  </Show>
                  <Show when={r().failureReason}>
                    <span class="muted"> — {r().failureReason}</span>
                  </Show>
                </p>
              }
            >
              {/* A ready recording with a reason is one its media server finished after a restart: say what is missing. */}
              <Show when={r().status === "ready" && r().failureReason}>
                <p class="muted" data-testid="recording-note">
                  {r().failureReason}
                </p>
              </Show>
              {/* Playable seconds after the stop; at `ready` the player takes the ladder over (Player.tsx). */}
              <Show when={r().status !== "ready"}>
                <p class="muted" role="status" data-testid="recording-playable-note" style={{ margin: 0 }}>
                  Playing the recording while other qualities are prepared.
                </p>
              </Show>
              {/* Keyed on the id so a new recording gets a fresh player. */}
              <Show when={r().id} keyed>
                <RecordingViewer
                  recording={r()}
                  next={playableNext()}
                  autoplay={search.autoplay === "1"}
                  onContinue={(id) => navigate(`/recordings/${id}?autoplay=1`)}
                />
              </Show>
              <div class="two-columns">
                <section class="card stack" aria-labelledby="recording-rating">
                  <h2 id="recording-rating">Rating</h2>
                  <p>
                    <RatingSummary average={r().rating.average} count={r().rating.count} />
                  </p>
                  <Show when={r().canRate}>
                    <RatingForm
                      feedbackPath={`/api/recordings/${r().id}/feedback`}
                      label="Your rating of this recording"
                      idPrefix="recording-rating"
                      saved={r().myRating}
                      onSaved={() => void refetch()}
                    />
                  </Show>
                </section>
                <Show when={r().canManage}>
                  <RecordingManage recording={r()} onSaved={() => void refetch()} />
                </Show>
              </div>
            </Show>
          </article>
        )}
      </Show>
    </Show>
  );
}
