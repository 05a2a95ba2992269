import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BoardOp, BoardSurface, BoardSurfaceState, Shape } from "../../schema/protocol/board";
import type { ClassroomEvent } from "../../schema/protocol/classroom";
import { mediaUploads, slideDecks } from "../../schema/db";
import type { ClassBoardResponse } from "../../schema/api/board";
import { api, createUser, db } from "./helpers";
import { ChannelClient, createLiveClass, eventually } from "./ws-client";

const BLANK_1: BoardSurface = { kind: "blank", page: 1 };

let shapeCounter = 0;
function stroke(id = `s${++shapeCounter}`, x = 0.5): Shape {
  return { id, type: "pen", color: "#d01010", width: 0.004, points: [x, 0.2, 0.5, x + 0.1, 0.3, 0.6, x + 0.2, 0.35, 0.7] };
}

function op(client: ChannelClient, clientOpId: string, boardOp: BoardOp, surface: BoardSurface = BLANK_1) {
  return client.request("board.op", { clientOpId, surface, op: boardOp });
}

/** The shapes of the presenter's surface as this client sees it: snapshot plus the board ops after it. */
function shapesSeen(client: ChannelClient): string[] {
  const current = client.snapshot?.board.current;
  const shapes = new Map((current?.shapes ?? []).map((s) => [s.shape.id, s.shape]));
  const ops = client.events.filter((e): e is Extract<ClassroomEvent, { type: "board.op" }> => e.type === "board.op").map((e) => e.entry);
  for (const entry of ops.sort((a, b) => a.opSeq - b.opSeq)) {
    if (current && entry.opSeq <= current.opSeq) continue;
    if (entry.op.type === "add" || entry.op.type === "update") shapes.set(entry.op.shape.id, entry.op.shape);
    else if (entry.op.type === "delete") for (const id of entry.op.shapeIds) shapes.delete(id);
    else shapes.clear();
  }
  return [...shapes.keys()].sort();
}

async function fetched(client: ChannelClient, surface: BoardSurface = BLANK_1): Promise<string[]> {
  const state = await client.ok<BoardSurfaceState>("board.fetch", { surface });
  return state.shapes.map((s) => s.shape.id).sort();
}

describe("the board", () => {
  it("the teacher shows a page and draws; students see it, and a late joiner's snapshot equals the live board", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const a = stroke();
    const b = stroke();
    const first = await teacherClient.ok<{ opSeq: number }>("board.op", { clientOpId: "op-1", surface: BLANK_1, op: { type: "add", shape: a } });
    const second = await teacherClient.ok<{ opSeq: number }>("board.op", { clientOpId: "op-2", surface: BLANK_1, op: { type: "add", shape: b } });
    expect(second.opSeq).toBeGreaterThan(first.opSeq);
    await student.until(() => shapesSeen(student).length === 2, "two strokes");

    const late = await ChannelClient.join(students[1]!, classId);
    expect(late.snapshot!.board.presenter?.surface).toEqual(BLANK_1);
    expect(late.snapshot!.board.current?.shapes.map((s) => s.shape)).toEqual([a, b]);
    expect(shapesSeen(late)).toEqual(shapesSeen(student));
  });

  it("a resent op (same client op id) is applied once and answered with the same opSeq", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const shape = stroke();
    const once = await op(teacherClient, "same", { type: "add", shape });
    const again = await op(teacherClient, "same", { type: "add", shape });
    expect(once).toMatchObject({ ok: true });
    expect(again).toEqual({ ...once, id: again.id });
    expect(await fetched(teacherClient)).toEqual([shape.id]);
  });

  it("points off the page, not numbers, or not in triples are refused with a reason, and nothing is drawn", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const bad: [unknown[], string][] = [
      [[0.1, 0.2, 0.5, 7, 0.3, 0.5], "Points are numbers between -1 and 2"],
      [[0.1, "0.2", 0.5], "Points are numbers between -1 and 2"],
      [[0.1, 0.2, 0.5, 0.3], "Points come in x, y, pressure triples"],
    ];
    for (const [points, reason] of bad) {
      const refused = await op(teacherClient, `bad-${points.length}-${reason.length}`, { type: "add", shape: { ...stroke(), points } as Shape });
      expect(refused).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
      expect((refused as { error: { message: string } }).error.message).toContain(reason);
      const ink = await teacherClient.request("board.ink", { strokeId: "bad-ink", surface: BLANK_1, type: "pen", color: "#000000", width: 0.003, points });
      expect(ink).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
    }
    expect(await fetched(teacherClient)).toEqual([]);
  });

  it("a student without the pen is refused and nothing changes; with the pen they draw, erase only their own, and lose it again", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const teachers = stroke();
    await op(teacherClient, "t1", { type: "add", shape: teachers });

    expect(await op(student, "x1", { type: "add", shape: stroke() })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN", message: "The teacher has not given you the pen" },
    });
    expect(
      await student.request("board.ink", { strokeId: "i1", surface: BLANK_1, type: "pen", color: "#000000", width: 0.003, points: [0.1, 0.1, 0.5] }),
    ).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await student.request("board.show", { surface: { kind: "blank", page: 2 } })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await fetched(teacherClient)).toEqual([teachers.id]);

    await teacherClient.ok("board.pen", { userId: students[0]!.id, allowed: true });
    const mine = stroke();
    await student.ok("board.op", { clientOpId: "s1", surface: BLANK_1, op: { type: "add", shape: mine } });
    await teacherClient.until(() => shapesSeen(teacherClient).includes(mine.id), "the student's stroke");
    expect(await op(student, "s2", { type: "delete", shapeIds: [teachers.id] })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await op(student, "s3", { type: "clear" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    // Only where the teacher is.
    expect(await op(student, "s4", { type: "add", shape: stroke() }, { kind: "blank", page: 2 })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    await teacherClient.ok("board.pen", { userId: students[0]!.id, allowed: false });
    expect(await op(student, "s5", { type: "add", shape: stroke() })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await fetched(teacherClient)).toEqual([mine.id, teachers.id].sort());
  });

  it("a stroke in progress reaches the others at once and is never stored", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const student = await ChannelClient.join(students[0]!, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    await teacherClient.ok("board.ink", {
      strokeId: "live",
      surface: BLANK_1,
      type: "pen",
      color: "#123456",
      width: 0.003,
      points: [0.1, 0.1, 0.5, 0.2, 0.2, 0.5],
    });
    await student.until(() => student.notifications.some((n) => n.notification === "board.ink"), "ink");
    const ink = student.notifications.find((n) => n.notification === "board.ink");
    expect(ink).toMatchObject({ data: { userId: teacher.id, ink: { strokeId: "live", points: [0.1, 0.1, 0.5, 0.2, 0.2, 0.5] } } });
    expect(await fetched(student)).toEqual([]);
  });

  it("three writers with reconnects and resends converge on one board, and eviction in the middle loses no op", async () => {
    const { classId, teacher, students } = await createLiveClass(2);
    let teacherClient = await ChannelClient.join(teacher, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const writers = [teacherClient, await ChannelClient.join(students[0]!, classId), await ChannelClient.join(students[1]!, classId)];
    for (const s of students) await teacherClient.ok("board.pen", { userId: s.id, allowed: true });
    const users = [teacher, students[0]!, students[1]!];
    const expected = new Set<string>();

    for (let round = 0; round < 6; round += 1) {
      await Promise.all(
        writers.map(async (writer, w) => {
          const shape = stroke(`w${w}-r${round}`, 0.1 * w);
          await writer.ok("board.op", { clientOpId: `w${w}-add-${round}`, surface: BLANK_1, op: { type: "add", shape } });
          expected.add(shape.id);
          if (round % 3 === 2) {
            await writer.ok("board.op", { clientOpId: `w${w}-del-${round}`, surface: BLANK_1, op: { type: "delete", shapeIds: [`w${w}-r${round - 1}`] } });
            expected.delete(`w${w}-r${round - 1}`);
          }
        }),
      );
      if (round === 2) {
        // Everyone drops and comes back; the last op of each is sent again, as a client does for unanswered ops.
        for (const writer of writers) writer.close();
        await evictDurableObject(env.CLASSROOM.get(env.CLASSROOM.idFromName(classId)));
        for (let w = 0; w < writers.length; w += 1) writers[w] = await ChannelClient.join(users[w]!, classId);
        teacherClient = writers[0]!;
        for (let w = 0; w < writers.length; w += 1) {
          await writers[w]!.ok("board.op", {
            clientOpId: `w${w}-add-${round}`,
            surface: BLANK_1,
            op: { type: "add", shape: stroke(`w${w}-r${round}`, 0.1 * w) },
          });
        }
      }
    }
    const truth = [...expected].sort();
    for (const writer of writers) {
      await writer.until(() => shapesSeen(writer).join() === truth.join(), "the same board");
      expect(await fetched(writer)).toEqual(truth);
    }
  });

  it("a deck page is shown only for a deck of this class and within its pages", async () => {
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const uploadId = crypto.randomUUID();
    const deckId = crypto.randomUUID();
    await db.insert(mediaUploads).values({
      id: uploadId,
      ownerId: teacher.id,
      classId,
      kind: "pdf",
      contentType: "application/pdf",
      fileName: "d.pdf",
      storageKey: `k/${uploadId}`,
      sizeBytes: 10,
      createdAt: Date.now(),
    });
    await db.insert(slideDecks).values({ id: deckId, classId, uploadId, title: "Deck", pageCount: 3, createdAt: Date.now() });
    expect(await teacherClient.request("board.show", { surface: { kind: "deck", deckId, page: 3 } })).toMatchObject({ ok: true });
    expect(await teacherClient.request("board.show", { surface: { kind: "deck", deckId, page: 4 } })).toMatchObject({
      ok: false,
      error: { code: "INVALID_MESSAGE", message: "The deck has 3 pages" },
    });
    expect(await teacherClient.request("board.show", { surface: { kind: "deck", deckId: "nope", page: 1 } })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await teacherClient.request("board.show", { surface: { kind: "blank", page: 2 } })).toMatchObject({ ok: false, error: { code: "INVALID_MESSAGE" } });
  });
});

describe("the board after class", () => {
  it("every accepted op reaches D1, and the class page's read-only board shows what was drawn (members only)", async () => {
    const { classId, teacher, students } = await createLiveClass(1);
    const teacherClient = await ChannelClient.join(teacher, classId);
    await teacherClient.ok("board.show", { surface: BLANK_1 });
    const kept = stroke();
    const erased = stroke();
    await teacherClient.ok("board.op", { clientOpId: "a", surface: BLANK_1, op: { type: "add", shape: kept } });
    await teacherClient.ok("board.op", { clientOpId: "b", surface: BLANK_1, op: { type: "add", shape: erased } });
    await teacherClient.ok("board.op", { clientOpId: "c", surface: BLANK_1, op: { type: "delete", shapeIds: [erased.id] } });
    await teacherClient.ok("board.op", { clientOpId: "d", surface: { kind: "screen" }, op: { type: "add", shape: stroke() } });
    await teacherClient.ok("session.end", {});
    await eventually(async () => {
      const board = await (await api(`/api/classes/${classId}/board`, { as: students[0]! })).json<ClassBoardResponse>();
      expect(board.surfaces).toEqual([{ surface: "blank:1", shapes: [kept] }]);
    });
    expect((await api(`/api/classes/${classId}/board`, { as: await createUser("student") })).status).toBe(404);
  });
});
