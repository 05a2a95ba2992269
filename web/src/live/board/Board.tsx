import { createEffect, createMemo, createSignal, on, onCleanup, onMount, Show, untrack, type JSX } from "solid-js";
import { BLANK_PAGE_ASPECT, type BoardSurface, type BoardView, type Shape, surfaceKey } from "../../../../schema/protocol/board";
import { ChannelRequestError, type ClassChannel } from "../class-channel";
import type { MediaSession } from "../media";
import { BoardCapture } from "./BoardCapture";
import { BoardHistory } from "./BoardHistory";
import { BoardOps } from "./BoardOps";
import { BoardToolbar } from "./BoardToolbar";
import { clampView, FIT_VIEW, panBy, sameView, viewTransform, ViewSender, ZOOM_STEP, zoomAround } from "./board-view";
import { createBrowsedPage } from "./BrowsedPage";
import type { DeckFiles } from "./deck-files";
import { deckPageAspect, PdfPage } from "./PdfPage";
import { RemoteInk } from "./RemoteInk";
import { type Drawable, shapeHit } from "./shape-geometry";
import { ShapeLayer } from "./ShapeLayer";
import { ERASER_REACH, StrokeInput } from "./StrokeInput";
import { TextBox, textExtent, type TextPlacement } from "./TextBox";
import { BOARD_COLORS, BOARD_TOOLS, BOARD_WIDTHS, type BoardTool, PRESENTER_TOOLS } from "./tools";
import "./board.css";

/** The most a deck page's backing canvas grows with zoom (× the shown width): sharper text, bounded memory. */
const MAX_PAGE_RESOLUTION_ZOOM = 3;
/** The board never grows taller than this share of the window, so the class controls stay in reach. */
const MAX_HEIGHT_SHARE = 0.72;

/**
 * The board as the class's main picture: the presenter's surface (a deck page by pdf.js, a white blank page, or
 * the shared screen) with the vector layer over it, and the drawing tools for those who may draw (teachers and
 * admins always, a student while holding the pen). Everyone sees what the presenter shows.
 */
export function Board(props: {
  channel: ClassChannel;
  session: MediaSession;
  moderator: boolean;
  decks: DeckFiles;
  onError: (error: unknown) => void;
}): JSX.Element {
  const state = props.channel.state;
  const presenter = () => state.board.presenter;
  const sameSurface = (a: BoardSurface | null, b: BoardSurface | null) => (a && surfaceKey(a)) === (b && surfaceKey(b));
  /** The presenter's surface; what everyone following sees. */
  const presented = createMemo(() => presenter()?.surface ?? null, undefined, { equals: sameSurface });
  // A participant who is not presenting may page through the deck alone; a late joiner starts following.
  const browsed = createBrowsedPage(props.channel, props.onError);
  const following = () => browsed.surface() === null;
  /** The surface this screen shows: the page browsed alone, else the presenter's. */
  const surface = createMemo(() => browsed.surface() ?? presented(), undefined, { equals: sameSurface });
  const key = () => {
    const shown = surface();
    return shown ? surfaceKey(shown) : "";
  };
  // Browsing ends with the board hidden, or when the presenter turns to the page browsed.
  createEffect(
    on(presented, (now) => {
      const alone = browsed.surface();
      if (alone && (!now || sameSurface(now, alone))) browsed.browse(null);
    }),
  );
  const myUserId = () => state.you?.userId ?? "";
  // A student with the pen draws on the presenter's page only (the class refuses anything else).
  const canDraw = () => (props.moderator || state.board.pens.includes(myUserId())) && following();
  /** This screen moves the class's view (zoom and pan): a teacher or admin on the presenter's page. */
  const presenting = () => props.moderator && following() && presenter() !== null;

  const ops = new BoardOps(props.channel, props.onError);
  const history = new BoardHistory((on, op) => ops.send(on, op));
  const [tool, setTool] = createSignal<BoardTool>("pen");
  const [color, setColor] = createSignal<string>(BOARD_COLORS[1].value);
  const [width, setWidth] = createSignal<number>(BOARD_WIDTHS[1].value);
  const [live, setLive] = createSignal<Drawable | null>(null);
  const [erasing, setErasing] = createSignal<Set<string>>(new Set());
  let shapesElement: SVGSVGElement | undefined;
  let frameElement: HTMLDivElement | undefined;

  // The shapes of a newly shown surface are read once; the class channel keeps them current from then on.
  createEffect(() => {
    if (presenter() && !state.board.current && state.status === "open") {
      props.channel.loadBoardSurface().catch((error: unknown) => {
        if (!(error instanceof ChannelRequestError && error.code === "UNAVAILABLE")) props.onError(error);
      });
    }
  });

  const shapes = createMemo(() => {
    const current = state.board.current;
    const alone = browsed.state();
    const known = browsed.surface() ? (alone?.surface === key() ? alone.shapes : []) : current && current.surface === key() ? current.shapes : [];
    return ops.applyPending(key(), known, myUserId());
  });

  const input = new StrokeInput({
    canDraw,
    tool,
    color,
    width,
    surface,
    onLive: setLive,
    sendInk: (ink) => {
      // Ink is a preview that the next batch or the committed shape replaces; a refused stroke reports itself
      // through its op, so a lost batch is not worth a message.
      void props.channel.request("board.ink", ink).catch(() => undefined);
    },
    commit: (on, shape) => {
      void ops.send(on, { type: "add", shape });
      history.record({ surface: on, key: surfaceKey(on), redo: [{ type: "add", shape }], undo: [{ type: "delete", shapeIds: [shape.id] }] });
    },
    erase: (x, y, done) => {
      const aspect = aspectRatio();
      const hit = shapes().filter((entry) => (props.moderator || entry.userId === myUserId()) && shapeHit(entry.shape, aspect, x, y, ERASER_REACH));
      const marked = new Set(erasing());
      for (const entry of hit) marked.add(entry.shape.id);
      if (!done) return setErasing(marked);
      setErasing(new Set<string>());
      const on = surface();
      const removed = shapes()
        .filter((entry) => marked.has(entry.shape.id))
        .map((entry) => entry.shape);
      if (!on || removed.length === 0) return;
      for (let i = 0; i < removed.length; i += 500) {
        const batch = removed.slice(i, i + 500);
        void ops.send(on, { type: "delete", shapeIds: batch.map((shape) => shape.id) });
        history.record({
          surface: on,
          key: surfaceKey(on),
          redo: [{ type: "delete", shapeIds: batch.map((shape) => shape.id) }],
          undo: batch.map((shape) => ({ type: "add", shape })),
        });
      }
    },
  });
  const ink = new RemoteInk(props.channel, (strokeId) => input.isMine(strokeId));
  onCleanup(() => ink.close());
  createEffect(() => ink.landed(new Set(shapes().map((entry) => entry.shape.id))));
  const strokes = createMemo(() =>
    ink.strokes.filter((stroke) => stroke.key === key()).map((stroke) => ({ strokeId: stroke.strokeId, userId: stroke.userId, stroke })),
  );
  // A stroke in progress ends when the page changes or the pen is taken away.
  createEffect(on([key, canDraw], () => input.cancel(), { defer: true }));

  const clearPage = () => {
    const on = surface();
    if (!on || !window.confirm("Clear everything drawn on this page for the whole class?")) return;
    const before: Shape[] = shapes().map((entry) => entry.shape);
    void ops.send(on, { type: "clear" });
    history.record({ surface: on, key: surfaceKey(on), redo: [{ type: "clear" }], undo: before.map((shape) => ({ type: "add" as const, shape })) });
  };

  let spaceHeld = false;
  onMount(() => {
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key === " ") spaceHeld = false;
    };
    const onKey = (event: KeyboardEvent) => {
      if (!canDraw() || !surface() || isTyping(event.target)) return;
      // Space held: drag to move the zoomed page (the hand tool, for a moment).
      if (event.key === " " && presenting()) {
        event.preventDefault();
        spaceHeld = true;
        return;
      }
      const command = event.ctrlKey || event.metaKey;
      if (command && event.key.toLowerCase() === "z") {
        event.preventDefault();
        void (event.shiftKey ? history.redo(key()) : history.undo(key()));
        return;
      }
      if (command || event.altKey) return;
      const shortcut: Record<string, BoardTool> = { p: "pen", h: "highlighter", e: "eraser", t: "text" };
      const chosen = shortcut[event.key.toLowerCase()];
      if (chosen) setTool(chosen);
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKeyUp);
    onCleanup(() => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("keyup", onKeyUp);
    });
  });

  // The surface's shape: a deck page's own proportions (read by pdf.js), the screen's video size, or 16:9.
  const deckUrl = createMemo(() => {
    const shown = surface();
    if (shown?.kind !== "deck") return null;
    return props.decks.files()?.find((file) => file.deck?.id === shown.deckId)?.url ?? null;
  });
  const askedForDecks = new Set<string>();
  createEffect(() => {
    const shown = surface();
    // A deck uploaded after this page loaded the list (a student's view): read the list again, once.
    if (shown?.kind === "deck" && props.decks.files.state === "ready" && !deckUrl() && !askedForDecks.has(shown.deckId)) {
      askedForDecks.add(shown.deckId);
      props.decks.refetch();
    }
  });
  const [deckAspect, setDeckAspect] = createSignal<number | null>(null);
  const [screenAspect, setScreenAspect] = createSignal(BLANK_PAGE_ASPECT);
  createEffect(() => {
    const url = deckUrl();
    const shown = surface();
    if (!url || shown?.kind !== "deck") return;
    deckPageAspect(url, shown.page).then((aspect) => {
      if (deckUrl() === url) setDeckAspect(aspect);
    }, props.onError);
  });
  const aspectRatio = () => {
    const shown = surface();
    if (shown?.kind === "deck") return deckAspect() ?? 4 / 3;
    if (shown?.kind === "screen") return screenAspect();
    return BLANK_PAGE_ASPECT;
  };

  // The frame fits the available width and a share of the window's height.
  const [box, setBox] = createSignal({ width: 0, height: 0 });
  let container!: HTMLDivElement;
  onMount(() => {
    const measure = () => setBox({ width: container.clientWidth, height: window.innerHeight * MAX_HEIGHT_SHARE });
    const observer = new ResizeObserver(measure);
    observer.observe(container);
    window.addEventListener("resize", measure);
    measure();
    onCleanup(() => {
      observer.disconnect();
      window.removeEventListener("resize", measure);
    });
  });
  const frame = createMemo(() => {
    const aspect = aspectRatio();
    const width = Math.floor(Math.min(box().width, box().height * aspect));
    return { width, height: Math.floor(width / aspect) };
  });

  // The view: the presenter's zoom and position for everyone following (the presenter's own gesture shows at
  // once, before the class echoes it); a page browsed alone is seen whole.
  const [localView, setLocalView] = createSignal<BoardView | null>(null);
  const view = (): BoardView => (following() ? (localView() ?? presenter()?.view ?? FIT_VIEW) : FIT_VIEW);
  createEffect(on(key, () => setLocalView(null), { defer: true }));
  createEffect(() => {
    const mine = untrack(localView);
    const echoed = presenter()?.view;
    if (mine && echoed && sameView(mine, echoed)) setLocalView(null);
  });
  const viewSender = new ViewSender((next) => void props.channel.request("board.view", { view: next }).catch(props.onError));
  onCleanup(() => viewSender.close());
  const changeView = (next: BoardView) => {
    if (!presenting()) return;
    const clamped = clampView(next);
    if (sameView(clamped, view())) return;
    setLocalView(clamped);
    viewSender.change(clamped);
  };
  const zoomBy = (factor: number, fx = 0.5, fy = 0.5) => changeView(zoomAround(view(), view().zoom * factor, fx, fy));

  /** Where a pointer is on the frame (not the zoomed page), in fractions of the frame. */
  const framePoint = (clientX: number, clientY: number): [number, number] => {
    const box = frameElement!.getBoundingClientRect();
    return [(clientX - box.left) / box.width, (clientY - box.top) / box.height];
  };
  // Pan (hand tool, Space+drag, one finger with the hand) and pinch (two fingers) by the presenter.
  const touches = new Map<number, [number, number]>();
  let gesture: { pointers: number[]; start: [number, number][]; view: BoardView } | null = null;
  const startGesture = (pointers: number[]) => {
    gesture = { pointers, start: pointers.map((id) => touches.get(id)!), view: view() };
  };
  const moveGesture = () => {
    if (!gesture) return;
    const now = gesture.pointers.map((id) => touches.get(id));
    if (now.some((point) => !point)) return;
    const [a, b] = now as [number, number][];
    const [startA, startB] = gesture.start;
    if (!b || !startB) return changeView(panBy(gesture.view, a![0] - startA![0], a![1] - startA![1]));
    const mid = [(a![0] + b[0]) / 2, (a![1] + b[1]) / 2];
    const startMid = [(startA![0] + startB[0]) / 2, (startA![1] + startB[1]) / 2];
    const ratio = Math.hypot(a![0] - b[0], a![1] - b[1]) / Math.max(0.001, Math.hypot(startA![0] - startB[0], startA![1] - startB[1]));
    const zoomed = zoomAround(gesture.view, gesture.view.zoom * ratio, startMid[0]!, startMid[1]!);
    changeView(panBy(zoomed, mid[0]! - startMid[0]!, mid[1]! - startMid[1]!));
  };
  onMount(() => {
    // Ctrl (⌘) + wheel, and a trackpad's pinch (which the browser reports as one), zoom around the pointer.
    const onWheel = (event: WheelEvent) => {
      if (!presenting() || !(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      const [fx, fy] = framePoint(event.clientX, event.clientY);
      zoomBy(Math.exp(-event.deltaY * 0.002), fx, fy);
    };
    frameElement!.addEventListener("wheel", onWheel, { passive: false });
    onCleanup(() => frameElement!.removeEventListener("wheel", onWheel));
  });

  // The text tool: a text box where the page was pressed; what is typed becomes one shape.
  const [textAt, setTextAt] = createSignal<(TextPlacement & { surface: BoardSurface }) | null>(null);
  createEffect(on([key, canDraw], () => setTextAt(null), { defer: true }));
  const commitText = (text: string) => {
    const placed = textAt();
    setTextAt(null);
    if (!placed || surfaceKey(placed.surface) !== key()) return;
    const extent = textExtent(text, placed.width, aspectRatio());
    const shape: Shape = {
      id: crypto.randomUUID(),
      type: "text",
      color: placed.color,
      width: placed.width,
      points: [placed.x, placed.y, 0.5, Math.min(2, round(placed.x + extent.width)), Math.min(2, round(placed.y + extent.height)), 0.5],
      text,
    };
    void ops.send(placed.surface, { type: "add", shape });
    history.record({
      surface: placed.surface,
      key: surfaceKey(placed.surface),
      redo: [{ type: "add", shape }],
      undo: [{ type: "delete", shapeIds: [shape.id] }],
    });
  };

  const pointerDown = (event: PointerEvent) => {
    if (presenting()) {
      if (event.pointerType === "touch") touches.set(event.pointerId, framePoint(event.clientX, event.clientY));
      if (event.pointerType === "touch" && touches.size === 2) {
        // A second finger: what the first one began is a pinch, not a stroke.
        input.abort();
        startGesture([...touches.keys()]);
        return;
      }
      if (event.button === 0 && (tool() === "hand" || spaceHeld)) {
        event.preventDefault();
        shapesElement!.setPointerCapture(event.pointerId);
        touches.set(event.pointerId, framePoint(event.clientX, event.clientY));
        startGesture([event.pointerId]);
        return;
      }
    }
    const shown = surface();
    if (tool() === "text" && canDraw() && shown && event.button === 0) {
      event.preventDefault();
      const box = shapesElement!.getBoundingClientRect();
      const x = round(Math.min(1, Math.max(0, (event.clientX - box.left) / box.width)));
      const y = round(Math.min(1, Math.max(0, (event.clientY - box.top) / box.height)));
      // A box already open is committed first (clicking away), then the new one opens here.
      (document.activeElement as HTMLElement | null)?.blur();
      setTextAt({ surface: shown, x, y, color: color(), width: width() });
      return;
    }
    input.down(event, shapesElement!);
  };
  const pointerMove = (event: PointerEvent) => {
    if (touches.has(event.pointerId)) {
      touches.set(event.pointerId, framePoint(event.clientX, event.clientY));
      if (gesture) return moveGesture();
    }
    input.move(event, shapesElement!);
  };
  const pointerUp = (event: PointerEvent) => {
    touches.delete(event.pointerId);
    if (gesture?.pointers.includes(event.pointerId)) {
      gesture = null;
      return;
    }
    input.up(event, shapesElement!);
  };

  // Paging through the presenter's deck (or blank pages) alone.
  const pageCountOf = (shown: BoardSurface | null) => {
    if (shown?.kind === "deck") return props.decks.files()?.find((file) => file.deck?.id === shown.deckId)?.deck?.pageCount ?? 0;
    if (shown?.kind === "blank") return state.board.blankPages;
    return 0;
  };
  const browse = (delta: number) => {
    const shown = surface();
    const now = presented();
    if (!shown || shown.kind === "screen") return;
    const next = { ...shown, page: shown.page + delta };
    browsed.browse(now && sameSurface(next, now) ? null : next);
  };

  const screenTrack = () => {
    const local = props.session.state.local.screen;
    if (local) return local.track;
    return props.session.state.feeds.find((feed) => feed.source === "screen")?.track ?? null;
  };

  // The recording's board: the browser of the moderator who started the recording sends the board it shows
  // (one sender, whose camera is the recording's picture-in-picture), only while the board is shown.
  const sendsBoard = createMemo(
    () => props.moderator && surface() !== null && state.media.recording?.startedBy === myUserId() && props.session.state.produce.includes("board"),
  );
  createEffect(() => {
    if (!sendsBoard()) return;
    const capture = new BoardCapture();
    createEffect(() => {
      const drawables = [...shapes().map((entry) => entry.shape), ...strokes().map((entry) => entry.stroke), ...(live() ? [live()!] : [])];
      capture.update({
        background: () => frameElement?.querySelector<HTMLCanvasElement | HTMLVideoElement>(".board__page") ?? null,
        moving: surface()?.kind === "screen",
        aspect: aspectRatio(),
        view: view(),
        drawables,
      });
    });
    // Untracked: publishing reads and writes the session's state, which must not re-run this effect.
    untrack(() => void props.session.publish("board", capture.track).catch(props.onError));
    onCleanup(() => {
      untrack(() => void props.session.unpublish("board"));
      capture.close();
    });
  });

  const pageOf = (shown: BoardSurface | null) => (shown && shown.kind !== "screen" ? shown.page : 0);
  const cursor = () => {
    if (presenting() && tool() === "hand") return "grab";
    if (!canDraw()) return "default";
    if (tool() === "text") return "text";
    return tool() === "eraser" ? "cell" : "crosshair";
  };

  return (
    <section class="board" aria-label="Board" data-testid="board" data-surface={key()} data-following={String(following())}>
      <Show when={canDraw()}>
        <BoardToolbar
          tools={BOARD_TOOLS.filter((each) => props.moderator || !PRESENTER_TOOLS.has(each))}
          tool={tool()}
          color={color()}
          width={width()}
          canUndo={history.canUndo(key())}
          canRedo={history.canRedo(key())}
          canClear={props.moderator}
          onTool={setTool}
          onColor={setColor}
          onWidth={setWidth}
          onUndo={() => void history.undo(key())}
          onRedo={() => void history.redo(key())}
          onClear={clearPage}
        />
      </Show>
      <Show when={presenting()}>
        <div class="row board-view-controls" role="group" aria-label="Zoom">
          <button type="button" class="button button--small" aria-label="Zoom out" disabled={view().zoom <= 1} onClick={() => zoomBy(1 / ZOOM_STEP)}>
            −
          </button>
          <span class="small" data-testid="board-zoom">
            {Math.round(view().zoom * 100)}%
          </span>
          <button type="button" class="button button--small" aria-label="Zoom in" disabled={view().zoom >= 8} onClick={() => zoomBy(ZOOM_STEP)}>
            +
          </button>
          <button type="button" class="button button--small" disabled={view().zoom === 1} onClick={() => changeView(FIT_VIEW)}>
            Fit page
          </button>
        </div>
      </Show>
      <Show when={!props.moderator && pageOf(presented()) > 0}>
        <nav class="row board-browse" aria-label="Pages">
          <button type="button" class="button button--small" aria-label="Previous page" disabled={pageOf(surface()) <= 1} onClick={() => browse(-1)}>
            ◀
          </button>
          <span class="small" data-testid="board-browse-page">
            Page {pageOf(surface())}
            <Show when={pageCountOf(surface()) > 0}> of {pageCountOf(surface())}</Show>
          </span>
          <button
            type="button"
            class="button button--small"
            aria-label="Next page"
            disabled={pageCountOf(surface()) > 0 && pageOf(surface()) >= pageCountOf(surface())}
            onClick={() => browse(1)}
          >
            ▶
          </button>
          <Show when={!following()}>
            <button type="button" class="button button--primary button--small" onClick={() => browsed.browse(null)}>
              Back to the presenter (page {pageOf(presented())})
            </button>
          </Show>
        </nav>
      </Show>
      <div class="board__stage" ref={container}>
        <div
          class="board__frame"
          ref={frameElement}
          style={{ width: `${frame().width}px`, height: `${frame().height}px` }}
          classList={{ "board__frame--blank": surface()?.kind === "blank" }}
          data-zoom={view().zoom}
          data-view-x={view().x}
          data-view-y={view().y}
        >
          <div class="board__content" data-testid="board-content" style={{ transform: viewTransform(view()) }}>
            <Show when={surface()?.kind === "deck" && deckUrl()}>
              {(url) => (
                <PdfPage
                  url={url()}
                  page={(surface() as Extract<BoardSurface, { kind: "deck" }>).page}
                  cssWidth={frame().width * Math.min(MAX_PAGE_RESOLUTION_ZOOM, Math.ceil(view().zoom))}
                  onError={props.onError}
                />
              )}
            </Show>
            <Show when={surface()?.kind === "screen"}>
              <ScreenVideo track={screenTrack()} onAspect={setScreenAspect} />
            </Show>
            <ShapeLayer
              aspect={aspectRatio()}
              shapes={shapes()}
              strokes={strokes()}
              live={live()}
              erasing={erasing()}
              cursor={cursor()}
              ref={(element) => (shapesElement = element)}
              onPointerDown={pointerDown}
              onPointerMove={pointerMove}
              onPointerUp={pointerUp}
            />
            <Show when={textAt()}>
              {(placed) => <TextBox at={placed()} pageWidth={frame().width} onCommit={commitText} onCancel={() => setTextAt(null)} />}
            </Show>
          </div>
        </div>
      </div>
    </section>
  );
}

/** The shared screen under its annotations (the same track the media stage shows). */
function ScreenVideo(props: { track: MediaStreamTrack | null; onAspect: (aspect: number) => void }): JSX.Element {
  let video!: HTMLVideoElement;
  createEffect(() => {
    video.srcObject = props.track ? new MediaStream([props.track]) : null;
  });
  return (
    <video
      ref={video}
      class="board__page"
      autoplay
      muted
      playsinline
      onLoadedMetadata={() => {
        if (video.videoWidth > 0 && video.videoHeight > 0) props.onAspect(video.videoWidth / video.videoHeight);
      }}
    />
  );
}

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
