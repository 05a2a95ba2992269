import { createEffect, createResource, createSignal, For, onCleanup, Show, type JSX } from "solid-js";
import { type RecordingView, RecordingListResponseSchema } from "../../../schema/api/recordings";
import { api, errorMessage } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useToasts } from "../components/Toasts";
import { isInProgress } from "./format";
import { RecordingCard } from "./RecordingCard";
import "./recordings.css";
import { NoContentSchema } from "../../../schema/api/portal";

/** While a recording is composed, uploaded or packaged, the list is fetched again this often… */
const POLL_MS = 2_000;
/** …and this often while one is only being recorded (a class may run for hours). */
const POLL_WHILE_RECORDING_MS = 10_000;

/** A class's recordings, newest first; progress of those being processed updates live. */
export function RecordingList(props: { classId: string }): JSX.Element {
  const toasts = useToasts();
  const [list, { refetch, mutate }] = createResource(
    () => props.classId,
    async (id) => (await api(`/api/classes/${id}/recordings`, RecordingListResponseSchema)).recordings,
  );
  const [deleting, setDeleting] = createSignal<string | null>(null);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Every answer (the first or a poll) decides whether another fetch is needed.
  createEffect(() => {
    const current = list.latest;
    clearTimeout(timer);
    // A stopped recording (endedAt set) moves on within seconds; a running one may go on for hours.
    const processing = current?.some((r) => isInProgress(r) && (r.status !== "recording" || r.endedAt !== null));
    if (current?.some(isInProgress)) timer = setTimeout(() => void refetch(), processing ? POLL_MS : POLL_WHILE_RECORDING_MS);
  });
  onCleanup(() => clearTimeout(timer));

  const remove = async (recording: RecordingView) => {
    if (!window.confirm("Delete this recording? Students will no longer be able to watch it.")) return;
    setDeleting(recording.id);
    try {
      await api(`/api/recordings/${recording.id}`, NoContentSchema, { method: "DELETE" });
      mutate((current) => current?.filter((r) => r.id !== recording.id));
      toasts.notify("Recording deleted.");
    } catch (error) {
      toasts.notify(errorMessage(error), "error");
    } finally {
      setDeleting(null);
    }
  };

  return (
    <Show when={!list.error} fallback={<ErrorAlert error={list.error} />}>
      <Show when={list.latest} fallback={<Loading label="Loading recordings…" />}>
        {(recordings) => (
          <>
            <Show when={recordings().length > 0} fallback={<p class="muted">No recordings yet.</p>}>
              <ul class="recording-grid" aria-label="Recordings">
                <For each={recordings()}>
                  {(recording) => (
                    <RecordingCard
                      recording={recording}
                      actions={
                        <Show when={recording.canManage && recording.status !== "recording"}>
                          <div class="row">
                            <button
                              type="button"
                              class="button button--quiet button--danger"
                              disabled={deleting() === recording.id}
                              onClick={() => void remove(recording)}
                            >
                              Delete
                            </button>
                          </div>
                        </Show>
                      }
                    />
                  )}
                </For>
              </ul>
            </Show>
          </>
        )}
      </Show>
    </Show>
  );
}
