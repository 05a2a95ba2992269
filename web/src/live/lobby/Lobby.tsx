import { A } from "@solidjs/router";
import { createSignal, Show, type JSX } from "solid-js";
import type { JoinResponse, UpcomingOccurrence } from "../../../../schema/api/join";
import { createNow } from "../../clock";
import { When } from "../../components/When";
import { useSession } from "../../session";
import { formatDateTime, formatTime } from "../../time";
import { DeviceCheck } from "../device-check/DeviceCheck";
import "./lobby.css";

/**
 * The live page before the room opens: the class, its start in the viewer's zone, a countdown to the opening
 * (the page joins by itself then; see Classroom.tsx) and the device check. A teacher or admin (`join` given)
 * may open the room now, as on the dashboard.
 */
export function Lobby(props: {
  classId: string;
  title: string;
  upcoming: UpcomingOccurrence;
  join: JoinResponse | null;
  onEnter: (join: JoinResponse) => void;
}): JSX.Element {
  const session = useSession();
  const now = createNow(1_000);
  const [checking, setChecking] = createSignal(false);
  const left = () => props.upcoming.opensAt - now();
  const studentsFrom = () => formatTime(props.upcoming.opensAt, session.timeZone());
  return (
    <section class="lobby" data-testid="lobby">
      <h1>{props.title}</h1>
      <p>
        <When startsAt={props.upcoming.startsAt} endsAt={props.upcoming.endsAt} />
      </p>
      <p class="lobby__countdown" role="timer" data-testid="lobby-countdown">
        {left() > 0 ? `${props.join ? "Opens for students" : "Opens"} ${countdown(left(), props.upcoming.opensAt, session.timeZone())}` : "Opening…"}
      </p>
      <Show
        when={props.join}
        fallback={<p class="muted">Keep this page open: you will join the class by yourself when it opens, 15 minutes before the start.</p>}
      >
        {(join) => (
          <div class="row">
            <button type="button" class="button button--primary" onClick={() => props.onEnter(join())}>
              Start class now
            </button>
            <span class="small muted">
              You can open the room any time. Students can enter from {studentsFrom()} (15 minutes before the start) until the end.
            </span>
          </div>
        )}
      </Show>
      <section class="lobby__devices" aria-labelledby="lobby-devices">
        <h2 id="lobby-devices">Your camera, microphone and speaker</h2>
        <Show
          when={checking()}
          fallback={
            <div class="row">
              <button type="button" class="button" onClick={() => setChecking(true)}>
                Check camera and microphone
              </button>
              <span class="small muted">Optional: you can join without it.</span>
            </div>
          }
        >
          <DeviceCheck />
          <button type="button" class="button button--quiet" onClick={() => setChecking(false)}>
            Done checking
          </button>
        </Show>
      </section>
      <A href={`/classes/${props.classId}`}>Back to the class page</A>
    </section>
  );
}

/** "in 4:32", "in 1:04:32", or for a day or more away "on Tue, 3 Mar 2026, 13:45". */
function countdown(ms: number, at: number, timeZone: string): string {
  if (ms >= 24 * 3_600_000) return `on ${formatDateTime(at, timeZone)}`;
  const seconds = Math.ceil(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `in ${h}:${String(m).padStart(2, "0")}:${s}` : `in ${m}:${s}`;
}
