import { A } from "@solidjs/router";
import { type JSX, Show } from "solid-js";
import type { RecordingLink, RecordingNeighbours } from "../../../schema/api/recordings";
import { useSession } from "../session";
import { formatDuration, recordingTitle, statusLabel } from "./format";

/** A link's title as the recording's own page shows it (the class title and start when it has none of its own). */
export function linkTitle(link: RecordingLink, classTitle: string, timeZone: string): string {
  return recordingTitle({ title: link.title, classTitle, startedAt: link.startedAt }, timeZone);
}

/**
 * The recordings of the same class session before and after this one: the parts of a recording that went on
 * across a media server change, or a class recorded in stretches. A part not ready yet says where it stands.
 */
export function SessionParts(props: { neighbours: RecordingNeighbours; classTitle: string }): JSX.Element {
  const session = useSession();
  const label = (link: RecordingLink) => {
    const state = link.status === "ready" ? formatDuration(link.durationMs) : statusLabel(link.status);
    return `${linkTitle(link, props.classTitle, session.timeZone())} (${state})`;
  };
  return (
    <Show when={props.neighbours.previous || props.neighbours.next}>
      <nav class="session-parts" aria-label="Other recordings of this class session">
        <Show when={props.neighbours.previous}>
          {(previous) => (
            <A href={`/recordings/${previous().id}`} data-testid="recording-previous">
              ← Before this: {label(previous())}
            </A>
          )}
        </Show>
        <Show when={props.neighbours.next}>
          {(next) => (
            <A href={`/recordings/${next().id}`} data-testid="recording-next">
              Continues in: {label(next())} →
            </A>
          )}
        </Show>
      </nav>
    </Show>
  );
}
