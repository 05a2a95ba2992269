import { A } from "@solidjs/router";
import { Show, type JSX } from "solid-js";
import type { EndedSession, JoinResponse } from "../../../../schema/api/join";
import { useSession } from "../../session";
import { formatDateTime, zoneLabel } from "../../time";
import "./lobby.css";

/**
 * The live page after a teacher ended this slot's session: when it ended and its recording (a link once it is
 * ready). Students cannot enter again (the server refuses them); a teacher or admin (`join` given) may start a
 * new session.
 */
export function ClassEnded(props: {
  classId: string;
  title: string;
  ended: EndedSession;
  join: JoinResponse | null;
  onEnter: (join: JoinResponse) => void;
}): JSX.Element {
  const session = useSession();
  return (
    <section class="lobby" data-testid="class-ended">
      <h1>{props.title}</h1>
      <h2>This class has ended</h2>
      <p>
        Ended at <time datetime={new Date(props.ended.endedAt).toISOString()}>{formatDateTime(props.ended.endedAt, session.timeZone())}</time>{" "}
        <span class="muted small">{zoneLabel(props.ended.endedAt, session.timeZone())}</span>
      </p>
      <Show when={props.ended.recording}>
        {(recording) => (
          <Show when={recording().ready} fallback={<p>The recording is being prepared. Come back later to watch it.</p>}>
            <p>
              <A href={`/recordings/${recording().id}`} class="button button--primary">
                Watch the recording
              </A>
            </p>
          </Show>
        )}
      </Show>
      <Show when={props.join}>
        {(join) => (
          <div class="row">
            <button type="button" class="button" onClick={() => props.onEnter(join())}>
              Start a new session
            </button>
            <span class="small muted">Students can come in again once you start it. The new session starts with an empty chat.</span>
          </div>
        )}
      </Show>
      <A href={`/classes/${props.classId}`}>Back to the class page</A>
    </section>
  );
}
