import { createSignal, onCleanup, Show, type JSX } from "solid-js";
import type { ClassFile } from "../../../../schema/api/files";
import { errorMessage } from "../../api";
import { formatBytes } from "../board/format-bytes";
import type { UploadProgress } from "../file-upload";

/**
 * The chat's attach button: picks a file, uploads it to the class as a shared file (progress, cancel), then hands
 * it to `onUploaded`, which posts the message. The upload code loads on the first pick.
 */
export function AttachFile(props: { classId: string; disabled: boolean; onUploaded: (file: ClassFile) => Promise<void>; onError: (message: string | null) => void }): JSX.Element {
  const [progress, setProgress] = createSignal<(UploadProgress & { name: string }) | null>(null);
  let abort: AbortController | null = null;
  let input: HTMLInputElement | undefined;
  onCleanup(() => abort?.abort());

  const upload = async (file: File) => {
    props.onError(null);
    abort = new AbortController();
    setProgress({ sentBytes: 0, totalBytes: file.size, name: file.name });
    try {
      const { uploadClassFile } = await import("../file-upload");
      const uploaded = await uploadClassFile(props.classId, file, "share", (now) => setProgress({ ...now, name: file.name }), abort.signal);
      if (uploaded) await props.onUploaded(uploaded);
    } catch (error) {
      props.onError(errorMessage(error));
    } finally {
      abort = null;
      setProgress(null);
      if (input) input.value = "";
    }
  };
  const percent = () => {
    const now = progress();
    return now && now.totalBytes > 0 ? Math.floor((now.sentBytes / now.totalBytes) * 100) : 0;
  };

  return (
    <>
      <label class="button chat-attach" classList={{ "button--disabled": props.disabled || progress() !== null }} title="Share a file">
        <span aria-hidden="true">📎</span>
        <span class="visually-hidden">Share a file</span>
        <input
          ref={input}
          type="file"
          class="visually-hidden"
          aria-label="Share a file in chat"
          data-testid="chat-attach-input"
          disabled={props.disabled || progress() !== null}
          onChange={(event) => {
            const file = event.currentTarget.files?.[0];
            if (file) void upload(file);
          }}
        />
      </label>
      <Show when={progress()}>
        {(now) => (
          <div class="chat-attach__progress" data-testid="chat-upload-progress">
            <bdi class="small">{now().name}</bdi>
            <progress max={100} value={percent()} aria-label={`Uploading ${now().name}`} />
            <span class="small muted">
              {percent()}% · {formatBytes(now().sentBytes)} of {formatBytes(now().totalBytes)}
            </span>
            <button type="button" class="button button--quiet button--small" onClick={() => abort?.abort()}>
              Cancel upload
            </button>
          </div>
        )}
      </Show>
    </>
  );
}
