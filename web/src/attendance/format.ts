import { displayLocale } from "../time";

/** "1 h 05 min", "12 min", "under a minute": how long someone was in a session. */
export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (ms > 0 && minutes === 0) return "under a minute";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return hours > 0 ? `${hours} h ${String(rest).padStart(2, "0")} min` : `${rest} min`;
}

/** 0.834 → "83 %" (or however the viewer's locale writes a percentage). */
export function formatShare(share: number): string {
  return new Intl.NumberFormat(displayLocale(), { style: "percent", maximumFractionDigits: 0 }).format(share);
}
