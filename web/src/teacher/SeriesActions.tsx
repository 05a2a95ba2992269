import { createMemo, createSignal, For, Show, type JSX } from "solid-js";
import { type ClassDetail, type Occurrence, type SeriesMove, OccurrenceResponseSchema, OccurrencesResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { DurationField } from "../components/DurationField";
import { ErrorAlert } from "../components/ErrorAlert";
import { Modal } from "../components/Modal";
import { useToasts } from "../components/Toasts";
import { When } from "../components/When";
import { toLocalInputValue } from "../time";

/** A series with sessions still to come, as the schedule panel shows it. */
interface SeriesSummary {
  id: string;
  /** The series' time zone: every session of a series was made in it. */
  timeZone: string;
  /** Scheduled sessions that have not started, soonest first. */
  remaining: Occurrence[];
  total: number;
}

/** "6 remaining sessions", "the remaining session". */
function remainingWords(count: number): string {
  return count === 1 ? "the remaining session" : `the ${count} remaining sessions`;
}

/** The class's series that still have sessions to come, each with "Change time" and "Cancel series". */
export function SeriesSection(props: { detail: ClassDetail; reload: () => void }): JSX.Element {
  const toasts = useToasts();
  const [moving, setMoving] = createSignal<SeriesSummary | null>(null);
  const [cancelling, setCancelling] = createSignal<SeriesSummary | null>(null);
  const series = createMemo(() => {
    const now = Date.now();
    const byId = new Map<string, SeriesSummary>();
    for (const occurrence of props.detail.occurrences) {
      if (!occurrence.seriesId) continue;
      let summary = byId.get(occurrence.seriesId);
      if (!summary) byId.set(occurrence.seriesId, (summary = { id: occurrence.seriesId, timeZone: occurrence.timezone, remaining: [], total: 0 }));
      summary.total += 1;
      if (occurrence.status === "scheduled" && occurrence.startsAt > now) summary.remaining.push(occurrence);
    }
    return [...byId.values()].filter((summary) => summary.remaining.length > 0).sort((a, b) => a.remaining[0]!.startsAt - b.remaining[0]!.startsAt);
  });

  return (
    <Show when={series().length > 0}>
      <section class="card stack" aria-labelledby="schedule-series-title">
        <h2 id="schedule-series-title">Repeating series</h2>
        <ul class="list">
          <For each={series()}>
            {(summary) => (
              <li>
                <span>
                  {summary.remaining.length} of {summary.total} sessions to come, next{" "}
                  <When startsAt={summary.remaining[0]!.startsAt} endsAt={summary.remaining[0]!.endsAt} />
                </span>
                <span class="row">
                  <button type="button" class="button button--small" onClick={() => setMoving(summary)}>
                    Change time
                  </button>
                  <button type="button" class="button button--small button--danger" onClick={() => setCancelling(summary)}>
                    Cancel series
                  </button>
                </span>
              </li>
            )}
          </For>
        </ul>
      </section>
      <Show when={moving()}>
        {(summary) => (
          <MoveSeriesDialog
            series={summary()}
            onClose={() => setMoving(null)}
            onMoved={(count) => {
              setMoving(null);
              toasts.notify(`${count === 1 ? "Session" : `${count} sessions`} moved. Enrolled students are told.`);
              props.reload();
            }}
          />
        )}
      </Show>
      <Show when={cancelling()}>
        {(summary) => (
          <CancelSeriesDialog
            series={summary()}
            onClose={() => setCancelling(null)}
            onCancelled={(count) => {
              setCancelling(null);
              toasts.notify(`${count === 1 ? "Session" : `${count} sessions`} cancelled. Enrolled students are told.`);
              props.reload();
            }}
          />
        )}
      </Show>
    </Show>
  );
}

function CancelSeriesDialog(props: { series: SeriesSummary; onClose: () => void; onCancelled: (count: number) => void }): JSX.Element {
  const count = () => props.series.remaining.length;
  const cancel = createAction(async () => {
    const result = await api(`/api/series/${props.series.id}/cancel`, OccurrencesResponseSchema, { method: "POST" });
    props.onCancelled(result.occurrences.length);
  });
  return (
    <Modal open onOpenChange={(open) => !open && props.onClose()} title="Cancel the whole series?">
      <div class="stack">
        <p>Cancel {remainingWords(count())} of this series? Enrolled students are told.</p>
        <p class="muted">
          From <When startsAt={props.series.remaining[0]!.startsAt} endsAt={props.series.remaining[0]!.endsAt} />. Sessions that already took place stay as they
          are.
        </p>
        <ErrorAlert error={cancel.error()} />
        <div class="form-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Keep the series
          </button>
          <button type="button" class="button button--danger" disabled={cancel.pending()} onClick={() => void cancel.run()}>
            {count() === 1 ? "Cancel 1 session" : `Cancel ${count()} sessions`}
          </button>
        </div>
      </div>
    </Modal>
  );
}

function MoveSeriesDialog(props: { series: SeriesSummary; onClose: () => void; onMoved: (count: number) => void }): JSX.Element {
  // Edited in the series' own zone: each session keeps its date there and gets the new time of day.
  const first = () => props.series.remaining[0]!;
  const zone = () => props.series.timeZone;
  const [startTime, setStartTime] = createSignal(toLocalInputValue(first().startsAt, zone()).slice(11, 16));
  const [duration, setDuration] = createSignal(Math.round((first().endsAt - first().startsAt) / 60_000));
  const move = createAction(async () => {
    if (!/^\d{2}:\d{2}$/.test(startTime())) throw new Error("Choose the new start time.");
    const body: SeriesMove = { startTime: startTime(), durationMinutes: duration() };
    const result = await api(`/api/series/${props.series.id}`, OccurrencesResponseSchema, { method: "PATCH", body });
    props.onMoved(result.occurrences.length);
  });
  return (
    <Modal
      open
      onOpenChange={(open) => !open && props.onClose()}
      title="Change the time of the series"
      description={`Times in ${zone().replaceAll("_", " ")}.`}
    >
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          void move.run();
        }}
      >
        <p>Move {remainingWords(props.series.remaining.length)} of this series to a new time? Each keeps its date. Enrolled students are told.</p>
        <div class="form-grid form-grid--2">
          <div class="field">
            <label for="series-move-time">New start time</label>
            <input id="series-move-time" class="input" type="time" required value={startTime()} onInput={(e) => setStartTime(e.currentTarget.value)} />
          </div>
          <DurationField id="series-move-duration" value={duration()} onInput={setDuration} />
        </div>
        <ErrorAlert error={move.error()} />
        <div class="form-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Keep the times
          </button>
          <button type="submit" class="button button--primary" disabled={move.pending()}>
            {props.series.remaining.length === 1 ? "Move 1 session" : `Move ${props.series.remaining.length} sessions`}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Asks before putting a cancelled session back on the schedule. */
export function RestoreDialog(props: { occurrence: Occurrence; onClose: () => void; onRestored: () => void }): JSX.Element {
  const restore = createAction(async () => {
    await api(`/api/occurrences/${props.occurrence.id}/restore`, OccurrenceResponseSchema, { method: "POST" });
    props.onRestored();
  });
  return (
    <Modal open onOpenChange={(open) => !open && props.onClose()} title="Restore this session?">
      <div class="stack">
        <p>
          <When startsAt={props.occurrence.startsAt} endsAt={props.occurrence.endsAt} />
        </p>
        <p>Enrolled students are told that it takes place after all, and get their reminders again.</p>
        <ErrorAlert error={restore.error()} />
        <div class="form-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Keep it cancelled
          </button>
          <button type="button" class="button button--primary" disabled={restore.pending()} onClick={() => void restore.run()}>
            Restore session
          </button>
        </div>
      </div>
    </Modal>
  );
}
