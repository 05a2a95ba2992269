/**
 * The attendance and engagement report of a class (issue "After class"): its live sessions, who was present in
 * one of them and for how long, what they did (chat, polls), and each student's attendance across the class.
 *
 * The Worker validates every response with these schemas before it leaves (worker/routes/attendance.ts) and the
 * web app parses them again on arrival, so both sides hold the same shape. Times are UTC milliseconds.
 *
 * Hands raised, reactions and time on stage are counted by the class object while the session runs and kept in
 * D1 `session_engagement` (durable-objects/engagement.ts).
 */
import * as v from "valibot";
import { IdSchema, PagingEntries, ROLE_VALUES } from "./portal";

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const Millis = v.pipe(v.number(), v.integer(), v.minValue(0));
const Share = v.pipe(v.number(), v.minValue(0), v.maxValue(1));

/** `GET /api/classes/:id/sessions?limit&offset` (newest first; 100 a page unless asked, at most 200). */
export const SessionListQuerySchema = v.strictObject({ ...PagingEntries });

/** One live session of a class, as the list of sessions shows it. */
export const AttendanceSessionSchema = v.strictObject({
  id: IdSchema,
  startedAt: Millis,
  /** Null while the session is running. */
  endedAt: v.nullable(Millis),
  /** How many different people were in it at some point (teachers and admins included). */
  present: Count,
});
export type AttendanceSession = v.InferOutput<typeof AttendanceSessionSchema>;

export const AttendanceSessionsResponseSchema = v.strictObject({ sessions: v.array(AttendanceSessionSchema) });
export type AttendanceSessionsResponse = v.InferOutput<typeof AttendanceSessionsResponseSchema>;

/** Why someone's last stretch in the session ended (attendance.leave_reason); null while they are still in. */
export const LEAVE_REASONS = ["left", "kicked", "blocked", "ended", "timeout"] as const;

/** One person's line in a session's report. */
export const AttendanceLineSchema = v.strictObject({
  userId: IdSchema,
  displayName: v.string(),
  /** Their role in this class: its teacher, an admin, or a student. */
  role: v.picklist(ROLE_VALUES),
  firstJoinAt: Millis,
  /** Null while they are in the session now. */
  lastLeaveAt: v.nullable(Millis),
  lastLeaveReason: v.nullable(v.picklist(LEAVE_REASONS)),
  /** Time present: every stretch summed, overlapping stretches counted once, open ones up to now (or the session's end). */
  presentMs: Millis,
  /** presentMs over the session's length (0 … 1). */
  share: Share,
  /** How many times they came in (stretches that do not overlap an earlier one). */
  joins: Count,
  /** Chat messages they sent in the session that are still in the chat (not deleted). */
  chatMessages: Count,
  /** Polls of the session they answered. */
  pollAnswers: Count,
  /** Times they raised their hand (a hand lowered and raised again counts twice). */
  handsRaised: Count,
  /** Reactions (emoji) they sent. */
  reactions: Count,
  /** Time on stage (invited by the teacher); a stretch still open counts up to now (or the session's end). */
  stageMs: Millis,
});
export type AttendanceLine = v.InferOutput<typeof AttendanceLineSchema>;

/** How many people were present at one moment of the session. */
export const PresencePointSchema = v.strictObject({ at: Millis, present: Count });
export type PresencePoint = v.InferOutput<typeof PresencePointSchema>;

export const AttendanceTotalsSchema = v.strictObject({
  /** Different people who were present. */
  participants: Count,
  /** Of them, students. */
  students: Count,
  /** The most people present at once. */
  peakPresent: Count,
  /** The average time present of the students (0 when none came). */
  averageStudentPresentMs: Millis,
  chatMessages: Count,
  pollAnswers: Count,
  handsRaised: Count,
  reactions: Count,
  /** Everyone's time on stage added up. */
  stageMs: Millis,
});
export type AttendanceTotals = v.InferOutput<typeof AttendanceTotalsSchema>;

/**
 * One session's report. A teacher or admin gets `scope: "everyone"` with every line, the totals and the presence
 * over time; a student gets `scope: "own"`: only their own line (none when they did not attend), no totals.
 */
export const SessionAttendanceResponseSchema = v.variant("scope", [
  v.strictObject({
    scope: v.literal("everyone"),
    session: AttendanceSessionSchema,
    /** The session's length so far: up to its end, or up to now while it runs. */
    durationMs: Millis,
    lines: v.array(AttendanceLineSchema),
    totals: AttendanceTotalsSchema,
    /** One point per minute (longer steps for sessions over 12 hours), the first at the start, the last at the end. */
    presence: v.array(PresencePointSchema),
  }),
  v.strictObject({
    scope: v.literal("own"),
    session: AttendanceSessionSchema,
    durationMs: Millis,
    lines: v.pipe(v.array(AttendanceLineSchema), v.maxLength(1)),
  }),
]);
export type SessionAttendanceResponse = v.InferOutput<typeof SessionAttendanceResponseSchema>;

/** One student's attendance across the class's sessions. */
export const StudentAttendanceSchema = v.strictObject({
  userId: IdSchema,
  displayName: v.string(),
  /** Enrolled now (a student who attended and then left the class is still listed, with false). */
  enrolled: v.boolean(),
  sessionsAttended: Count,
  totalPresentMs: Millis,
  /** Start of the last session they attended; null when they attended none. */
  lastAttendedAt: v.nullable(Millis),
});
export type StudentAttendance = v.InferOutput<typeof StudentAttendanceSchema>;

/** The class overview: students who attended least first, so the ones who dropped out are at the top. */
export const ClassAttendanceResponseSchema = v.strictObject({
  sessionsHeld: Count,
  students: v.array(StudentAttendanceSchema),
});
export type ClassAttendanceResponse = v.InferOutput<typeof ClassAttendanceResponseSchema>;

/** The header row of the CSV export, in column order (README "Attendance report" documents each). */
export const ATTENDANCE_CSV_HEADERS = [
  "Name",
  "Role",
  "First join",
  "Last leave",
  "Minutes present",
  "Share of session (%)",
  "Times joined",
  "Chat messages",
  "Poll answers",
  "Last left because",
  "Hands raised",
  "Reactions",
  "Minutes on stage",
] as const;
