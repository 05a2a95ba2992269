import { A } from "@solidjs/router";
import { createResource, createSignal, For, Show, Suspense, type JSX } from "solid-js";
import {
  type NotificationStatus,
  type NotificationView,
  ClassNotificationsResponseSchema,
  MyNotificationsResponseSchema,
} from "../../../schema/api/notifications";
import { ClassListResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { useSession, useUser } from "../session";
import { formatDateTime } from "../time";

const STATUS_LABELS: Record<NotificationStatus, string> = {
  pending: "Waiting",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  failed: "Failed",
  dead: "Gave up",
  cancelled: "Not sent",
  unknown: "Awaiting provider report",
};

/** A status as a badge: green once the provider confirmed delivery, red when it could not be sent. */
function StatusBadge(props: { status: NotificationStatus }): JSX.Element {
  const tone = () =>
    props.status === "delivered" || props.status === "sent" ? " badge--success" : props.status === "failed" || props.status === "dead" ? " badge--danger" : "";
  return <span class={`badge${tone()}`}>{STATUS_LABELS[props.status]}</span>;
}

function minutesLabel(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? "" : "s"} before`;
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? "" : "s"} before`;
  return `${minutes} minutes before`;
}

/** What the message was: "Reminder, 1 hour before", "New time", "Cancelled", "Back on". */
function kindLabel(notification: NotificationView): string {
  if (notification.kind === "change") return "New time";
  if (notification.kind === "cancel") return "Cancelled";
  if (notification.kind === "restore") return "Back on";
  return notification.reminderMinutes === null ? "Reminder" : `Reminder, ${minutesLabel(notification.reminderMinutes)}`;
}

const channelLabel = (channel: NotificationView["channel"]) => (channel === "email" ? "E-mail" : "SMS");

/** The user's own reminder settings, read-only here; they are changed on the Settings page. */
function Preferences(): JSX.Element {
  const user = useUser();
  return (
    <section class="card stack" aria-labelledby="prefs-title">
      <h2 id="prefs-title">How you are reminded</h2>
      <ul class="list">
        <li>E-mail: {user().remindByEmail ? <>on, to {user().email}</> : "off"}</li>
        <li>SMS: {user().remindBySms ? user().phone ? <>on, to {user().phone}</> : "on, but no phone number is set, so none are sent" : "off"}</li>
        <li>Times in messages are shown in {user().timezone.replaceAll("_", " ")}.</li>
      </ul>
      <p>
        <A href="/settings">Change these in Settings</A>
      </p>
    </section>
  );
}

function MyHistory(): JSX.Element {
  const session = useSession();
  const [history] = createResource(() => api("/api/me/notifications", MyNotificationsResponseSchema));
  return (
    <section class="stack" aria-labelledby="history-title">
      <h2 id="history-title">Messages sent to you</h2>
      <ErrorAlert error={history.error} />
      <Suspense fallback={<Loading />}>
        <Show when={history()} keyed>
          {(result) => (
            <Show when={result.notifications.length > 0} fallback={<p class="empty">No reminders yet. They appear here once a class you take is coming up.</p>}>
              <div class="table-wrap">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Class</th>
                      <th scope="col">Message</th>
                      <th scope="col">Sent by</th>
                      <th scope="col">Status</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={result.notifications}>
                      {(notification) => (
                        <tr>
                          <td>{formatDateTime(notification.sentAt ?? notification.createdAt, session.timeZone())}</td>
                          <td>
                            <A href={`/classes/${notification.classId}`}>{notification.classTitle}</A>
                          </td>
                          <td>{kindLabel(notification)}</td>
                          <td>
                            {channelLabel(notification.channel)}
                            <Show when={notification.destination}>{(destination) => <span class="muted small"> to {destination()}</span>}</Show>
                          </td>
                          <td>
                            <StatusBadge status={notification.status} />
                            <Show when={notification.error && notification.status !== "sent" && notification.status !== "delivered"}>
                              <div class="muted small">{notification.error}</div>
                            </Show>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </Suspense>
    </section>
  );
}

/** Teachers (their classes) and admins (any class): who was reminded and what became of each message. */
function ClassDelivery(): JSX.Element {
  const session = useSession();
  const user = useUser();
  const [classes] = createResource(() => api("/api/classes", ClassListResponseSchema, { query: { scope: user().role === "admin" ? "all" : "teaching" } }));
  const [classId, setClassId] = createSignal<string>();
  const [delivery] = createResource(classId, (id) => api(`/api/classes/${id}/notifications`, ClassNotificationsResponseSchema));
  return (
    <section class="stack" aria-labelledby="delivery-title">
      <h2 id="delivery-title">Delivery for your classes</h2>
      <ErrorAlert error={classes.error} />
      <div class="field">
        <label for="delivery-class">Class</label>
        <select id="delivery-class" class="select" value={classId() ?? ""} onChange={(e) => setClassId(e.currentTarget.value || undefined)}>
          <option value="">Choose a class…</option>
          <For each={classes.latest?.classes ?? []}>{(cls) => <option value={cls.id}>{cls.title}</option>}</For>
        </select>
      </div>
      <ErrorAlert error={delivery.error} />
      <Show when={classId()}>
        <Suspense fallback={<Loading />}>
          <Show when={delivery()} keyed>
            {(result) => (
              <>
                <p role="status">
                  <For each={Object.entries(result.totals)} fallback={<span class="muted">Nothing has been sent for this class yet.</span>}>
                    {([status, count]) => (
                      <span class="badge" style={{ "margin-right": "var(--space-2)" }}>
                        {STATUS_LABELS[status as NotificationStatus]}: {count}
                      </span>
                    )}
                  </For>
                </p>
                <Show when={result.notifications.length > 0}>
                  <div class="table-wrap">
                    <table class="table">
                      <thead>
                        <tr>
                          <th scope="col">Recipient</th>
                          <th scope="col">Occurrence</th>
                          <th scope="col">Message</th>
                          <th scope="col">Channel</th>
                          <th scope="col">Status</th>
                          <th scope="col">Attempts</th>
                        </tr>
                      </thead>
                      <tbody>
                        <For each={result.notifications}>
                          {(notification) => (
                            <tr>
                              <td>{notification.user.displayName}</td>
                              <td>{formatDateTime(notification.occurrenceStartsAt, session.timeZone())}</td>
                              <td>{kindLabel(notification)}</td>
                              <td>{channelLabel(notification.channel)}</td>
                              <td>
                                <StatusBadge status={notification.status} />
                                <Show when={notification.error}>
                                  <div class="muted small">{notification.error}</div>
                                </Show>
                              </td>
                              <td>{notification.attempts}</td>
                            </tr>
                          )}
                        </For>
                      </tbody>
                    </table>
                  </div>
                </Show>
              </>
            )}
          </Show>
        </Suspense>
      </Show>
    </section>
  );
}

/** Notifications: the user's reminder settings and history; for teachers and admins, delivery per class. */
export default function Notifications(): JSX.Element {
  const user = useUser();
  return (
    <section class="stack">
      <h1>Notifications</h1>
      <Preferences />
      <MyHistory />
      <Show when={user().role === "teacher" || user().role === "admin"}>
        <ClassDelivery />
      </Show>
    </section>
  );
}
