import * as v from "valibot";
import {
  AttendanceSessionsResponseSchema,
  ClassAttendanceResponseSchema,
  SessionAttendanceResponseSchema,
  type AttendanceSession,
  type ClassAttendanceResponse,
  type SessionAttendanceResponse,
} from "../../../schema/api/attendance";
import { api, ApiError } from "../api";

/** The reply checked against its schema: a reply of another shape is shown as an error, never half-drawn. */
function checked<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body);
  if (!result.success)
    throw new ApiError("INTERNAL", "The attendance report came back in a form this page does not understand. Reload the page and try again.", 200);
  return result.output;
}

export async function fetchSessions(classId: string): Promise<AttendanceSession[]> {
  return checked(AttendanceSessionsResponseSchema, await api<unknown>(`/api/classes/${encodeURIComponent(classId)}/sessions`)).sessions;
}

export async function fetchSessionReport(classId: string, sessionId: string): Promise<SessionAttendanceResponse> {
  return checked(
    SessionAttendanceResponseSchema,
    await api<unknown>(`/api/classes/${encodeURIComponent(classId)}/sessions/${encodeURIComponent(sessionId)}/attendance`),
  );
}

export async function fetchClassAttendance(classId: string): Promise<ClassAttendanceResponse> {
  return checked(ClassAttendanceResponseSchema, await api<unknown>(`/api/classes/${encodeURIComponent(classId)}/attendance`));
}

/** Where "Download CSV" points: the browser downloads it with the session cookie (same origin). */
export function csvUrl(classId: string, sessionId: string): string {
  return `/api/classes/${encodeURIComponent(classId)}/sessions/${encodeURIComponent(sessionId)}/attendance.csv`;
}
