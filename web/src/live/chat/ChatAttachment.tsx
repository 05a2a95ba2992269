import { createSignal, Match, onCleanup, onMount, Show, Switch, type JSX } from "solid-js";
import type { ChatAttachment as Attachment } from "../../../../schema/protocol/classroom";
import { formatBytes } from "../board/format-bytes";

/** Width of the PDF preview in CSS pixels (the canvas is drawn at the screen's pixel ratio). */
const PDF_PREVIEW_WIDTH = 160;

/**
 * A file shared in a chat message: a preview (an image's thumbnail, a PDF's first page, an icon for anything
 * else), its name, size and a download link. Previews load only when the message scrolls into view, so a long
 * chat does not fetch every file at join.
 */
export function ChatAttachment(props: { attachment: Attachment }): JSX.Element {
  const url = () => `/api/files/${encodeURIComponent(props.attachment.fileId)}`;
  return (
    <figure class="chat-file" data-testid="chat-attachment" data-kind={props.attachment.kind}>
      <Switch
        fallback={
          <span class="chat-file__icon" aria-hidden="true">
            📎
          </span>
        }
      >
        <Match when={props.attachment.kind === "image"}>
          <a href={url()} target="_blank" rel="noopener" class="chat-file__preview">
            <img src={url()} alt={props.attachment.fileName} loading="lazy" decoding="async" class="chat-file__image" data-testid="chat-attachment-image" />
          </a>
        </Match>
        <Match when={props.attachment.kind === "pdf"}>
          <PdfFirstPage url={url()} name={props.attachment.fileName} />
        </Match>
      </Switch>
      <figcaption class="chat-file__caption">
        <bdi class="chat-file__name" data-testid="chat-attachment-name">
          {props.attachment.fileName}
        </bdi>
        <span class="muted small">{formatBytes(props.attachment.sizeBytes)}</span>
        <a class="button button--small" href={url()} download={props.attachment.fileName} data-testid="chat-attachment-download">
          Download<span class="visually-hidden"> {props.attachment.fileName}</span>
        </a>
      </figcaption>
    </figure>
  );
}

/** The first page of a PDF, drawn by pdf.js (loaded on first use, as the board does) once it is on screen. */
function PdfFirstPage(props: { url: string; name: string }): JSX.Element {
  const [failed, setFailed] = createSignal(false);
  let holder: HTMLDivElement | undefined;
  let observer: IntersectionObserver | undefined;
  const draw = async () => {
    try {
      const { renderPage } = await import("../board/pdf-renderer");
      const canvas = await renderPage(props.url, 1, Math.round(PDF_PREVIEW_WIDTH * (window.devicePixelRatio || 1)));
      // The renderer caches its canvas for the board; the chat shows a copy, so both may be on screen at once.
      const copy = document.createElement("canvas");
      copy.width = canvas.width;
      copy.height = canvas.height;
      copy.getContext("2d")?.drawImage(canvas, 0, 0);
      copy.className = "chat-file__pdf";
      copy.setAttribute("role", "img");
      copy.setAttribute("aria-label", `First page of ${props.name}`);
      copy.dataset.testid = "chat-attachment-pdf";
      holder?.replaceChildren(copy);
    } catch (error) {
      // The icon stands in; the reason is for whoever looks at the console.
      console.warn("chat PDF preview failed", error);
      setFailed(true);
    }
  };
  onMount(() => {
    if (!holder) return;
    // Started a little before it scrolls into view, as lazy images are, so it is usually drawn when seen.
    observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        observer?.disconnect();
        void draw();
      },
      { rootMargin: "300px" },
    );
    observer.observe(holder);
  });
  onCleanup(() => observer?.disconnect());
  return (
    <a href={props.url} download={props.name} class="chat-file__preview">
      <Show
        when={!failed()}
        fallback={
          <span class="chat-file__icon" aria-hidden="true" data-testid="chat-attachment-pdf-icon">
            📄
          </span>
        }
      >
        <div ref={holder} class="chat-file__pdf-holder" />
      </Show>
    </a>
  );
}
