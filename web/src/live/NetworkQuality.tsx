import { For, type JSX } from "solid-js";

/** Words for a 0–10 mediasoup score, in four steps (what the bars show). */
export function qualityWord(score: number): "excellent" | "good" | "poor" | "bad" {
  return score >= 9 ? "excellent" : score >= 7 ? "good" : score >= 4 ? "poor" : "bad";
}

/** Signal bars for one participant's network quality (0–10 from producer/consumer scores); nothing when unknown. */
export function NetworkQuality(props: { score: number | null }): JSX.Element {
  const bars = () => (props.score === null ? 0 : props.score >= 9 ? 4 : props.score >= 7 ? 3 : props.score >= 4 ? 2 : 1);
  return (
    <span
      class="network-quality"
      classList={{ [`network-quality--${props.score === null ? "unknown" : qualityWord(props.score)}`]: true }}
      role="img"
      aria-label={props.score === null ? "Network quality unknown" : `Network quality: ${qualityWord(props.score)}`}
      data-quality={props.score ?? ""}
    >
      <For each={[1, 2, 3, 4]}>{(level) => <span class="network-quality__bar" classList={{ "network-quality__bar--on": level <= bars() }} />}</For>
    </span>
  );
}
