import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { classMarks, mediaUploads, slideDecks } from "../../schema/db";
import { BOARD_LIMITS, type BoardPresenter, type BoardSurface, type BoardSurfaceState, type Shape } from "../../schema/protocol/board";
import type { ClassroomEvent } from "../../schema/protocol/classroom";
import { db } from "./helpers";
import { NodeLink } from "./node-link";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const BLANK_1: BoardSurface = { kind: "blank", page: 1 };

/** The presenter as this client sees it now: its snapshot, then every `board.presenter` event after it. */
function presenterSeen(client: ChannelClient): BoardPresenter | null {
  let presenter = client.snapshot?.board.presenter ?? null;
  for (const event of client.events)
    if (event.type === "board.presenter") presenter = (event as Extract<ClassroomEvent, { type: "board.presenter" }>).presenter;
  return presenter;
}

function textShape(text: string): Shape {
  return { id: crypto.randomUUID(), type: "text", color: "#1565c0", width: 0.006, points: [0.2, 0.3, 0.5, 0.4, 0.36, 0.5], text };
}

async function addDeck(classId: string, ownerId: string, title: string, pageCount: number): Promise<string> {
  const uploadId = crypto.randomUUID();
  const deckId = crypto.randomUUID();
  await db.insert(mediaUploads).values({
    id: uploadId,
    ownerId,
    classId,
    kind: "pdf",
    contentType: "application/pdf",
    fileName: "d.pdf",
    storageKey: `k/${uploadId}`,
    sizeBytes: 10,
    createdAt: Date.now(),
  });
  await db.insert(slideDecks).values({ id: deckId, classId, uploadId, title, pageCount, createdAt: Date.now() });
  return deckId;
}

const marksOf = (classId: string) => db.select().from(classMarks).where(eq(classMarks.classId, classId)).orderBy(classMarks.at);

describe("the presenter's view (zoom and pan)", () => {
  it("a student's board.view is refused and changes nothing; the teacher's reaches everyone and a late joiner's snapshot", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    expect(await teacherClient.request("board.view", { view: { zoom: 2, x: 0.1, y: 0.1 } })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", message: "Show the board before zooming" },
    });
    await teacherClient.ok("board.show", { surface: BLANK_1 });

    expect(await student.request("board.view", { view: { zoom: 4, x: 0.5, y: 0.5 } })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await teacherClient.request("board.view", { view: { zoom: 9, x: 0, y: 0 } })).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    expect(await teacherClient.request("board.view", { view: { zoom: 2, x: 0.1 } })).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    const unchanged = await ChannelClient.join(students[1]!, classId);
    expect(unchanged.snapshot!.board.presenter?.view).toEqual({ zoom: 1, x: 0, y: 0 });
    unchanged.close();

    const answer = await teacherClient.ok<{ presenter: BoardPresenter }>("board.view", { view: { zoom: 2, x: 0.25, y: 0.4 } });
    expect(answer.presenter).toMatchObject({ surface: BLANK_1, view: { zoom: 2, x: 0.25, y: 0.4 } });
    await student.until(() => presenterSeen(student)?.view.zoom === 2, "the zoomed view");
    expect(presenterSeen(student)).toMatchObject({ surface: BLANK_1, view: { zoom: 2, x: 0.25, y: 0.4 } });

    // A corner past where the zoomed view still lies on the page is pulled back onto it.
    const clamped = await teacherClient.ok<{ presenter: BoardPresenter }>("board.view", { view: { zoom: 4, x: 0.9, y: 1 } });
    expect(clamped.presenter.view).toEqual({ zoom: 4, x: 0.75, y: 0.75 });

    const late = await ChannelClient.join(students[1]!, classId);
    expect(late.snapshot!.board.presenter).toMatchObject({ surface: BLANK_1, view: { zoom: 4, x: 0.75, y: 0.75 } });
  });
});

describe("text on the board", () => {
  it("a text shape is stored and reaches the others; a text past the limit is refused and nothing is added", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });

    const tooLong = textShape("x".repeat(BOARD_LIMITS.maxTextLength + 1));
    expect(await teacherClient.request("board.op", { clientOpId: "long", surface: BLANK_1, op: { type: "add", shape: tooLong } })).toMatchObject({
      ok: false,
      error: { code: "INVALID_MESSAGE" },
    });
    const hello = textShape("Area = πr²");
    await teacherClient.ok("board.op", { clientOpId: "hello", surface: BLANK_1, op: { type: "add", shape: hello } });
    await student.until(() => student.events.some((e) => e.type === "board.op" && e.entry.op.type === "add" && e.entry.op.shape.id === hello.id), "the text");
    const stored = await student.ok<BoardSurfaceState>("board.fetch", { surface: BLANK_1 });
    expect(stored.shapes.map((s) => s.shape)).toEqual([hello]);
  });
});

describe("chapter marks", () => {
  it("pages shown, a screen share and hiding the board reach D1 with labels, times and the session; rapid flipping leaves one mark", {
    timeout: 60_000,
  }, async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    const sessionId = teacherClient.snapshot!.session.sessionId;
    const deckId = await addDeck(classId, teacher.id, "Fractions", 12);

    // Ten pages, each a round trip after the one before (far inside the replacing window, which chains from page to
    // page, so a slow machine taking seconds for all ten changes nothing): one mark, the page the teacher stopped on.
    const flipStart = Date.now();
    for (let page = 1; page <= 10; page += 1) await teacherClient.ok("board.show", { surface: { kind: "deck", deckId, page } });
    const flipEnd = Date.now();
    await eventually(async () => expect((await marksOf(classId)).map((m) => m.label)).toEqual(["Fractions — page 10"]));
    const [flipped] = await marksOf(classId);
    expect(flipped).toMatchObject({ kind: "page", surface: `deck:${deckId}:10`, userId: teacher.id, liveSessionId: sessionId });
    expect(flipped!.at).toBeGreaterThanOrEqual(flipStart);
    expect(flipped!.at).toBeLessThanOrEqual(flipEnd);

    // After a pause longer than the replacing window, the next page is a mark of its own.
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    // Someone else's mark never replaces the teacher's: the student shares their screen right away.
    const link = await NodeLink.connect(classId, "node-marks", []);
    link.socket.send(
      JSON.stringify({
        notification: "producerAdded",
        data: { producerId: "p-screen", userId: students[0]!.id, kind: "video", source: "screen", paused: false },
      }),
    );
    await student.until(() => student.events.some((e) => e.type === "media.producers" && e.upserts.some((p) => p.producerId === "p-screen")), "the share");

    await new Promise((resolve) => setTimeout(resolve, 3_100));
    await teacherClient.ok("board.hide", {});
    await eventually(async () =>
      expect((await marksOf(classId)).map((m) => [m.kind, m.label])).toEqual([
        ["page", "Fractions — page 10"],
        ["blank", "Whiteboard page 1"],
        ["screen-share", `Screen share by ${students[0]!.displayName}`],
        ["board-hidden", "Board hidden"],
      ]),
    );
    const marks = await marksOf(classId);
    expect(marks.every((m) => m.liveSessionId === sessionId)).toBe(true);
    expect(marks[2]).toMatchObject({ userId: students[0]!.id, surface: null });
    expect(marks[3]!.at - marks[1]!.at).toBeGreaterThanOrEqual(3_000);
    link.socket.close();
  });
});
