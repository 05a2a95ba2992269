import {
  AttendanceSessionsResponseSchema,
  ClassAttendanceResponseSchema,
  SessionAttendanceResponseSchema,
  type AttendanceSession,
  type ClassAttendanceResponse,
  type SessionAttendanceResponse,
} from "../../../schema/api/attendance";
import { api } from "../api";

export async function fetchSessions(classId: string): Promise<AttendanceSession[]> {
  return (await api(`/api/classes/${encodeURIComponent(classId)}/sessions`, AttendanceSessionsResponseSchema)).sessions;
}

export async function fetchSessionReport(classId: string, sessionId: string): Promise<SessionAttendanceResponse> {
  return api(`/api/classes/${encodeURIComponent(classId)}/sessions/${encodeURIComponent(sessionId)}/attendance`, SessionAttendanceResponseSchema);
}

export async function fetchClassAttendance(classId: string): Promise<ClassAttendanceResponse> {
  return api(`/api/classes/${encodeURIComponent(classId)}/attendance`, ClassAttendanceResponseSchema);
}

/** Where "Download CSV" points: the browser downloads it with the session cookie (same origin). */
export function csvUrl(classId: string, sessionId: string): string {
  return `/api/classes/${encodeURIComponent(classId)}/sessions/${encodeURIComponent(sessionId)}/attendance.csv`;
}
