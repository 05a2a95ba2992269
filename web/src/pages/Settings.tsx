import { createSignal, Show, type JSX } from "solid-js";
import { type MePatch, UserResponseSchema } from "../../../schema/api/auth";
import { LIMITS } from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { CalendarFeed } from "../components/CalendarFeed";
import { ErrorAlert } from "../components/ErrorAlert";
import { TimeZoneSelect } from "../components/TimeZoneSelect";
import { useToasts } from "../components/Toasts";
import { useSession, useUser } from "../session";
import { browserTimeZone } from "../time";

/** The user's profile and reminder preferences, plus the calendar feed. */
export default function Settings(): JSX.Element {
  const session = useSession();
  const user = useUser();
  const toasts = useToasts();
  const initial = user();
  const [displayName, setDisplayName] = createSignal(initial.displayName);
  // An account still on the "UTC" default shows the browser's zone, as every page does.
  const [timeZone, setTimeZone] = createSignal(session.timeZone());
  const [phone, setPhone] = createSignal(initial.phone ?? "");
  const [remindByEmail, setRemindByEmail] = createSignal(initial.remindByEmail);
  const [remindBySms, setRemindBySms] = createSignal(initial.remindBySms);

  const save = createAction(async () => {
    const trimmedPhone = phone().replace(/[\s()-]/g, "");
    if (remindBySms() && !trimmedPhone) throw new Error("Add a phone number to get reminders by SMS.");
    const body: MePatch = {
      displayName: displayName().trim(),
      timezone: timeZone(),
      phone: trimmedPhone || null,
      remindByEmail: remindByEmail(),
      remindBySms: remindBySms(),
    };
    const { user: updated } = await api("/api/me", UserResponseSchema, { method: "PATCH", body });
    session.setUser(updated);
    toasts.notify("Settings saved.");
  });

  return (
    <section class="stack" style={{ "max-width": "44rem" }}>
      <h1>Settings</h1>
      <form
        class="card stack"
        onSubmit={(event) => {
          event.preventDefault();
          void save.run();
        }}
        aria-labelledby="profile-title"
      >
        <h2 id="profile-title">Profile</h2>
        <div class="field">
          <label for="settings-name">Display name</label>
          <input
            id="settings-name"
            class="input"
            required
            maxLength={LIMITS.displayNameLength}
            value={displayName()}
            onInput={(e) => setDisplayName(e.currentTarget.value)}
          />
        </div>
        <p class="small muted" style={{ margin: 0 }}>
          E-mail: <span class="mono">{user().email}</span>
        </p>
        <TimeZoneSelect
          id="settings-zone"
          label="Time zone"
          value={timeZone()}
          onChange={setTimeZone}
          hint={`Every time in insp-live and in your reminders is shown in this zone. This device is set to ${browserTimeZone().replaceAll("_", " ")}.`}
        />
        <div class="field">
          <label for="settings-phone">Mobile phone (for SMS reminders)</label>
          <input
            id="settings-phone"
            class="input"
            type="tel"
            autocomplete="tel"
            placeholder="+4915123456789"
            value={phone()}
            onInput={(e) => setPhone(e.currentTarget.value)}
            aria-describedby="settings-phone-hint"
          />
          <span id="settings-phone-hint" class="field__hint">
            International format starting with + and the country code. Leave empty to remove it.
          </span>
        </div>
        <fieldset>
          <legend>Class reminders</legend>
          <label class="check">
            <input type="checkbox" checked={remindByEmail()} onChange={(e) => setRemindByEmail(e.currentTarget.checked)} />
            By e-mail
          </label>
          <br />
          <label class="check">
            <input type="checkbox" checked={remindBySms()} onChange={(e) => setRemindBySms(e.currentTarget.checked)} />
            By SMS
          </label>
          <Show when={remindBySms() && !phone().trim()}>
            <p class="field__hint">SMS reminders need a phone number.</p>
          </Show>
        </fieldset>
        <ErrorAlert error={save.error()} />
        <div class="form-actions">
          <button type="submit" class="button button--primary" disabled={save.pending()}>
            Save settings
          </button>
        </div>
      </form>
      <CalendarFeed />
    </section>
  );
}
