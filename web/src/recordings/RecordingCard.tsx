import { A } from "@solidjs/router";
import { Show, type JSX } from "solid-js";
import type { RecordingView } from "../../../schema/api/recordings";
import { RatingSummary } from "../components/StarRating";
import { useSession } from "../session";
import { formatDuration, isInProgress, recordingTitle, statusLabel } from "./format";

/** One recording as a card: poster, title, duration, status with live progress, and the rating once ready. */
export function RecordingCard(props: { recording: RecordingView; showClass?: boolean; actions?: JSX.Element }): JSX.Element {
  const session = useSession();
  const r = () => props.recording;
  const title = () => recordingTitle(r(), session.timeZone());
  const ready = () => r().status === "ready";
  return (
    <li class="card recording-card" data-testid="recording-card" data-recording-id={r().id} data-status={r().status}>
      <div class="recording-card__poster">
        <Show
          when={r().posterUrl}
          fallback={
            <span class="recording-card__placeholder" aria-hidden="true">
              ▶
            </span>
          }
        >
          {(poster) => <img src={poster()} alt="" loading="lazy" />}
        </Show>
        <Show when={r().durationMs !== null}>
          <span class="recording-card__duration">{formatDuration(r().durationMs)}</span>
        </Show>
      </div>
      <h3 class="card__title">
        <Show when={ready()} fallback={<span>{title()}</span>}>
          <A href={`/recordings/${r().id}`}>{title()}</A>
        </Show>
      </h3>
      <Show when={props.showClass}>
        <p class="card__meta">
          <A href={`/classes/${r().classId}`}>
            <bdi>{r().classTitle}</bdi>
          </A>{" "}
          with <bdi>{r().teacher.displayName}</bdi>
        </p>
      </Show>
      <Show when={!ready()}>
        <p class="small recording-card__status" role="status" data-testid="recording-status">
          <span classList={{ badge: true, "badge--danger": r().status === "failed", "recording-card__live": r().status === "recording" }}>
            {statusLabel(r().status)}
          </span>
          <Show when={isInProgress(r()) && r().status !== "recording"}>
            {" "}
            <progress max={100} value={r().progress} aria-label={`${statusLabel(r().status)}: ${r().progress}%`} /> {r().progress}%
          </Show>
          <Show when={r().status === "failed" && r().failureReason}>
            <span class="muted"> {r().failureReason}</span>
          </Show>
        </p>
      </Show>
      {/* A ready recording with a reason ended early (its media server restarted): the card says so. */}
      <Show when={ready() && r().failureReason}>
        <p class="small muted" data-testid="recording-note">
          {r().failureReason}
        </p>
      </Show>
      <Show when={ready()}>
        <p class="small">
          <RatingSummary average={r().rating.average} count={r().rating.count} />
        </p>
      </Show>
      {props.actions}
    </li>
  );
}
