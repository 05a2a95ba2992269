/**
 * Pen strokes as a hand draws them, for the board benchmarks: a smooth wandering curve of `count` points in
 * surface fractions (x, y, pressure triples, rounded as the web's StrokeInput rounds them), with the flat 0.5
 * pressure a mouse reports.
 */

/** A stroke of `count` points starting somewhere on the page, drifting with a slowly turning heading. */
export function penStroke(count: number, random: () => number = Math.random): number[] {
  const points: number[] = [];
  let x = 0.1 + random() * 0.8;
  let y = 0.1 + random() * 0.8;
  let heading = random() * 2 * Math.PI;
  const step = 0.002 + random() * 0.004;
  for (let i = 0; i < count; i++) {
    heading += (random() - 0.5) * 0.5;
    x = Math.min(0.98, Math.max(0.02, x + Math.cos(heading) * step));
    y = Math.min(0.98, Math.max(0.02, y + Math.sin(heading) * step));
    points.push(round(x), round(y), 0.5);
  }
  return points;
}

/** Between `min` and `max` points, as handwriting and sketches vary. */
export function strokeLength(min = 50, max = 150, random: () => number = Math.random): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A repeatable random sequence (mulberry32), so two runs draw the same strokes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
