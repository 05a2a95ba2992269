import { A, useNavigate, useParams } from "@solidjs/router";
import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import * as v from "valibot";
import { AdminUserListResponseSchema } from "../../../schema/api/auth";
import {
  ClassCreateSchema,
  ClassUpdateSchema,
  LIMITS,
  type ClassCreate,
  type ClassDetail,
  type ClassResponse,
  type ClassUpdate,
  ClassResponseSchema,
  NoContentSchema,
} from "../../../schema/api/portal";
import { api } from "../api";
import { createAction } from "../action";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { createFieldErrors, describedBy, FieldError } from "../components/FieldErrors";
import { Modal } from "../components/Modal";
import { useToasts } from "../components/Toasts";
import { useUser } from "../session";
import { REMINDER_PRESETS, reminderLabel } from "./reminder-options";

/** Create a class (/classes/new) or edit one (/classes/:id/edit). */
export default function ClassEditor(): JSX.Element {
  const params = useParams();
  const [existing] = createResource(
    () => params.id,
    async (id) => (await api(`/api/classes/${id}`, ClassResponseSchema)).class,
  );
  return (
    <Show when={params.id} fallback={<ClassForm />}>
      <Show when={!existing.error} fallback={<ErrorAlert error={existing.error} />}>
        <Show when={existing()} fallback={<Loading />}>
          {(detail) => <ClassForm existing={detail()} />}
        </Show>
      </Show>
    </Show>
  );
}

function ClassForm(props: { existing?: ClassDetail }): JSX.Element {
  const user = useUser();
  const navigate = useNavigate();
  const toasts = useToasts();
  const editing = () => props.existing !== undefined;
  const [title, setTitle] = createSignal(props.existing?.title ?? "");
  const [description, setDescription] = createSignal(props.existing?.description ?? "");
  const [kind, setKind] = createSignal<"live" | "recorded">(props.existing?.kind ?? "live");
  const [status, setStatus] = createSignal<"active" | "archived">(props.existing?.status ?? "active");
  const [reminders, setReminders] = createSignal<number[]>(props.existing?.reminderMinutes ?? [1440, 60, 10]);
  const [downloads, setDownloads] = createSignal(props.existing?.recordingDownloads ?? true);
  const [teacherId, setTeacherId] = createSignal("");
  const [confirmDelete, setConfirmDelete] = createSignal(false);

  // Admins may create a class on a teacher's behalf.
  const [teachers] = createResource(
    () => (!editing() && user().role === "admin" ? true : undefined),
    () => api("/api/admin/users", AdminUserListResponseSchema, { query: { role: "teacher" } }),
  );

  const reminderChoices = () => {
    const custom = reminders().filter((m) => !REMINDER_PRESETS.some((p) => p.minutes === m));
    return [...REMINDER_PRESETS.map((p) => p.minutes), ...custom].sort((a, b) => b - a);
  };
  const toggleReminder = (minutes: number, on: boolean) =>
    setReminders((current) => (on ? [...new Set([...current, minutes])] : current.filter((m) => m !== minutes)).sort((a, b) => b - a));

  const errors = createFieldErrors({ title: "class-title", description: "class-description", reminderMinutes: "class-reminders" });

  const save = createAction(async () => {
    errors.clear();
    const common = { title: title().trim(), description: description().trim(), kind: kind(), reminderMinutes: reminders() };
    const body: ClassUpdate | ClassCreate = editing()
      ? { ...common, status: status(), recordingDownloads: downloads() }
      : teacherId()
        ? { ...common, teacherId: teacherId() }
        : common;
    // The API's own schema, so the browser says exactly what the server would, before a round trip.
    const checked = v.safeParse(editing() ? ClassUpdateSchema : ClassCreateSchema, body);
    if (!checked.success) return errors.showIssues(checked.issues);
    let response: ClassResponse;
    try {
      response = editing()
        ? await api(`/api/classes/${props.existing!.id}`, ClassResponseSchema, { method: "PATCH", body })
        : await api("/api/classes", ClassResponseSchema, { method: "POST", body });
    } catch (error) {
      return errors.showError(error);
    }
    toasts.notify(editing() ? "Class saved." : "Class created. Now add its sessions.");
    navigate(editing() ? `/classes/${response.class.id}` : `/classes/${response.class.id}/manage`);
  });

  const remove = createAction(async () => {
    await api(`/api/classes/${props.existing!.id}`, NoContentSchema, { method: "DELETE" });
    toasts.notify("Class deleted.");
    navigate("/classes", { replace: true });
  });

  return (
    <section class="stack" style={{ "max-width": "44rem" }}>
      <div class="page-head">
        <h1>{editing() ? `Edit “${props.existing!.title}”` : "New class"}</h1>
        <Show when={editing()}>
          <A href={`/classes/${props.existing!.id}`}>Back to the class</A>
        </Show>
      </div>
      <form
        class="card stack"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void save.run();
        }}
      >
        <div class="field">
          <label for="class-title">Title</label>
          <input
            id="class-title"
            class="input"
            required
            maxLength={LIMITS.titleLength}
            value={title()}
            aria-invalid={Boolean(errors.message("class-title"))}
            aria-describedby={describedBy("class-title", errors.message("class-title"), true)}
            onInput={(e) => {
              setTitle(e.currentTarget.value);
              errors.clearField("class-title");
            }}
          />
          {/* The browser stops typing at the limit without a word; the count says why. */}
          <span id="class-title-hint" class="field__hint">
            {title().length} of {LIMITS.titleLength} characters
          </span>
          <FieldError inputId="class-title" message={errors.message("class-title")} />
        </div>
        <div class="field">
          <label for="class-description">Description</label>
          <textarea
            id="class-description"
            class="textarea"
            maxLength={LIMITS.descriptionLength}
            value={description()}
            aria-invalid={Boolean(errors.message("class-description"))}
            aria-describedby={describedBy("class-description", errors.message("class-description"), true)}
            onInput={(e) => {
              setDescription(e.currentTarget.value);
              errors.clearField("class-description");
            }}
          />
          <span id="class-description-hint" class="field__hint">
            {description().length} of {LIMITS.descriptionLength} characters
          </span>
          <FieldError inputId="class-description" message={errors.message("class-description")} />
        </div>
        <div class="form-grid form-grid--2">
          <div class="field">
            <label for="class-kind">Kind</label>
            <select id="class-kind" class="select" value={kind()} onChange={(e) => setKind(e.currentTarget.value as "live" | "recorded")}>
              <option value="live">Live class</option>
              <option value="recorded">Recorded class</option>
            </select>
          </div>
          <Show when={editing()}>
            <div class="field">
              <label for="class-status">Status</label>
              <select id="class-status" class="select" value={status()} onChange={(e) => setStatus(e.currentTarget.value as "active" | "archived")}>
                <option value="active">Active</option>
                <option value="archived">Archived (hidden from students)</option>
              </select>
            </div>
          </Show>
          <Show when={teachers()}>
            {(list) => (
              <div class="field">
                <label for="class-teacher">Teacher</label>
                <select id="class-teacher" class="select" value={teacherId()} onChange={(e) => setTeacherId(e.currentTarget.value)}>
                  <option value="">Me ({user().displayName})</option>
                  <For each={list().users}>
                    {(teacher) => (
                      <option value={teacher.id}>
                        {teacher.displayName} ({teacher.email})
                      </option>
                    )}
                  </For>
                </select>
              </div>
            )}
          </Show>
        </div>
        <fieldset
          id="class-reminders"
          tabIndex={-1}
          aria-invalid={Boolean(errors.message("class-reminders"))}
          aria-describedby={describedBy("class-reminders", errors.message("class-reminders"), true)}
        >
          <legend>Reminders to enrolled students</legend>
          <p id="class-reminders-hint" class="field__hint">
            Pick up to {LIMITS.reminderCount}.
          </p>
          <FieldError inputId="class-reminders" message={errors.message("class-reminders")} />
          <div class="form-grid form-grid--2">
            <For each={reminderChoices()}>
              {(minutes) => (
                <label class="check">
                  <input
                    type="checkbox"
                    checked={reminders().includes(minutes)}
                    disabled={!reminders().includes(minutes) && reminders().length >= LIMITS.reminderCount}
                    onChange={(e) => toggleReminder(minutes, e.currentTarget.checked)}
                  />
                  {reminderLabel(minutes)}
                </label>
              )}
            </For>
          </div>
        </fieldset>
        <Show when={editing()}>
          <div class="field">
            <label class="check">
              <input
                type="checkbox"
                role="switch"
                aria-checked={downloads()}
                aria-describedby="class-downloads-hint"
                checked={downloads()}
                onChange={(e) => setDownloads(e.currentTarget.checked)}
              />
              Let students download recordings
            </label>
            <span id="class-downloads-hint" class="field__hint">
              Enrolled students get a Download button on this class's recordings. You and admins can always download them.
            </span>
          </div>
        </Show>
        <ErrorAlert error={errors.formError() ?? save.error()} />
        <div class="form-actions">
          <Show when={editing()}>
            <button type="button" class="button button--danger" onClick={() => setConfirmDelete(true)} style={{ "margin-right": "auto" }}>
              Delete class
            </button>
          </Show>
          <button type="submit" class="button button--primary" disabled={save.pending()}>
            {editing() ? "Save changes" : "Create class"}
          </button>
        </div>
      </form>
      <Modal open={confirmDelete()} onOpenChange={setConfirmDelete} title="Delete this class?">
        <div class="stack">
          <p>Its sessions, enrollments and ratings are deleted too. This cannot be undone; archiving keeps them.</p>
          <ErrorAlert error={remove.error()} />
          <div class="form-actions">
            <button type="button" class="button" onClick={() => setConfirmDelete(false)}>
              Keep the class
            </button>
            <button type="button" class="button button--danger" disabled={remove.pending()} onClick={() => void remove.run()}>
              Delete class
            </button>
          </div>
        </div>
      </Modal>
    </section>
  );
}
