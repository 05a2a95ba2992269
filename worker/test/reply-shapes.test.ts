/**
 * The browser parses every API reply with its schema from schema/api (web/src/api.ts): a reply the schema does
 * not describe would be an error on the user's screen. These check that the Worker's real replies are exactly
 * what the schemas say (parsing keeps every field and drops none), so the schemas stay the one description.
 */
import { describe, expect, it } from "vitest";
import * as v from "valibot";
import { AttendanceSessionsResponseSchema, ClassAttendanceResponseSchema } from "../../schema/api/attendance";
import { AdminUserListResponseSchema, UserResponseSchema } from "../../schema/api/auth";
import { ClassBoardResponseSchema } from "../../schema/api/board";
import { ClassMediaViewSchema } from "../../schema/api/class-media";
import { ClassFilesResponseSchema } from "../../schema/api/files";
import { ClassNotificationsResponseSchema, MyNotificationsResponseSchema } from "../../schema/api/notifications";
import {
  BlockListResponseSchema,
  BlockResponseSchema,
  CalendarFeedResponseSchema,
  CalendarResponseSchema,
  ClassListResponseSchema,
  ClassResponseSchema,
  EnrollByEmailResponseSchema,
  EnrollmentListResponseSchema,
  FeedbackResponseSchema,
  FeedbackSummarySchema,
  OccurrenceResponseSchema,
  OccurrencesResponseSchema,
} from "../../schema/api/portal";
import {
  RecordingCatalogResponseSchema,
  RecordingFeedbackResponseSchema,
  RecordingListResponseSchema,
  RecordingResponseSchema,
} from "../../schema/api/recordings";
import type { User } from "../../schema/db";
import { recordings } from "../../schema/db";
import { api, db } from "./helpers";
import { portalFixture } from "./portal-fixture";

const CDN = "http://127.0.0.1:8837/insp-live-recordings";

/** Calls the route and checks its reply against `schema`: it parses, and the parse dropped no field. */
async function expectReply(schema: v.GenericSchema, path: string, as: User, options: { method?: string; body?: unknown; status?: number } = {}) {
  const response = await api(path, { as, method: options.method, body: options.body });
  expect(response.status, `${options.method ?? "GET"} ${path}`).toBe(options.status ?? 200);
  const body: unknown = await response.json();
  const parsed = v.safeParse(schema, body);
  expect(parsed.issues?.map((issue) => `${issue.path?.map((p) => String(p.key)).join(".")}: ${issue.message}`) ?? [], path).toEqual([]);
  expect(parsed.output, `${path}: the reply has fields its schema does not name`).toEqual(body);
  return body;
}

describe("the Worker's replies match the schemas the browser checks them with", () => {
  it("classes, occurrences, enrollments, calendar, feedback and blocks", async () => {
    const f = await portalFixture();
    await expectReply(UserResponseSchema, "/api/me", f.enrolled);
    await expectReply(ClassListResponseSchema, "/api/classes?scope=all", f.enrolled);
    await expectReply(ClassResponseSchema, `/api/classes/${f.classId}`, f.enrolled);
    await expectReply(ClassResponseSchema, `/api/classes/${f.classId}`, f.teacher);
    await expectReply(EnrollmentListResponseSchema, `/api/classes/${f.classId}/enrollments`, f.teacher);
    await expectReply(EnrollByEmailResponseSchema, `/api/classes/${f.classId}/enrollments`, f.teacher, {
      method: "POST",
      body: { email: f.bystander.email },
      status: 201,
    });
    await expectReply(CalendarResponseSchema, `/api/calendar?from=${f.now - 86_400_000}&to=${f.now + 7 * 86_400_000}`, f.enrolled);
    await expectReply(CalendarFeedResponseSchema, "/api/me/calendar-feed", f.enrolled);
    await expectReply(FeedbackResponseSchema, `/api/classes/${f.classId}/feedback`, f.enrolled, { method: "PUT", body: { rating: 4, comment: "Clear" } });
    await expectReply(FeedbackSummarySchema, `/api/classes/${f.classId}/feedback`, f.teacher);
    await expectReply(BlockListResponseSchema, `/api/blocks?classId=${f.classId}`, f.teacher);
    await expectReply(BlockResponseSchema, "/api/blocks", f.teacher, {
      method: "POST",
      body: { userId: f.victim.id, classId: f.classId, reason: "noise" },
      status: 201,
    });
    await expectReply(AdminUserListResponseSchema, "/api/admin/users", f.admin);
    await expectReply(ClassMediaViewSchema, `/api/admin/classes/${f.classId}/media`, f.admin);

    const created = (await expectReply(ClassResponseSchema, "/api/classes", f.teacher, { method: "POST", body: { title: "Shapes" }, status: 201 })) as {
      class: { id: string };
    };
    const { occurrences } = (await expectReply(OccurrencesResponseSchema, `/api/classes/${created.class.id}/occurrences`, f.teacher, {
      method: "POST",
      body: { startsAt: f.now + 86_400_000, endsAt: f.now + 90_000_000, timezone: "UTC" },
      status: 201,
    })) as { occurrences: { id: string }[] };
    await expectReply(OccurrenceResponseSchema, `/api/occurrences/${occurrences[0]!.id}/cancel`, f.teacher, { method: "POST" });
  });

  it("recordings, notifications, files, board and attendance", async () => {
    const f = await portalFixture();
    const id = crypto.randomUUID();
    await db.insert(recordings).values({
      id,
      classId: f.classId,
      startedAt: f.now - 60_000,
      endedAt: f.now - 30_000,
      durationMs: 30_000,
      nodeId: "node-recorder",
      status: "ready",
      progress: 100,
      hlsManifestUrl: `${CDN}/${id}/hls/master.m3u8`,
      dashManifestUrl: `${CDN}/${id}/dash/manifest.mpd`,
      posterUrl: `${CDN}/${id}/poster.jpg`,
      thumbnailsVttUrl: `${CDN}/${id}/thumbnails.vtt`,
      createdAt: f.now,
      updatedAt: f.now,
    });
    await expectReply(RecordingListResponseSchema, `/api/classes/${f.classId}/recordings`, f.enrolled);
    await expectReply(RecordingCatalogResponseSchema, "/api/recordings", f.enrolled);
    await expectReply(RecordingResponseSchema, `/api/recordings/${id}`, f.teacher);
    await expectReply(RecordingFeedbackResponseSchema, `/api/recordings/${id}/feedback`, f.enrolled, { method: "PUT", body: { rating: 5 } });
    await expectReply(FeedbackSummarySchema, `/api/recordings/${id}/feedback`, f.teacher);
    await expectReply(MyNotificationsResponseSchema, "/api/me/notifications", f.enrolled);
    await expectReply(ClassNotificationsResponseSchema, `/api/classes/${f.classId}/notifications`, f.teacher);
    await expectReply(ClassFilesResponseSchema, `/api/classes/${f.classId}/files`, f.teacher);
    await expectReply(ClassBoardResponseSchema, `/api/classes/${f.classId}/board`, f.teacher);
    await expectReply(AttendanceSessionsResponseSchema, `/api/classes/${f.classId}/sessions`, f.teacher);
    await expectReply(ClassAttendanceResponseSchema, `/api/classes/${f.classId}/attendance`, f.teacher);
  });
});
