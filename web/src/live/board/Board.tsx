import { createEffect, createMemo, createSignal, on, onCleanup, onMount, Show, untrack, type JSX } from "solid-js";
import { type BoardSurface, type Shape, surfaceKey } from "../../../../schema/protocol/board";
import { ChannelRequestError, type ClassChannel } from "../class-channel";
import type { MediaSession } from "../media";
import { BoardCapture } from "./BoardCapture";
import { BoardHistory } from "./BoardHistory";
import { BoardOps } from "./BoardOps";
import { BoardToolbar } from "./BoardToolbar";
import type { DeckFiles } from "./deck-files";
import { deckPageAspect, PdfPage } from "./PdfPage";
import { RemoteInk } from "./RemoteInk";
import { type Drawable, shapeHit } from "./shape-geometry";
import { ShapeLayer } from "./ShapeLayer";
import { ERASER_REACH, StrokeInput } from "./StrokeInput";
import { BOARD_COLORS, BOARD_WIDTHS, type BoardTool } from "./tools";
import "./board.css";

/** A blank page (and a screen until its video reports a size) is drawn 16:9, like most projectors and screens. */
const WIDE = 16 / 9;
/** The board never grows taller than this share of the window, so the class controls stay in reach. */
const MAX_HEIGHT_SHARE = 0.72;

/**
 * The board as the class's main picture: the presenter's surface (a deck page by pdf.js, a white blank page, or
 * the shared screen) with the vector layer over it, and the drawing tools for those who may draw (teachers and
 * admins always, a student while holding the pen). Everyone sees what the presenter shows.
 */
export function Board(props: { channel: ClassChannel; session: MediaSession; moderator: boolean; decks: DeckFiles; onError: (error: unknown) => void }): JSX.Element {
  const state = props.channel.state;
  const presenter = () => state.board.presenter;
  const surface = createMemo(() => presenter()?.surface ?? null, undefined, { equals: (a, b) => (a && surfaceKey(a)) === (b && surfaceKey(b)) });
  const key = () => {
    const shown = surface();
    return shown ? surfaceKey(shown) : "";
  };
  const myUserId = () => state.you?.userId ?? "";
  const canDraw = () => props.moderator || state.board.pens.includes(myUserId());

  const ops = new BoardOps(props.channel, props.onError);
  const history = new BoardHistory((on, op) => ops.send(on, op));
  const [tool, setTool] = createSignal<BoardTool>("pen");
  const [color, setColor] = createSignal<string>(BOARD_COLORS[1].value);
  const [width, setWidth] = createSignal<number>(BOARD_WIDTHS[1].value);
  const [live, setLive] = createSignal<Drawable | null>(null);
  const [erasing, setErasing] = createSignal<Set<string>>(new Set());
  let shapesElement: SVGSVGElement | undefined;

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
    const known = current && current.surface === key() ? current.shapes : [];
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
      const removed = shapes().filter((entry) => marked.has(entry.shape.id)).map((entry) => entry.shape);
      if (!on || removed.length === 0) return;
      for (let i = 0; i < removed.length; i += 500) {
        const batch = removed.slice(i, i + 500);
        void ops.send(on, { type: "delete", shapeIds: batch.map((shape) => shape.id) });
        history.record({ surface: on, key: surfaceKey(on), redo: [{ type: "delete", shapeIds: batch.map((shape) => shape.id) }], undo: batch.map((shape) => ({ type: "add", shape })) });
      }
    },
  });
  const ink = new RemoteInk(props.channel, (strokeId) => input.isMine(strokeId));
  onCleanup(() => ink.close());
  createEffect(() => ink.landed(new Set(shapes().map((entry) => entry.shape.id))));
  const strokes = createMemo(() => ink.strokes.filter((stroke) => stroke.key === key()).map((stroke) => ({ strokeId: stroke.strokeId, userId: stroke.userId, stroke })));
  // A stroke in progress ends when the page changes or the pen is taken away.
  createEffect(on([key, canDraw], () => input.cancel(), { defer: true }));

  const clearPage = () => {
    const on = surface();
    if (!on || !window.confirm("Clear everything drawn on this page for the whole class?")) return;
    const before: Shape[] = shapes().map((entry) => entry.shape);
    void ops.send(on, { type: "clear" });
    history.record({ surface: on, key: surfaceKey(on), redo: [{ type: "clear" }], undo: before.map((shape) => ({ type: "add" as const, shape })) });
  };

  onMount(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!canDraw() || !surface() || isTyping(event.target)) return;
      const command = event.ctrlKey || event.metaKey;
      if (command && event.key.toLowerCase() === "z") {
        event.preventDefault();
        void (event.shiftKey ? history.redo(key()) : history.undo(key()));
        return;
      }
      if (command || event.altKey) return;
      const shortcut: Record<string, BoardTool> = { p: "pen", h: "highlighter", e: "eraser" };
      const chosen = shortcut[event.key.toLowerCase()];
      if (chosen) setTool(chosen);
    };
    window.addEventListener("keydown", onKey);
    onCleanup(() => window.removeEventListener("keydown", onKey));
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
  const [screenAspect, setScreenAspect] = createSignal(WIDE);
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
    return WIDE;
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

  const screenTrack = () => {
    const local = props.session.state.local.screen;
    if (local) return local.track;
    return props.session.state.feeds.find((feed) => feed.source === "screen")?.track ?? null;
  };

  // The recording's board: the browser of the moderator who started the recording sends the board it shows
  // (one sender, whose camera is the recording's picture-in-picture), only while the board is shown.
  let frameElement: HTMLDivElement | undefined;
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

  return (
    <section class="board" aria-label="Board" data-testid="board" data-surface={key()}>
      <Show when={canDraw()}>
        <BoardToolbar
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
      <div class="board__stage" ref={container}>
        <div class="board__frame" ref={frameElement} style={{ width: `${frame().width}px`, height: `${frame().height}px` }} classList={{ "board__frame--blank": surface()?.kind === "blank" }}>
          <Show when={surface()?.kind === "deck" && deckUrl()}>
            {(url) => <PdfPage url={url()} page={(surface() as Extract<BoardSurface, { kind: "deck" }>).page} cssWidth={frame().width} onError={props.onError} />}
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
            cursor={canDraw() ? (tool() === "eraser" ? "cell" : "crosshair") : "default"}
            ref={(element) => (shapesElement = element)}
            onPointerDown={(event) => input.down(event, shapesElement!)}
            onPointerMove={(event) => input.move(event, shapesElement!)}
            onPointerUp={(event) => input.up(event, shapesElement!)}
          />
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
