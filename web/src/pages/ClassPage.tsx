import { A, useParams } from "@solidjs/router";
import { createMemo, createResource, createSignal, For, lazy, Show, type JSX } from "solid-js";
import { type ClassDetail, ClassResponseSchema, NoContentSchema } from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { AttendanceSection } from "../attendance/AttendanceSection";
import { createNow } from "../clock";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { JoinButton } from "../components/JoinButton";
import { Modal } from "../components/Modal";
import { RatingForm } from "../components/RatingForm";
import { RatingSummary } from "../components/StarRating";
import { useToasts } from "../components/Toasts";
import { When } from "../components/When";
import { RecordingList } from "../recordings/RecordingList";
import { useUser } from "../session";
import { isolate } from "../bidi";

/** The board after class comes with its own code (the shape layer, pdf.js on demand) only for members. */
const BoardAfterClass = lazy(async () => ({ default: (await import("../live/board/BoardAfterClass")).BoardAfterClass }));

/** One class: details, schedule, enrollment, the rating widget, the live link and the class's recordings. */
export default function ClassPage(): JSX.Element {
  const params = useParams();
  const [detail, { refetch }] = createResource(
    () => params.id,
    async (id) => (await api(`/api/classes/${id}`, ClassResponseSchema)).class,
  );
  return (
    <Show when={!detail.error} fallback={<ErrorAlert error={detail.error} />}>
      {/* `latest` keeps the page on screen while a refetch (after enrolling or rating) is in flight. */}
      <Show when={detail.latest} fallback={<Loading label="Loading the class…" />}>
        {(current) => <ClassView detail={current()} reload={() => void refetch()} />}
      </Show>
    </Show>
  );
}

function ClassView(props: { detail: ClassDetail; reload: () => void }): JSX.Element {
  const user = useUser();
  const toasts = useToasts();
  const now = createNow(60_000);
  const [busy, setBusy] = createSignal(false);
  const [confirmLeave, setConfirmLeave] = createSignal(false);
  const isTeacher = () => props.detail.teacher.id === user().id;

  const upcoming = createMemo(() => props.detail.occurrences.filter((o) => o.endsAt > now()));
  const past = createMemo(() => props.detail.occurrences.filter((o) => o.endsAt <= now()).reverse());
  // Only the class's own people get a Join link; the classroom checks membership again when it is opened.
  const mayJoin = () => props.detail.enrolled || props.detail.canManage;
  const nextJoinable = createMemo(() => (mayJoin() ? upcoming().find((o) => o.status === "scheduled") : undefined));

  const changeEnrollment = async (enroll: boolean) => {
    setBusy(true);
    try {
      const path = `/api/classes/${props.detail.id}/enrollment`;
      await (enroll ? api(path, ClassResponseSchema, { method: "POST" }) : api(path, NoContentSchema, { method: "DELETE" }));
      toasts.notify(enroll ? `You are enrolled in ${isolate(props.detail.title)}.` : `You left ${isolate(props.detail.title)}.`);
      setConfirmLeave(false);
      props.reload();
    } catch (error) {
      toasts.notify(errorMessage(error), "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <article class="stack">
      <div class="page-head">
        <div>
          <h1>{props.detail.title}</h1>
          <p class="muted" style={{ margin: 0 }}>
            {props.detail.kind === "live" ? "Live class" : "Recorded class"} with <bdi>{props.detail.teacher.displayName}</bdi> · {props.detail.enrolledCount}{" "}
            enrolled
            <Show when={props.detail.status === "archived"}>
              {" "}
              <span class="badge">Archived</span>
            </Show>
          </p>
        </div>
        <div class="row">
          <Show when={props.detail.canManage}>
            <A href={`/classes/${props.detail.id}/edit`} class="button">
              Edit class
            </A>
            <A href={`/classes/${props.detail.id}/manage`} class="button">
              Schedule &amp; students
            </A>
          </Show>
          <Show when={!isTeacher()}>
            <Show
              when={props.detail.enrolled}
              fallback={
                <button
                  type="button"
                  class="button button--primary"
                  disabled={busy() || props.detail.status === "archived"}
                  onClick={() => void changeEnrollment(true)}
                >
                  Enroll
                </button>
              }
            >
              <span class="badge badge--success">Enrolled</span>
              <button type="button" class="button button--danger" disabled={busy()} onClick={() => setConfirmLeave(true)}>
                Leave class
              </button>
            </Show>
          </Show>
        </div>
      </div>

      <div class="two-columns">
        <div class="stack">
          <section class="card stack" aria-labelledby="class-about">
            <h2 id="class-about">About this class</h2>
            <Show when={props.detail.description} fallback={<p class="muted">No description yet.</p>}>
              <p style={{ "white-space": "pre-wrap" }}>{props.detail.description}</p>
            </Show>
            <div class="row">
              <Show
                when={nextJoinable()}
                fallback={
                  <button type="button" class="button" disabled>
                    Join live class
                  </button>
                }
              >
                {(next) => <JoinButton classId={props.detail.id} occurrence={next()} label="Join live class" teaching={props.detail.canManage} />}
              </Show>
              <Show when={!mayJoin()}>
                <span class="small muted">Enroll to join the live sessions.</span>
              </Show>
            </div>
          </section>

          <section class="card stack" aria-labelledby="class-schedule">
            <h2 id="class-schedule">Schedule</h2>
            <Show when={upcoming().length > 0} fallback={<p class="muted">No upcoming sessions.</p>}>
              <ul class="list">
                <For each={upcoming()}>
                  {(occurrence) => (
                    <li>
                      <When startsAt={occurrence.startsAt} endsAt={occurrence.endsAt} cancelled={occurrence.status === "cancelled"} />
                      <Show when={occurrence.status === "cancelled"}>
                        <span class="badge badge--danger">Cancelled</span>
                      </Show>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={past().length > 0}>
              <details>
                <summary>Past sessions ({past().length})</summary>
                <ul class="list">
                  <For each={past()}>
                    {(occurrence) => (
                      <li>
                        <When startsAt={occurrence.startsAt} endsAt={occurrence.endsAt} cancelled={occurrence.status === "cancelled"} />
                      </li>
                    )}
                  </For>
                </ul>
              </details>
            </Show>
          </section>

          <Show when={props.detail.enrolled && !props.detail.canManage}>
            <AttendanceSection classId={props.detail.id} everyone={false} />
          </Show>

          <section class="card stack" aria-labelledby="class-recordings">
            <h2 id="class-recordings">Recordings</h2>
            <Show when={mayJoin()} fallback={<p class="muted">Enroll to watch this class's recordings.</p>}>
              <RecordingList classId={props.detail.id} />
            </Show>
          </section>

          <Show when={mayJoin()}>
            <BoardAfterClass classId={props.detail.id} />
          </Show>
        </div>

        <aside class="stack">
          <section class="card stack" aria-labelledby="class-rating">
            <h2 id="class-rating">Rating</h2>
            <p>
              <RatingSummary average={props.detail.rating.average} count={props.detail.rating.count} />
            </p>
            <Show
              when={props.detail.canRate}
              fallback={
                <Show when={props.detail.enrolled || props.detail.rateRefusal?.includes("blocked")}>
                  <p class="muted small" data-testid="rate-refusal">
                    {props.detail.rateRefusal}.
                  </p>
                </Show>
              }
            >
              <RatingForm
                feedbackPath={`/api/classes/${props.detail.id}/feedback`}
                label="Your rating"
                idPrefix="rating"
                saved={props.detail.myRating}
                onSaved={props.reload}
              />
            </Show>
          </section>
          <section class="card stack" aria-labelledby="class-teacher">
            <h2 id="class-teacher">Teacher</h2>
            <p>{props.detail.teacher.displayName}</p>
          </section>
        </aside>
      </div>

      <Modal open={confirmLeave()} onOpenChange={setConfirmLeave} title="Leave this class?">
        <div class="stack">
          <p>You will no longer get reminders for {props.detail.title} and it leaves your calendar.</p>
          <div class="form-actions">
            <button type="button" class="button" onClick={() => setConfirmLeave(false)}>
              Stay enrolled
            </button>
            <button type="button" class="button button--danger" disabled={busy()} onClick={() => void changeEnrollment(false)}>
              Leave class
            </button>
          </div>
        </div>
      </Modal>
    </article>
  );
}
