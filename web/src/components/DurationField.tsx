import { LIMITS } from "../../../schema/api/portal";

/** A session's length in whole minutes, as the move dialogs ask for it (1 … the longest session allowed). */
export function DurationField(props: { id: string; value: number; onInput: (minutes: number) => void }) {
  return (
    <div class="field">
      <label for={props.id}>Duration (minutes)</label>
      <input
        id={props.id}
        class="input"
        type="number"
        min="1"
        max={LIMITS.occurrenceMaxMinutes}
        required
        value={props.value}
        onInput={(e) => props.onInput(e.currentTarget.valueAsNumber)}
      />
    </div>
  );
}
