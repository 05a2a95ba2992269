import { createSignal, Show, type JSX } from "solid-js";
import { fieldMessages, type IssueLike } from "../../../schema/errors";
import { ApiError } from "../api";

/**
 * The errors of one form, each kept at its field. `fields` maps an API field key ("title", "series.count") to the
 * id of the input that edits it, so a refusal from the server lands at the same input as the same mistake caught
 * in the browser. Whatever names no known field is left in `formError()` for an alert at the form's end.
 */
export function createFieldErrors(fields: Record<string, string>) {
  const [messages, setMessages] = createSignal<Record<string, string>>({});
  const [formError, setFormError] = createSignal<unknown>();

  /** Shows `byKey` at their inputs and moves focus to the first, so a keyboard or screen-reader user lands on it. */
  const show = (byKey: Record<string, string>, rest?: unknown) => {
    const byInput: Record<string, string> = {};
    let unplaced: string | undefined;
    for (const [key, message] of Object.entries(byKey)) {
      const inputId = fields[key];
      if (inputId) byInput[inputId] ??= message;
      else unplaced ??= message;
    }
    setMessages(byInput);
    setFormError(rest ?? (unplaced === undefined ? undefined : new Error(unplaced)));
    const first = Object.values(fields).find((id) => id in byInput);
    if (first) queueMicrotask(() => document.getElementById(first)?.focus());
  };

  return {
    /** The message for the input with this id, if any. */
    message: (inputId: string): string | undefined => messages()[inputId],
    formError,
    clear: () => {
      setMessages({});
      setFormError(undefined);
    },
    /** Forgets the error of one input (when its value changes, the old message no longer applies). */
    clearField: (inputId: string) => setMessages(({ [inputId]: _dropped, ...rest }) => rest),
    /** Validation issues found in the browser, with the schema's own messages. */
    showIssues: (issues: readonly IssueLike[]) => show(fieldMessages(issues)),
    /** A failure of the request: its field messages at their inputs, anything else at the form's end. */
    showError: (error: unknown) => {
      const byKey = error instanceof ApiError ? error.fields : {};
      const placed = Object.keys(byKey).some((key) => key in fields);
      show(byKey, placed ? undefined : error);
    },
  };
}

/**
 * `aria-describedby` for an input: its hint and, while it has one, its error, so a screen reader reads the
 * error when the input gets focus. Pair with `aria-invalid={Boolean(error)}`.
 */
export function describedBy(inputId: string, error: string | undefined, hasHint = false): string | undefined {
  return [hasHint ? `${inputId}-hint` : "", error ? `${inputId}-error` : ""].filter(Boolean).join(" ") || undefined;
}

/** The error line under an input (renders nothing without an error). */
export function FieldError(props: { inputId: string; message: string | undefined }): JSX.Element {
  return (
    <Show when={props.message}>
      <span id={`${props.inputId}-error`} class="field__error">
        {props.message}
      </span>
    </Show>
  );
}
