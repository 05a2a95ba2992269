/**
 * Deck pages rendered by pdf.js. This module is loaded with a dynamic import the first time a deck is shown,
 * so the classroom does not download pdf.js until then. pdf.js parses in a same-origin module worker (the
 * `?url` import makes Vite ship the worker as a file of its own), which a Content-Security-Policy allows with
 * `worker-src 'self'` — no inline script, no eval, no blob worker.
 */
import { getDocument, GlobalWorkerOptions, type PDFDocumentProxy } from "pdfjs-dist";
import workerUrl from "pdfjs-dist/build/pdf.worker.min.mjs?url";

GlobalWorkerOptions.workerSrc = workerUrl;

/** Rendered pages kept for instant page turns: the page shown and its neighbours, at the size they were drawn. */
const CACHED_PAGES = 6;

const documents = new Map<string, Promise<PDFDocumentProxy>>();
const rendered = new Map<string, Promise<HTMLCanvasElement>>();

function openDocument(url: string): Promise<PDFDocumentProxy> {
  let document = documents.get(url);
  if (!document) {
    document = (async () => {
      // The file endpoint answers whole files (no ranges), so the bytes are fetched once and handed over.
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`The deck could not be loaded (${response.status})`);
      const data = new Uint8Array(await response.arrayBuffer());
      // No WebAssembly decoders and no XFA forms: the CSP then needs nothing beyond a same-origin worker.
      return getDocument({ data, useWasm: false, enableXfa: false }).promise;
    })();
    document.catch(() => documents.delete(url));
    documents.set(url, document);
  }
  return document;
}

/** The page's width divided by its height (from its first page's size when `page` is past the end). */
export async function pageAspect(url: string, page: number): Promise<number> {
  const document = await openDocument(url);
  const viewport = (await document.getPage(Math.min(page, document.numPages))).getViewport({ scale: 1 });
  return viewport.width / viewport.height;
}

/** Renders one page `pixelWidth` device pixels wide into a canvas of its own (cached). */
export function renderPage(url: string, page: number, pixelWidth: number): Promise<HTMLCanvasElement> {
  const key = `${url}#${page}@${pixelWidth}`;
  let canvas = rendered.get(key);
  // Kept in order of use, so the pages evicted are the ones looked at longest ago.
  if (canvas) rendered.delete(key);
  else {
    canvas = (async () => {
      const document = await openDocument(url);
      const pdfPage = await document.getPage(page);
      const base = pdfPage.getViewport({ scale: 1 });
      const viewport = pdfPage.getViewport({ scale: pixelWidth / base.width });
      const target = window.document.createElement("canvas");
      target.width = Math.round(viewport.width);
      target.height = Math.round(viewport.height);
      await pdfPage.render({ canvas: target, viewport }).promise;
      return target;
    })();
    canvas.catch(() => rendered.delete(key));
  }
  rendered.set(key, canvas);
  while (rendered.size > CACHED_PAGES) rendered.delete(rendered.keys().next().value!);
  return canvas;
}

/** Renders the pages before and after `page` in the background, so turning to them shows at once. */
export async function prefetchNeighbours(url: string, page: number, pixelWidth: number): Promise<void> {
  const document = await openDocument(url);
  for (const neighbour of [page + 1, page - 1]) {
    if (neighbour >= 1 && neighbour <= document.numPages) await renderPage(url, neighbour, pixelWidth).catch(() => undefined);
  }
}
