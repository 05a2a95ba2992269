import { For, type JSX } from "solid-js";
import { timeZoneOptions } from "../time";

/** A labelled select of every IANA zone the browser knows. */
export function TimeZoneSelect(props: { id: string; label: string; value: string; onChange: (zone: string) => void; hint?: string }): JSX.Element {
  const zones = () => timeZoneOptions(props.value);
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} class="select" value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <For each={zones()}>{(zone) => <option value={zone}>{zone.replaceAll("_", " ")}</option>}</For>
      </select>
      {props.hint && <span class="field__hint">{props.hint}</span>}
    </div>
  );
}
