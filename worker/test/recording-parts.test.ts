/**
 * The parts of one live session's recording link to each other: a recording that went on across a media server
 * change (Part 1, Part 2) or a class recorded in stretches. `GET /api/recordings/:id` names the one before and the
 * one after. Real Worker and D1.
 */
import { describe, expect, it } from "vitest";
import type { RecordingResponse } from "../../schema/api/recordings";
import { liveSessions, recordings } from "../../schema/db";
import { api, db } from "./helpers";
import { portalFixture } from "./portal-fixture";

async function recordingOf(classId: string, sessionId: string | null, startedAt: number, title: string, status: "ready" | "failed" | "packaging" = "ready") {
  const id = crypto.randomUUID();
  await db
    .insert(recordings)
    .values({ id, classId, sessionId, title, status, startedAt, endedAt: startedAt + 60_000, durationMs: 60_000, createdAt: startedAt, updatedAt: startedAt });
  return id;
}

async function viewOf(id: string, as: NonNullable<Parameters<typeof api>[1]>["as"]): Promise<RecordingResponse> {
  const response = await api(`/api/recordings/${id}`, { as });
  expect(response.status).toBe(200);
  return response.json<RecordingResponse>();
}

describe("the recordings of one live session", () => {
  it("each name the one before and the one after, in the order they were recorded; other sessions are not theirs", async () => {
    const f = await portalFixture();
    const now = Date.now();
    const [session, other] = [crypto.randomUUID(), crypto.randomUUID()];
    await db.batch([
      db.insert(liveSessions).values({ id: session, classId: f.classId, startedAt: now - 3_600_000 }),
      db.insert(liveSessions).values({ id: other, classId: f.classId, startedAt: now - 7_200_000, endedAt: now - 3_700_000 }),
    ]);
    const earlier = await recordingOf(f.classId, other, now - 7_000_000, "Yesterday");
    const second = await recordingOf(f.classId, session, now - 1_000_000, "Algebra — Part 2", "packaging");
    const first = await recordingOf(f.classId, session, now - 2_000_000, "Algebra — Part 1");
    const third = await recordingOf(f.classId, session, now - 500_000, "");

    const one = await viewOf(first, f.enrolled);
    expect(one.neighbours).toEqual({
      previous: null,
      next: { id: second, title: "Algebra — Part 2", status: "packaging", startedAt: now - 1_000_000, durationMs: 60_000 },
    });
    const two = await viewOf(second, f.enrolled);
    expect([two.neighbours?.previous?.id, two.neighbours?.next?.id]).toEqual([first, third]);
    const three = await viewOf(third, f.teacher);
    expect(three.neighbours).toMatchObject({ previous: { id: second }, next: null });
    expect((await viewOf(earlier, f.enrolled)).neighbours).toEqual({ previous: null, next: null });
    // A recording from before sessions were recorded on the row stands alone.
    const loose = await recordingOf(f.classId, null, now - 400_000, "Loose");
    expect((await viewOf(loose, f.enrolled)).neighbours).toEqual({ previous: null, next: null });
    // Who may not watch the class's recordings learns nothing of them.
    expect((await api(`/api/recordings/${first}`, { as: f.bystander })).status).not.toBe(200);
  });
});
