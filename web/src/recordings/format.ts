import type { RecordingStatus, RecordingView } from "../../../schema/api/recordings";
import { formatDateTime } from "../time";

/** 75_000 → "1:15", 3_725_000 → "1:02:05". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return "–";
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

const STATUS_LABELS: Record<RecordingStatus, string> = {
  recording: "Recording",
  composing: "Composing",
  uploading: "Uploading",
  packaging: "Preparing video",
  ready: "Ready",
  failed: "Failed",
};

export function statusLabel(status: RecordingStatus): string {
  return STATUS_LABELS[status];
}

/** Still changing on the server: pages poll while any recording is in one of these. */
export function isInProgress(recording: Pick<RecordingView, "status">): boolean {
  return recording.status !== "ready" && recording.status !== "failed";
}

/**
 * "Live algebra — Thu, 26 Nov 2026, 14:05" (the recording's own title when it has one), written like every other
 * time on the page: in the viewer's zone and locale.
 */
export function recordingTitle(recording: Pick<RecordingView, "title" | "classTitle" | "startedAt">, timeZone: string): string {
  if (recording.title) return recording.title;
  return `${recording.classTitle} — ${formatDateTime(recording.startedAt, timeZone)}`;
}
