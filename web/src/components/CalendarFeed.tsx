import { createResource, createSignal, Show, Suspense, type JSX } from "solid-js";
import { CalendarFeedResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { ErrorAlert, Loading } from "./ErrorAlert";
import { Modal } from "./Modal";
import { useToasts } from "./Toasts";

/** The user's private ICS feed URL with copy and rotate (rotating invalidates every earlier subscription). */
export function CalendarFeed(): JSX.Element {
  const toasts = useToasts();
  const [feed, { mutate }] = createResource(() => api("/api/me/calendar-feed", CalendarFeedResponseSchema));
  const [confirmOpen, setConfirmOpen] = createSignal(false);
  const rotate = createAction(async () => {
    const rotated = await api("/api/me/calendar-feed/rotate", CalendarFeedResponseSchema, { method: "POST" });
    mutate(rotated);
    setConfirmOpen(false);
    toasts.notify("New calendar link created. The old link no longer works.");
  });

  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      toasts.notify("Calendar link copied.");
    } catch {
      toasts.notify("Could not copy automatically — select the link and copy it.", "error");
    }
  };

  return (
    <section class="card stack" aria-labelledby="calendar-feed-title">
      <h2 id="calendar-feed-title">Subscribe to your schedule</h2>
      <p class="muted">
        Add this link to Google Calendar, Outlook or Apple Calendar to see your classes there. Keep it private: anyone with the link can see your schedule.
      </p>
      <ErrorAlert error={feed.error} />
      {/* Its own boundary: the page around it (the calendar) must not wait for the feed URL. */}
      <Suspense fallback={<Loading />}>
        <Show when={feed.latest}>
          {(current) => (
            <>
              <div class="field">
                <label for="calendar-feed-url">Calendar link (ICS)</label>
                <div class="copy-field">
                  <input id="calendar-feed-url" class="input" readOnly value={current().url} onFocus={(e) => e.currentTarget.select()} />
                  <button type="button" class="button" onClick={() => void copy(current().url)}>
                    Copy
                  </button>
                </div>
              </div>
              <div class="row">
                <a class="button button--small" href={current().url.replace(/^https?:/, "webcal:")}>
                  Open in calendar app
                </a>
                <button type="button" class="button button--small button--danger" onClick={() => setConfirmOpen(true)}>
                  Create a new link
                </button>
              </div>
            </>
          )}
        </Show>
      </Suspense>
      <Modal open={confirmOpen()} onOpenChange={setConfirmOpen} title="Create a new calendar link?">
        <div class="stack">
          <p>Calendar apps subscribed to the current link will stop updating until you add the new link.</p>
          <ErrorAlert error={rotate.error()} />
          <div class="form-actions">
            <button type="button" class="button" onClick={() => setConfirmOpen(false)}>
              Keep the current link
            </button>
            <button type="button" class="button button--danger" disabled={rotate.pending()} onClick={() => void rotate.run()}>
              Create new link
            </button>
          </div>
        </div>
      </Modal>
    </section>
  );
}
