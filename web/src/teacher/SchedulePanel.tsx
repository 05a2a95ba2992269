import { createMemo, createSignal, For, Index, Show, type JSX } from "solid-js";
import * as v from "valibot";
import {
  DurationMinutesSchema,
  LIMITS,
  OccurrenceSeriesCreateSchema,
  OccurrenceSingleCreateSchema,
  type ClassDetail,
  type Occurrence,
  type OccurrenceCreate,
  type OccurrenceMove,
  type OccurrencesResponse,
  OccurrenceResponseSchema,
  OccurrencesResponseSchema,
} from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { DurationField } from "../components/DurationField";
import { ErrorAlert } from "../components/ErrorAlert";
import { createFieldErrors, describedBy, FieldError } from "../components/FieldErrors";
import { LocalTimeNote } from "../components/LocalTimeNote";
import { Modal } from "../components/Modal";
import { TimeZoneSelect } from "../components/TimeZoneSelect";
import { useToasts } from "../components/Toasts";
import { When } from "../components/When";
import { browserTimeZone, fromLocalInputValue, toLocalInputValue } from "../time";
import { RestoreDialog, SeriesSection } from "./SeriesActions";

const PAST_START_GRACE_MS = LIMITS.pastStartGraceMinutes * 60_000;

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
const WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] as const;

/** ISO weekday (1 = Monday … 7 = Sunday) of a "YYYY-MM-DDTHH:mm" wall time. */
function isoWeekday(localValue: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(localValue);
  if (!match) return null;
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))).getUTCDay();
  return day === 0 ? 7 : day;
}

/** Sessions of a class: add one or a repeating series, move or cancel existing ones. */
export function SchedulePanel(props: { detail: ClassDetail; reload: () => void }): JSX.Element {
  const toasts = useToasts();
  const [mode, setMode] = createSignal<"once" | "series">("once");
  const [timeZone, setTimeZone] = createSignal(browserTimeZone());
  const [start, setStart] = createSignal("");
  const [duration, setDuration] = createSignal(60);
  const [frequency, setFrequency] = createSignal<"weekly" | "daily">("weekly");
  const [interval, setInterval] = createSignal(1);
  const [weekdays, setWeekdays] = createSignal<number[]>([]);
  const [count, setCount] = createSignal(10);
  /** A series ends after `count` sessions or on the `until` date (in the series' zone). */
  const [ends, setEnds] = createSignal<"count" | "until">("count");
  const [until, setUntil] = createSignal("");
  /** Set while the teacher is asked whether they mean a start that has passed. */
  const [confirmPast, setConfirmPast] = createSignal<number | null>(null);
  const errors = createFieldErrors({
    startsAt: "schedule-start",
    "series.firstStartLocal": "schedule-start",
    endsAt: "schedule-duration",
    "series.durationMinutes": "schedule-duration",
    timezone: "schedule-zone",
    "series.timezone": "schedule-zone",
    "series.interval": "schedule-interval",
    "series.count": "schedule-count",
    "series.until": "schedule-until",
    "series.weekdays": "schedule-weekdays",
  });
  const [moving, setMoving] = createSignal<Occurrence | null>(null);
  const [cancelling, setCancelling] = createSignal<Occurrence | null>(null);
  const [restoring, setRestoring] = createSignal<Occurrence | null>(null);

  // Weekly series default to the weekday of the first session until the teacher picks days.
  const effectiveWeekdays = createMemo(() => {
    if (weekdays().length > 0) return weekdays();
    const first = isoWeekday(start());
    return first ? [first] : [];
  });

  const add = createAction(async (allowPast: boolean) => {
    errors.clear();
    const startsAt = fromLocalInputValue(start(), timeZone());
    if (startsAt === null) return errors.showIssues([{ message: "Choose the date and time of the first session.", path: [{ key: "startsAt" }] }]);
    const series = {
      firstStartLocal: start(),
      durationMinutes: duration(),
      timezone: timeZone(),
      frequency: frequency(),
      interval: interval(),
      ...(frequency() === "weekly" ? { weekdays: effectiveWeekdays() } : {}),
      ...(ends() === "count" ? { count: count() } : { until: until() }),
    };
    // The duration of a single session travels as its end; it is checked with the series' words either way.
    const checked =
      mode() === "once"
        ? v.safeParse(v.object({ durationMinutes: DurationMinutesSchema }), { durationMinutes: duration() })
        : v.safeParse(OccurrenceSeriesCreateSchema, { series });
    if (!checked.success) {
      const single = mode() === "once";
      return errors.showIssues(checked.issues.map((issue) => (single ? { ...issue, path: [{ key: "series" }, ...(issue.path ?? [])] } : issue)));
    }
    // Asked here, before the round trip; the API refuses a past start without allowPast all the same.
    if (!allowPast && startsAt < Date.now() - PAST_START_GRACE_MS) return void setConfirmPast(startsAt);
    const body: OccurrenceCreate =
      mode() === "once"
        ? { startsAt, endsAt: startsAt + duration() * 60_000, timezone: timeZone(), ...(allowPast ? { allowPast } : {}) }
        : { series, ...(allowPast ? { allowPast } : {}) };
    if (mode() === "once" && !v.is(OccurrenceSingleCreateSchema, body))
      return errors.showIssues([{ message: "Choose a date and a time.", path: [{ key: "startsAt" }] }]);
    let created: OccurrencesResponse;
    try {
      created = await api(`/api/classes/${props.detail.id}/occurrences`, OccurrencesResponseSchema, { method: "POST", body });
    } catch (error) {
      return errors.showError(error);
    }
    const n = created.occurrences.length;
    toasts.notify(n === 1 ? "Session added." : `${n} sessions added.`);
    setStart("");
    props.reload();
  });

  const upcomingFirst = createMemo(() => {
    const now = Date.now();
    const list = props.detail.occurrences;
    return [...list.filter((o) => o.endsAt > now), ...list.filter((o) => o.endsAt <= now).reverse()];
  });

  return (
    <div class="stack">
      <form
        class="card stack"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void add.run(false);
        }}
        aria-labelledby="schedule-add-title"
      >
        <h2 id="schedule-add-title">Add sessions</h2>
        <fieldset>
          <legend>How often</legend>
          <div class="row">
            <label class="check">
              <input type="radio" name="schedule-mode" value="once" checked={mode() === "once"} onChange={() => setMode("once")} />
              One session
            </label>
            <label class="check">
              <input type="radio" name="schedule-mode" value="series" checked={mode() === "series"} onChange={() => setMode("series")} />
              Repeating series
            </label>
          </div>
        </fieldset>
        <div class="form-grid form-grid--2">
          <div class="field">
            <label for="schedule-start">{mode() === "once" ? "Starts" : "First session starts"}</label>
            <input
              id="schedule-start"
              class="input"
              type="datetime-local"
              required
              value={start()}
              aria-invalid={Boolean(errors.message("schedule-start"))}
              aria-describedby={describedBy("schedule-start", errors.message("schedule-start"))}
              onInput={(e) => {
                setStart(e.currentTarget.value);
                errors.clearField("schedule-start");
              }}
            />
            <FieldError inputId="schedule-start" message={errors.message("schedule-start")} />
            <LocalTimeNote value={start()} timeZone={timeZone()} />
          </div>
          <div class="field">
            <label for="schedule-duration">Duration (minutes)</label>
            <input
              id="schedule-duration"
              class="input"
              type="number"
              min="1"
              max={LIMITS.occurrenceMaxMinutes}
              required
              value={duration()}
              aria-invalid={Boolean(errors.message("schedule-duration"))}
              aria-describedby={describedBy("schedule-duration", errors.message("schedule-duration"), true)}
              onInput={(e) => {
                setDuration(e.currentTarget.valueAsNumber);
                errors.clearField("schedule-duration");
              }}
            />
            <span id="schedule-duration-hint" class="field__hint">
              Up to {LIMITS.occurrenceMaxMinutes} minutes (12 hours).
            </span>
            <FieldError inputId="schedule-duration" message={errors.message("schedule-duration")} />
          </div>
          <TimeZoneSelect
            id="schedule-zone"
            label="Time zone"
            value={timeZone()}
            onChange={setTimeZone}
            hint="The session keeps its local time across daylight-saving changes."
          />
        </div>
        <Show when={mode() === "series"}>
          <div class="form-grid form-grid--2">
            <div class="field">
              <label for="schedule-frequency">Repeats</label>
              <select id="schedule-frequency" class="select" value={frequency()} onChange={(e) => setFrequency(e.currentTarget.value as "weekly" | "daily")}>
                <option value="weekly">Weekly</option>
                <option value="daily">Daily</option>
              </select>
            </div>
            <div class="field">
              <label for="schedule-interval">Every how many {frequency() === "weekly" ? "weeks" : "days"}</label>
              <input
                id="schedule-interval"
                class="input"
                type="number"
                min="1"
                max={LIMITS.seriesMaxInterval}
                value={interval()}
                aria-invalid={Boolean(errors.message("schedule-interval"))}
                aria-describedby={describedBy("schedule-interval", errors.message("schedule-interval"))}
                onInput={(e) => {
                  setInterval(e.currentTarget.valueAsNumber);
                  errors.clearField("schedule-interval");
                }}
              />
              <FieldError inputId="schedule-interval" message={errors.message("schedule-interval")} />
            </div>
          </div>
          <fieldset class="stack">
            <legend>Ends</legend>
            <div class="row">
              <label class="check">
                <input type="radio" name="schedule-ends" value="count" checked={ends() === "count"} onChange={() => setEnds("count")} />
                After
              </label>
              <input
                id="schedule-count"
                class="input input--narrow"
                type="number"
                min="1"
                max={LIMITS.seriesMaxCount}
                aria-label="Number of sessions"
                disabled={ends() !== "count"}
                value={count()}
                aria-invalid={Boolean(errors.message("schedule-count"))}
                aria-describedby={describedBy("schedule-count", errors.message("schedule-count"), true)}
                onInput={(e) => {
                  setCount(e.currentTarget.valueAsNumber);
                  errors.clearField("schedule-count");
                }}
              />
              <span aria-hidden="true">sessions</span>
            </div>
            <FieldError inputId="schedule-count" message={errors.message("schedule-count")} />
            <div class="row">
              <label class="check">
                <input type="radio" name="schedule-ends" value="until" checked={ends() === "until"} onChange={() => setEnds("until")} />
                On
              </label>
              <input
                id="schedule-until"
                class="input input--narrow"
                type="date"
                aria-label="Last day of the series"
                disabled={ends() !== "until"}
                value={until()}
                aria-invalid={Boolean(errors.message("schedule-until"))}
                aria-describedby={describedBy("schedule-until", errors.message("schedule-until"), true)}
                onInput={(e) => {
                  setUntil(e.currentTarget.value);
                  errors.clearField("schedule-until");
                }}
              />
            </div>
            <FieldError inputId="schedule-until" message={errors.message("schedule-until")} />
            <span id="schedule-count-hint" class="field__hint">
              Up to {LIMITS.seriesMaxCount} sessions in one series.
            </span>
            <span id="schedule-until-hint" class="field__hint">
              A session on the last day is included.
            </span>
          </fieldset>
          <Show when={frequency() === "weekly"}>
            <fieldset
              id="schedule-weekdays"
              tabIndex={-1}
              aria-invalid={Boolean(errors.message("schedule-weekdays"))}
              aria-describedby={describedBy("schedule-weekdays", errors.message("schedule-weekdays"))}
            >
              <legend>On these days</legend>
              <FieldError inputId="schedule-weekdays" message={errors.message("schedule-weekdays")} />
              <div class="row">
                <Index each={WEEKDAYS}>
                  {(day, index) => (
                    <label class="check" title={WEEKDAY_NAMES[index]}>
                      <input
                        type="checkbox"
                        checked={effectiveWeekdays().includes(index + 1)}
                        onChange={(e) => {
                          const chosen = new Set(effectiveWeekdays());
                          if (e.currentTarget.checked) chosen.add(index + 1);
                          else chosen.delete(index + 1);
                          setWeekdays([...chosen].sort());
                        }}
                        aria-label={WEEKDAY_NAMES[index]}
                      />
                      <span aria-hidden="true">{day()}</span>
                    </label>
                  )}
                </Index>
              </div>
            </fieldset>
          </Show>
        </Show>
        <ErrorAlert error={errors.formError() ?? add.error()} />
        <div class="form-actions">
          <button type="submit" class="button button--primary" disabled={add.pending()}>
            {mode() === "once" ? "Add session" : ends() === "count" && Number.isFinite(count()) ? `Add ${count()} sessions` : "Add sessions"}
          </button>
        </div>
      </form>

      <Modal open={confirmPast() !== null} onOpenChange={(open) => !open && setConfirmPast(null)} title="This start time has passed">
        <div class="stack">
          <p>
            <Show when={confirmPast()}>{(startsAt) => <When startsAt={startsAt()} endsAt={startsAt() + (duration() || 0) * 60_000} />}</Show>
          </p>
          <p>Students cannot join a session in the past. Add it only to record a class that already took place.</p>
          <div class="form-actions">
            <button type="button" class="button" onClick={() => setConfirmPast(null)}>
              Change the time
            </button>
            <button
              type="button"
              class="button button--primary"
              disabled={add.pending()}
              onClick={() => {
                setConfirmPast(null);
                void add.run(true);
              }}
            >
              Add past session
            </button>
          </div>
        </div>
      </Modal>

      <SeriesSection detail={props.detail} reload={props.reload} />

      <section class="card stack" aria-labelledby="schedule-list-title">
        <h2 id="schedule-list-title">Sessions</h2>
        <Show when={upcomingFirst().length > 0} fallback={<p class="muted">No sessions yet.</p>}>
          <ul class="list">
            <For each={upcomingFirst()}>
              {(occurrence) => (
                <li>
                  <span>
                    <When startsAt={occurrence.startsAt} endsAt={occurrence.endsAt} cancelled={occurrence.status === "cancelled"} />
                    <Show when={occurrence.seriesId}>
                      {" "}
                      <span class="badge">Series</span>
                    </Show>
                    <Show when={occurrence.status === "cancelled"}>
                      {" "}
                      <span class="badge badge--danger">Cancelled</span>
                    </Show>
                    <Show when={occurrence.endsAt <= Date.now()}>
                      {" "}
                      <span class="badge">Past</span>
                    </Show>
                  </span>
                  <Show when={occurrence.status === "cancelled" && occurrence.endsAt > Date.now()}>
                    <button type="button" class="button button--small" onClick={() => setRestoring(occurrence)}>
                      Restore
                    </button>
                  </Show>
                  <Show when={occurrence.status === "scheduled" && occurrence.endsAt > Date.now()}>
                    <span class="row">
                      <button type="button" class="button button--small" onClick={() => setMoving(occurrence)}>
                        Move
                      </button>
                      <button type="button" class="button button--small button--danger" onClick={() => setCancelling(occurrence)}>
                        Cancel
                      </button>
                    </span>
                  </Show>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </section>

      <Show when={moving()}>
        {(occurrence) => (
          <MoveDialog
            occurrence={occurrence()}
            onClose={() => setMoving(null)}
            onMoved={() => {
              setMoving(null);
              toasts.notify("Session moved. Enrolled students are told.");
              props.reload();
            }}
          />
        )}
      </Show>
      <Show when={restoring()}>
        {(occurrence) => (
          <RestoreDialog
            occurrence={occurrence()}
            onClose={() => setRestoring(null)}
            onRestored={() => {
              setRestoring(null);
              toasts.notify("Session restored. Enrolled students are told.");
              props.reload();
            }}
          />
        )}
      </Show>
      <Show when={cancelling()}>
        {(occurrence) => (
          <CancelDialog
            occurrence={occurrence()}
            onClose={() => setCancelling(null)}
            onCancelled={() => {
              setCancelling(null);
              toasts.notify("Session cancelled. Enrolled students are told.");
              props.reload();
            }}
          />
        )}
      </Show>
    </div>
  );
}

function MoveDialog(props: { occurrence: Occurrence; onClose: () => void; onMoved: () => void }): JSX.Element {
  // Edited in the session's own zone: that is the zone the teacher planned it in.
  const zone = () => props.occurrence.timezone;
  const [start, setStart] = createSignal(toLocalInputValue(props.occurrence.startsAt, zone()));
  const [duration, setDuration] = createSignal(Math.round((props.occurrence.endsAt - props.occurrence.startsAt) / 60_000));
  const move = createAction(async () => {
    const startsAt = fromLocalInputValue(start(), zone());
    if (startsAt === null) throw new Error("Choose the new date and time.");
    await api(`/api/occurrences/${props.occurrence.id}`, OccurrenceResponseSchema, {
      method: "PATCH",
      body: { startsAt, endsAt: startsAt + duration() * 60_000 } satisfies OccurrenceMove,
    });
    props.onMoved();
  });
  return (
    <Modal open onOpenChange={(open) => !open && props.onClose()} title="Move session" description={`Times in ${zone().replaceAll("_", " ")}.`}>
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          void move.run();
        }}
      >
        <div class="field">
          <label for="move-start">New start</label>
          <input id="move-start" class="input" type="datetime-local" required value={start()} onInput={(e) => setStart(e.currentTarget.value)} />
          <LocalTimeNote value={start()} timeZone={zone()} />
        </div>
        <DurationField id="move-duration" value={duration()} onInput={setDuration} />
        <ErrorAlert error={move.error()} />
        <div class="form-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Keep the time
          </button>
          <button type="submit" class="button button--primary" disabled={move.pending()}>
            Move session
          </button>
        </div>
      </form>
    </Modal>
  );
}

function CancelDialog(props: { occurrence: Occurrence; onClose: () => void; onCancelled: () => void }): JSX.Element {
  const cancel = createAction(async () => {
    await api(`/api/occurrences/${props.occurrence.id}/cancel`, OccurrenceResponseSchema, { method: "POST" });
    props.onCancelled();
  });
  return (
    <Modal open onOpenChange={(open) => !open && props.onClose()} title="Cancel this session?">
      <div class="stack">
        <p>
          <When startsAt={props.occurrence.startsAt} endsAt={props.occurrence.endsAt} />
        </p>
        <p>Enrolled students are told that it will not take place.</p>
        <ErrorAlert error={cancel.error()} />
        <div class="form-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Keep the session
          </button>
          <button type="button" class="button button--danger" disabled={cancel.pending()} onClick={() => void cancel.run()}>
            Cancel session
          </button>
        </div>
      </div>
    </Modal>
  );
}
