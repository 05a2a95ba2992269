import { onCleanup, Show, type JSX } from "solid-js";
import type { ClassFile } from "../../../../schema/api/files";
import { errorMessage } from "../../api";
import { createUploadState, UploadProgressBar } from "../upload-state";
import type { UploadProgress } from "../file-upload";

/**
 * The chat's attach button: picks a file, uploads it to the class as a shared file (progress, cancel), then hands
 * it to `onUploaded`, which posts the message. The upload code loads on the first pick.
 */
export function AttachFile(props: {
  classId: string;
  disabled: boolean;
  onUploaded: (file: ClassFile) => Promise<void>;
  onError: (message: string | null) => void;
}): JSX.Element {
  const uploading = createUploadState<UploadProgress & { name: string }>();
  const progress = uploading.progress;
  let input: HTMLInputElement | undefined;
  onCleanup(() => uploading.cancel());

  const upload = async (file: File) => {
    props.onError(null);
    try {
      await uploading.run({ sentBytes: 0, totalBytes: file.size, name: file.name }, async (signal, report) => {
        const { uploadClassFile } = await import("../file-upload");
        const uploaded = await uploadClassFile(props.classId, file, "share", (now) => report({ ...now, name: file.name }), signal);
        // The message is posted while the upload still shows, as one step for the user.
        if (uploaded) await props.onUploaded(uploaded);
      });
    } catch (error) {
      props.onError(errorMessage(error));
    } finally {
      if (input) input.value = "";
    }
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
            <UploadProgressBar
              now={now()}
              percent={uploading.percent()}
              label={`Uploading ${now().name}`}
              onCancel={uploading.cancel}
              figuresClass="small muted"
            />
          </div>
        )}
      </Show>
    </>
  );
}
