import { Show, type JSX } from "solid-js";
import { errorMessage } from "../api";

/** An error box announced to screen readers; renders nothing when there is no error. */
export function ErrorAlert(props: { error: unknown; id?: string }): JSX.Element {
  return (
    <div aria-live="assertive" id={props.id}>
      <Show when={props.error}>
        {(error) => (
          <p class="alert alert--error" role="alert">
            {errorMessage(error())}
          </p>
        )}
      </Show>
    </div>
  );
}

/** Loading text that screen readers announce once. */
export function Loading(props: { label?: string }): JSX.Element {
  return (
    <p class="muted" role="status">
      {props.label ?? "Loading…"}
    </p>
  );
}
