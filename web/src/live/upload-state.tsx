import { createSignal, type JSX } from "solid-js";
import { formatBytes } from "./board/format-bytes";
import type { UploadProgress } from "./file-upload";

/**
 * One file upload at a time, as an upload button needs it: the progress while it runs (null otherwise), its
 * percentage, and a cancel that aborts the running upload. Decks on the board and files in chat share it.
 */
export function createUploadState<P extends UploadProgress>() {
  const [progress, setProgress] = createSignal<P | null>(null);
  let abort: AbortController | null = null;
  const percent = () => {
    const now = progress();
    return now && now.totalBytes > 0 ? Math.floor((now.sentBytes / now.totalBytes) * 100) : 0;
  };
  /** Runs `perform` with a fresh abort signal and a progress reporter; the progress is cleared when it ends. */
  const run = async <T,>(initial: P, perform: (signal: AbortSignal, report: (now: P) => void) => Promise<T>): Promise<T> => {
    abort = new AbortController();
    setProgress(() => initial);
    try {
      return await perform(abort.signal, (now) => setProgress(() => now));
    } finally {
      abort = null;
      setProgress(null);
    }
  };
  return { progress, percent, run, cancel: () => abort?.abort() };
}

/** The bar, the figures ("42% · 2.1 MB of 5 MB") and the cancel button of a running upload. */
export function UploadProgressBar(props: { now: UploadProgress; percent: number; label: string; onCancel: () => void; figuresClass?: string }): JSX.Element {
  return (
    <>
      <progress max={100} value={props.percent} aria-label={props.label} />
      <span class={props.figuresClass ?? "small"}>
        {props.percent}% · {formatBytes(props.now.sentBytes)} of {formatBytes(props.now.totalBytes)}
      </span>
      <button type="button" class="button button--quiet button--small" onClick={() => props.onCancel()}>
        Cancel upload
      </button>
    </>
  );
}
