import type { JSX } from "solid-js";
import { useSession } from "../session";
import { formatRange, zoneLabel } from "../time";

/** An occurrence's time range in the viewer's zone, with the zone named, as a <time> element. */
export function When(props: { startsAt: number; endsAt: number; cancelled?: boolean }): JSX.Element {
  const session = useSession();
  return (
    <span class={props.cancelled ? "cancelled" : undefined}>
      <time datetime={new Date(props.startsAt).toISOString()}>{formatRange(props.startsAt, props.endsAt, session.timeZone())}</time>{" "}
      <span class="muted small">{zoneLabel(props.startsAt, session.timeZone())}</span>
      {props.cancelled && <span class="visually-hidden"> (cancelled)</span>}
    </span>
  );
}
