import { createSignal, For, type JSX } from "solid-js";

const STARS = [1, 2, 3, 4, 5] as const;

/**
 * 1–5 stars as a native radio group named "Rating": arrow keys move between stars, each option is announced
 * as "1 star" … "5 stars", and hovering previews the choice.
 */
export function StarRating(props: { value: number | null; onChange: (rating: number) => void; name?: string }): JSX.Element {
  const [preview, setPreview] = createSignal<number | null>(null);
  const lit = (star: number) => star <= (preview() ?? props.value ?? 0);
  const groupName = props.name ?? "rating";
  return (
    <fieldset class="stars" role="radiogroup" aria-label="Rating" onMouseLeave={() => setPreview(null)}>
      <For each={STARS}>
        {(star) => {
          const id = `${groupName}-${star}`;
          return (
            <span class="star" onMouseEnter={() => setPreview(star)}>
              <input
                type="radio"
                id={id}
                name={groupName}
                value={star}
                checked={props.value === star}
                onChange={() => props.onChange(star)}
                aria-label={star === 1 ? "1 star" : `${star} stars`}
              />
              <label for={id} data-lit={lit(star)} aria-hidden="true">
                ★
              </label>
            </span>
          );
        }}
      </For>
    </fieldset>
  );
}

/** A rating as read-only stars plus the number, e.g. "★★★★☆ 4.2 (17 ratings)". */
export function RatingSummary(props: { average: number | null; count: number }): JSX.Element {
  const rounded = () => Math.round(props.average ?? 0);
  return (
    <span>
      {props.average === null ? (
        <span class="muted">No ratings yet</span>
      ) : (
        <>
          <span class="stars-readonly" aria-hidden="true">
            {"★".repeat(rounded())}
            {"☆".repeat(5 - rounded())}
          </span>{" "}
          <span>
            {props.average.toFixed(1)} out of 5 ({props.count} {props.count === 1 ? "rating" : "ratings"})
          </span>
        </>
      )}
    </span>
  );
}
