import { createResource, For, Show, Suspense, type JSX } from "solid-js";
import { OutboxResponseSchema } from "../../../schema/api/notifications";
import { api } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useSession, useUser } from "../session";
import { formatDateTime } from "../time";

/**
 * Admins: the local outbox. Without SendGrid/Twilio keys every e-mail and SMS ends here instead (and in the
 * `npm start` console), so the whole reminder path can be watched on one machine.
 */
export default function Outbox(): JSX.Element {
  const user = useUser();
  const session = useSession();
  const [outbox, { refetch }] = createResource(
    () => user().role === "admin",
    () => api("/api/admin/outbox", OutboxResponseSchema),
  );
  return (
    <section class="stack">
      <div class="row">
        <h1>Outbox</h1>
        <Show when={user().role === "admin"}>
          <button type="button" class="button button--quiet" onClick={() => void refetch()}>
            Refresh
          </button>
        </Show>
      </div>
      <Show when={user().role === "admin"} fallback={<p class="alert alert--info">Only admins can read the outbox.</p>}>
        <ErrorAlert error={outbox.error} />
        <Suspense fallback={<Loading />}>
          <Show when={outbox()} keyed>
            {(result) => (
              <>
                <p class="alert alert--info">
                  {result.active.email ? "E-mail goes to this outbox (no SendGrid key is set)." : "E-mail goes to SendGrid."}{" "}
                  {result.active.sms ? "SMS go to this outbox (no Twilio account is set)." : "SMS go to Twilio."}
                </p>
                <Show when={result.messages.length > 0} fallback={<p class="empty">The outbox is empty.</p>}>
                  <ul class="list">
                    <For each={result.messages}>
                      {(message) => (
                        <li class="stack">
                          <div>
                            <span class="badge">{message.channel === "email" ? "E-mail" : "SMS"}</span> to <strong>{message.destination}</strong>{" "}
                            <span class="muted small">{formatDateTime(message.createdAt, session.timeZone())}</span>
                          </div>
                          <Show when={message.subject}>
                            <div>{message.subject}</div>
                          </Show>
                          <details>
                            <summary>{message.channel === "email" ? "Text part" : "Message"}</summary>
                            <pre style={{ "white-space": "pre-wrap" }}>{message.text}</pre>
                          </details>
                          <Show when={message.html}>
                            {(html) => (
                              <details>
                                <summary>HTML part{message.attachments.length > 0 ? ` (attachments: ${message.attachments.join(", ")})` : ""}</summary>
                                {/* An empty sandbox: the stored HTML can neither run scripts nor reach this page. */}
                                <iframe
                                  title={`HTML of the e-mail to ${message.destination}`}
                                  sandbox=""
                                  srcdoc={html()}
                                  style={{ width: "100%", height: "18rem", border: "1px solid var(--color-border)" }}
                                />
                              </details>
                            )}
                          </Show>
                        </li>
                      )}
                    </For>
                  </ul>
                </Show>
              </>
            )}
          </Show>
        </Suspense>
      </Show>
    </section>
  );
}
