import { createMemo, For, type JSX } from "solid-js";
import type { PresencePoint } from "../../../schema/api/attendance";
import { formatTime } from "../time";

const WIDTH = 600;
const HEIGHT = 140;
const PAD = { left: 32, right: 8, top: 10, bottom: 24 };

/**
 * How many were present over the session, as a step line in inline SVG (no chart library). Screen readers get
 * the summary in the label; the table beside it holds every figure.
 */
export function PresenceChart(props: { points: PresencePoint[]; timeZone: string }): JSX.Element {
  const geometry = createMemo(() => {
    const points = props.points;
    const first = points[0]?.at ?? 0;
    const last = points[points.length - 1]?.at ?? first;
    const span = Math.max(1, last - first);
    const peak = Math.max(1, ...points.map((p) => p.present));
    const x = (at: number) => PAD.left + ((at - first) / span) * (WIDTH - PAD.left - PAD.right);
    const y = (present: number) => HEIGHT - PAD.bottom - (present / peak) * (HEIGHT - PAD.top - PAD.bottom);
    // A step line: the count holds until the next point.
    const path = points.map((p, i) => (i === 0 ? `M${x(p.at)},${y(p.present)}` : `H${x(p.at)}V${y(p.present)}`)).join("");
    const peakPoint = points.reduce((best, p) => (p.present > best.present ? p : best), points[0] ?? { at: first, present: 0 });
    return { first, last, peak, path, y, peakPoint, area: `${path}V${y(0)}H${x(first)}Z` };
  });
  const label = () => {
    const g = geometry();
    return `Present over time, from ${formatTime(g.first, props.timeZone)} to ${formatTime(g.last, props.timeZone)}: at most ${g.peakPoint.present} at ${formatTime(g.peakPoint.at, props.timeZone)}.`;
  };
  return (
    <figure class="presence-chart" style={{ margin: 0 }}>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={label()}
        data-testid="presence-chart"
        style={{ width: "100%", "max-width": "40rem", height: "auto" }}
      >
        <For each={[0, geometry().peak]}>
          {(value) => (
            <>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={geometry().y(value)} y2={geometry().y(value)} style={{ stroke: "var(--color-border)" }} />
              <text x={PAD.left - 6} y={geometry().y(value) + 4} text-anchor="end" font-size="12" style={{ fill: "var(--color-text-muted)" }}>
                {value}
              </text>
            </>
          )}
        </For>
        <path d={geometry().area} style={{ fill: "var(--color-primary)", "fill-opacity": "0.15" }} />
        <path d={geometry().path} style={{ fill: "none", stroke: "var(--color-primary)", "stroke-width": "2" }} />
        <text x={PAD.left} y={HEIGHT - 6} font-size="12" style={{ fill: "var(--color-text-muted)" }}>
          {formatTime(geometry().first, props.timeZone)}
        </text>
        <text x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end" font-size="12" style={{ fill: "var(--color-text-muted)" }}>
          {formatTime(geometry().last, props.timeZone)}
        </text>
      </svg>
      <figcaption class="small muted">People present over the session (the line steps each minute).</figcaption>
    </figure>
  );
}
