import { createResource, createSignal, For, Show, type JSX } from "solid-js";
import {
  type EnrollByEmail,
  type EnrolledStudent,
  EnrollByEmailResponseSchema,
  EnrollmentListResponseSchema,
  NoContentSchema,
} from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { createAction } from "../action";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { Modal } from "../components/Modal";
import { useToasts } from "../components/Toasts";
import { isolate } from "../bidi";

/** Who is enrolled; enroll someone by e-mail (an account is created for unknown addresses) or remove them. */
export function StudentsPanel(props: { classId: string }): JSX.Element {
  const toasts = useToasts();
  const [students, { refetch }] = createResource(
    () => props.classId,
    (classId) => api(`/api/classes/${classId}/enrollments`, EnrollmentListResponseSchema),
  );
  const [email, setEmail] = createSignal("");
  const [removing, setRemoving] = createSignal<EnrolledStudent | null>(null);

  const enroll = createAction(async () => {
    const { student } = await api(`/api/classes/${props.classId}/enrollments`, EnrollByEmailResponseSchema, {
      method: "POST",
      body: { email: email().trim() } satisfies EnrollByEmail,
    });
    setEmail("");
    toasts.notify(`${isolate(student.displayName)} (${student.email}) is enrolled.`);
    void refetch();
  });

  const remove = createAction(async (student: EnrolledStudent) => {
    await api(`/api/classes/${props.classId}/enrollments/${student.id}`, NoContentSchema, { method: "DELETE" });
    setRemoving(null);
    toasts.notify(`${isolate(student.displayName)} is no longer enrolled.`);
    void refetch();
  });

  return (
    <div class="stack">
      <form
        class="card stack"
        onSubmit={(event) => {
          event.preventDefault();
          void enroll.run();
        }}
        aria-labelledby="enroll-title"
      >
        <h2 id="enroll-title">Enroll a student</h2>
        <div class="field">
          <label for="enroll-email">Student's e-mail</label>
          <div class="copy-field">
            <input
              id="enroll-email"
              class="input"
              type="email"
              required
              autocomplete="off"
              value={email()}
              onInput={(e) => setEmail(e.currentTarget.value)}
              aria-describedby="enroll-email-hint"
            />
            <button type="submit" class="button button--primary" disabled={enroll.pending()}>
              Enroll
            </button>
          </div>
          <span id="enroll-email-hint" class="field__hint">
            Someone without an insp-live account yet gets one; it links to their insp account when they first sign in.
          </span>
        </div>
        <ErrorAlert error={enroll.error()} />
      </form>

      <section class="card stack" aria-labelledby="students-title">
        <h2 id="students-title">Enrolled students</h2>
        <ErrorAlert error={students.error} />
        <Show
          when={students.latest}
          fallback={
            <Show when={!students.error}>
              <Loading />
            </Show>
          }
        >
          {(list) => (
            <Show when={list().students.length > 0} fallback={<p class="muted">Nobody is enrolled yet.</p>}>
              <p class="muted small">{list().students.length} enrolled</p>
              <ul class="list">
                <For each={list().students}>
                  {(student) => (
                    <li>
                      <span>
                        <strong>
                          <bdi>{student.displayName}</bdi>
                        </strong>{" "}
                        <span class="muted small">{student.email}</span>
                      </span>
                      <button type="button" class="button button--small button--danger" onClick={() => setRemoving(student)}>
                        Remove<span class="visually-hidden"> {student.displayName}</span>
                      </button>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          )}
        </Show>
      </section>

      <Show when={removing()}>
        {(student) => (
          <Modal open onOpenChange={(open) => !open && setRemoving(null)} title={`Remove ${student().displayName}?`}>
            <div class="stack">
              <p>They stop getting reminders for this class. They can enroll again unless you block them.</p>
              <Show when={remove.error()}>
                <p class="alert alert--error" role="alert">
                  {errorMessage(remove.error())}
                </p>
              </Show>
              <div class="form-actions">
                <button type="button" class="button" onClick={() => setRemoving(null)}>
                  Keep
                </button>
                <button type="button" class="button button--danger" disabled={remove.pending()} onClick={() => void remove.run(student())}>
                  Remove
                </button>
              </div>
            </div>
          </Modal>
        )}
      </Show>
    </div>
  );
}
