import { createMemo, Show, type JSX } from "solid-js";
import { classifyLocalTime, parseLocalDateTime } from "../../../schema/time-zone";
import { formatTime } from "../time";

/**
 * Under a date-time input: says so when the chosen wall-clock time does not exist in the zone (clocks jump
 * forward over it) or happens twice (clocks go back), and which instant the session will use — the rule of
 * schema/time-zone.ts. Shows nothing for an ordinary time.
 */
export function LocalTimeNote(props: { id?: string; value: string; timeZone: string }): JSX.Element {
  const note = createMemo(() => {
    if (!parseLocalDateTime(props.value)) return null;
    const result = classifyLocalTime(props.value, props.timeZone);
    const asked = props.value.slice(11);
    if (result.kind === "skipped") {
      return `${asked} does not exist on that day in ${props.timeZone}: the clocks jump forward. The session will start at ${formatTime(result.utcMs, props.timeZone)}.`;
    }
    if (result.kind === "repeated") {
      return `${asked} happens twice on that day in ${props.timeZone}: the clocks go back. The session will start at the first ${asked}, before the change.`;
    }
    return null;
  });
  return (
    <Show when={note()}>
      {(text) => (
        <p id={props.id} class="field__hint" role="note">
          {text()}
        </p>
      )}
    </Show>
  );
}
