import { createEffect, createSignal, onCleanup, type JSX } from "solid-js";

type Renderer = typeof import("./pdf-renderer");
let renderer: Promise<Renderer> | null = null;
/** pdf.js arrives with the first deck shown, not with the classroom. */
function loadRenderer(): Promise<Renderer> {
  renderer ??= import("./pdf-renderer");
  renderer.catch(() => (renderer = null));
  return renderer;
}

/** The aspect (width / height) of a deck page, read by pdf.js. */
export async function deckPageAspect(url: string, page: number): Promise<number> {
  return (await loadRenderer()).pageAspect(url, page);
}

/**
 * One deck page drawn by pdf.js at the size it is shown times the screen's pixel ratio, so text stays sharp on
 * every screen; the pages before and after are rendered in the background for instant page turns.
 */
export function PdfPage(props: { url: string; page: number; cssWidth: number; onError: (error: unknown) => void }): JSX.Element {
  let canvas!: HTMLCanvasElement;
  const [rendered, setRendered] = createSignal<number | null>(null);
  let disposed = false;
  onCleanup(() => (disposed = true));

  createEffect(() => {
    const { url, page } = props;
    const pixelWidth = Math.round(props.cssWidth * (window.devicePixelRatio || 1));
    if (pixelWidth <= 0) return;
    void (async () => {
      try {
        const pdf = await loadRenderer();
        const source = await pdf.renderPage(url, page, pixelWidth);
        // A later page or size may have been asked for while this one rendered.
        if (disposed || props.url !== url || props.page !== page) return;
        canvas.width = source.width;
        canvas.height = source.height;
        canvas.getContext("2d")!.drawImage(source, 0, 0);
        setRendered(page);
        void pdf.prefetchNeighbours(url, page, pixelWidth);
      } catch (error) {
        if (!disposed) props.onError(error);
      }
    })();
  });

  return (
    <canvas ref={canvas} class="board__page" data-testid="board-page" data-rendered-page={rendered() ?? ""} aria-label={`Page ${props.page}`} role="img" />
  );
}
