import { and, asc, count, countDistinct, desc, eq, isNull } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type {
  AttendanceLine,
  AttendanceSession,
  ClassAttendanceResponse,
  LEAVE_REASONS,
  SessionAttendanceResponse,
  StudentAttendance,
} from "../../schema/api/attendance";
import { ATTENDANCE_CSV_HEADERS } from "../../schema/api/attendance";
import { attendance, chatMessages, type ClassRow, enrollments, liveSessions, polls, pollVotes, sessionEngagement, type User, users } from "../../schema/db";
import { utcToZonedLocal } from "../../schema/time-zone";
import type { Db } from "../db";
import { ApiError } from "../errors";
import { csvText, groupBy, type Interval, mergeIntervals, peakPresent, presenceSeries, totalMs } from "./attendance-math";
import { canManageClass } from "./permissions";

type LiveSessionRow = typeof liveSessions.$inferSelect;
type LeaveReason = (typeof LEAVE_REASONS)[number];
type ClassRole = AttendanceLine["role"];

/** Who sees what of a class's attendance: its teacher and admins everyone's, its enrolled students their own. */
export type AttendanceAudience = "everyone" | "own";

/** The viewer's audience, or FORBIDDEN for someone who neither manages nor takes the class. */
export function attendanceAudience(viewer: User, cls: ClassRow, enrolled: boolean): AttendanceAudience {
  if (canManageClass(viewer, cls)) return "everyone";
  if (enrolled) return "own";
  throw new ApiError("FORBIDDEN", "Only this class's teacher, an admin or its students see its attendance");
}

/** The class's live sessions, newest first, each with how many different people were in it. */
export async function listSessions(db: Db, classId: string, page: { limit: number; offset: number }): Promise<AttendanceSession[]> {
  return db
    .select({
      id: liveSessions.id,
      startedAt: liveSessions.startedAt,
      endedAt: liveSessions.endedAt,
      present: countDistinct(attendance.userId),
    })
    .from(liveSessions)
    .leftJoin(attendance, eq(attendance.sessionId, liveSessions.id))
    .where(eq(liveSessions.classId, classId))
    .groupBy(liveSessions.id)
    .orderBy(desc(liveSessions.startedAt), asc(liveSessions.id))
    .limit(page.limit)
    .offset(page.offset);
}

/** A session of this class, or NOT_FOUND (a session of another class is not revealed). */
export async function loadSession(db: Db, classId: string, sessionId: string): Promise<LiveSessionRow> {
  const row = await db.query.liveSessions.findFirst({ where: and(eq(liveSessions.id, sessionId), eq(liveSessions.classId, classId)) });
  if (!row) throw new ApiError("NOT_FOUND", "No such session in this class");
  return row;
}

/** The role the class channel gives `user` in `cls` (worker/routes/join.ts decides the same way). */
function classRole(cls: ClassRow, userId: string, accountRole: User["role"]): ClassRole {
  if (userId === cls.teacherId) return "teacher";
  return accountRole === "admin" ? "admin" : "student";
}

const ROLE_ORDER: Record<ClassRole, number> = { teacher: 0, admin: 1, student: 2 };

/** Everything one session's report is made of, for the JSON and the CSV alike. */
interface SessionFigures {
  end: number;
  lines: AttendanceLine[];
  /** Each line's merged stretches, in the order of `lines`. */
  stretches: Interval[][];
}

async function sessionFigures(db: Db, cls: ClassRow, session: LiveSessionRow, onlyUserId: string | null, now: number): Promise<SessionFigures> {
  const end = Math.max(session.startedAt, session.endedAt ?? now);
  const forUser = (column: SQLiteColumn) => (onlyUserId === null ? undefined : eq(column, onlyUserId));
  const [rows, chats, answers, engagement] = await Promise.all([
    db
      .select({
        userId: attendance.userId,
        joinedAt: attendance.joinedAt,
        leftAt: attendance.leftAt,
        leaveReason: attendance.leaveReason,
        displayName: users.displayName,
        accountRole: users.role,
      })
      .from(attendance)
      .innerJoin(users, eq(users.id, attendance.userId))
      .where(and(eq(attendance.sessionId, session.id), forUser(attendance.userId))),
    db
      .select({ userId: chatMessages.userId, n: count() })
      .from(chatMessages)
      .where(and(eq(chatMessages.sessionId, session.id), isNull(chatMessages.deletedAt), forUser(chatMessages.userId)))
      .groupBy(chatMessages.userId),
    db
      .select({ userId: pollVotes.userId, n: countDistinct(pollVotes.pollId) })
      .from(pollVotes)
      .innerJoin(polls, eq(polls.id, pollVotes.pollId))
      .where(and(eq(polls.sessionId, session.id), forUser(pollVotes.userId)))
      .groupBy(pollVotes.userId),
    db
      .select({
        userId: sessionEngagement.userId,
        handsRaised: sessionEngagement.handsRaised,
        reactions: sessionEngagement.reactions,
        stageMs: sessionEngagement.stageMs,
        stageSince: sessionEngagement.stageSince,
      })
      .from(sessionEngagement)
      .where(and(eq(sessionEngagement.sessionId, session.id), forUser(sessionEngagement.userId))),
  ]);
  const chatBy = new Map(chats.map((r) => [r.userId, r.n]));
  const engagementBy = new Map(engagement.map((r) => [r.userId, r]));
  const answersBy = new Map(answers.map((r) => [r.userId, r.n]));
  const byUser = groupBy(rows, (row) => row.userId);
  const duration = end - session.startedAt;

  const entries = [...byUser.values()].map((userRows) => {
    const first = userRows[0]!;
    const stretches = mergeIntervals(userRows, session.startedAt, end);
    const presentMs = totalMs(stretches);
    // A row still open in an ended session (the object never closed it) ended with the session.
    const stillIn = session.endedAt === null && userRows.some((r) => r.leftAt === null);
    const lastRow = userRows.reduce((latest, row) => ((row.leftAt ?? end) >= (latest.leftAt ?? end) ? row : latest));
    const engaged = engagementBy.get(first.userId);
    const line: AttendanceLine = {
      userId: first.userId,
      displayName: first.displayName,
      role: classRole(cls, first.userId, first.accountRole),
      firstJoinAt: Math.min(...userRows.map((r) => r.joinedAt)),
      lastLeaveAt: stillIn ? null : Math.max(...userRows.map((r) => r.leftAt ?? end)),
      lastLeaveReason: stillIn ? null : lastRow.leftAt === null ? "ended" : toLeaveReason(lastRow.leaveReason),
      presentMs,
      share: duration > 0 ? Math.min(1, presentMs / duration) : 0,
      joins: stretches.length,
      chatMessages: chatBy.get(first.userId) ?? 0,
      pollAnswers: answersBy.get(first.userId) ?? 0,
      handsRaised: engaged?.handsRaised ?? 0,
      reactions: engaged?.reactions ?? 0,
      stageMs: engaged ? stageTime(engaged, session.startedAt, end) : 0,
    };
    return { line, stretches };
  });
  entries.sort(
    (a, b) =>
      ROLE_ORDER[a.line.role] - ROLE_ORDER[b.line.role] || a.line.displayName.localeCompare(b.line.displayName) || a.line.userId.localeCompare(b.line.userId),
  );
  return { end, lines: entries.map((e) => e.line), stretches: entries.map((e) => e.stretches) };
}

/** Time on stage: the closed stretches, plus one still open (D1 `stage_since`) counted up to `end` (now, or the session's end). */
function stageTime(row: { stageMs: number; stageSince: number | null }, start: number, end: number): number {
  return row.stageMs + (row.stageSince === null ? 0 : Math.max(0, end - Math.max(start, row.stageSince)));
}

function toLeaveReason(reason: string | null): LeaveReason | null {
  const known: readonly string[] = ["left", "kicked", "blocked", "ended", "timeout"] satisfies LeaveReason[];
  return reason !== null && known.includes(reason) ? (reason as LeaveReason) : null;
}

function sessionView(session: LiveSessionRow, present: number): AttendanceSession {
  return { id: session.id, startedAt: session.startedAt, endedAt: session.endedAt, present };
}

/** One session's report for `audience` (a student's holds their own line only, and no totals). */
export async function sessionReport(
  db: Db,
  cls: ClassRow,
  session: LiveSessionRow,
  viewer: User,
  audience: AttendanceAudience,
  now: number,
): Promise<SessionAttendanceResponse> {
  if (audience === "own") {
    const [figures, [everyone]] = await Promise.all([
      sessionFigures(db, cls, session, viewer.id, now),
      db
        .select({ n: countDistinct(attendance.userId) })
        .from(attendance)
        .where(eq(attendance.sessionId, session.id)),
    ]);
    return { scope: "own", session: sessionView(session, everyone?.n ?? 0), durationMs: figures.end - session.startedAt, lines: figures.lines };
  }
  const { end, lines, stretches } = await sessionFigures(db, cls, session, null, now);
  const students = lines.filter((line) => line.role === "student");
  return {
    scope: "everyone",
    session: sessionView(session, lines.length),
    durationMs: end - session.startedAt,
    lines,
    totals: {
      participants: lines.length,
      students: students.length,
      peakPresent: peakPresent(stretches),
      averageStudentPresentMs: students.length === 0 ? 0 : Math.round(students.reduce((sum, line) => sum + line.presentMs, 0) / students.length),
      chatMessages: lines.reduce((sum, line) => sum + line.chatMessages, 0),
      pollAnswers: lines.reduce((sum, line) => sum + line.pollAnswers, 0),
      handsRaised: lines.reduce((sum, line) => sum + line.handsRaised, 0),
      reactions: lines.reduce((sum, line) => sum + line.reactions, 0),
      stageMs: lines.reduce((sum, line) => sum + line.stageMs, 0),
    },
    presence: presenceSeries(stretches, session.startedAt, end),
  };
}

const ROLE_WORDS: Record<ClassRole, string> = { teacher: "Teacher", admin: "Admin", student: "Student" };
const LEAVE_WORDS: Record<LeaveReason, string> = {
  left: "Left",
  kicked: "Removed by the teacher",
  blocked: "Blocked",
  ended: "Session ended",
  timeout: "Connection lost",
};

/** `YYYY-MM-DD HH:mm:ss` in `timeZone`: a form every spreadsheet app reads as a date and time. */
function spreadsheetTime(ms: number, timeZone: string): string {
  const t = utcToZonedLocal(ms, timeZone);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`;
}

/** The CSV export of one session's report (the lines the viewer may see), with times in the viewer's zone. */
export async function sessionCsv(db: Db, cls: ClassRow, session: LiveSessionRow, viewer: User, audience: AttendanceAudience, now: number) {
  const { lines } = await sessionFigures(db, cls, session, audience === "own" ? viewer.id : null, now);
  const zone = viewer.timezone;
  const header = ATTENDANCE_CSV_HEADERS.map((name) => (name === "First join" || name === "Last leave" ? `${name} (${zone})` : name));
  const rows = lines.map((line) => [
    line.displayName,
    ROLE_WORDS[line.role],
    spreadsheetTime(line.firstJoinAt, zone),
    line.lastLeaveAt === null ? "" : spreadsheetTime(line.lastLeaveAt, zone),
    Math.round(line.presentMs / 6_000) / 10,
    Math.round(line.share * 100),
    line.joins,
    line.chatMessages,
    line.pollAnswers,
    line.lastLeaveReason === null ? "Still in the class" : LEAVE_WORDS[line.lastLeaveReason],
    line.handsRaised,
    line.reactions,
    Math.round(line.stageMs / 6_000) / 10,
  ]);
  const day = spreadsheetTime(session.startedAt, zone).slice(0, 10);
  return { text: csvText([header, ...rows]), fileName: `attendance-${cls.title}-${day}` };
}

/**
 * Each student's attendance across the class's sessions: everyone enrolled (also those who never came) and
 * everyone who attended as a student (also those who left the class since).
 */
export async function classAttendance(db: Db, cls: ClassRow, now: number): Promise<ClassAttendanceResponse> {
  const [sessions, rows, enrolled] = await Promise.all([
    db.select().from(liveSessions).where(eq(liveSessions.classId, cls.id)),
    db
      .select({
        sessionId: attendance.sessionId,
        userId: attendance.userId,
        joinedAt: attendance.joinedAt,
        leftAt: attendance.leftAt,
        displayName: users.displayName,
        accountRole: users.role,
      })
      .from(attendance)
      .innerJoin(liveSessions, eq(liveSessions.id, attendance.sessionId))
      .innerJoin(users, eq(users.id, attendance.userId))
      .where(eq(liveSessions.classId, cls.id)),
    db
      .select({ userId: users.id, displayName: users.displayName })
      .from(enrollments)
      .innerJoin(users, eq(users.id, enrollments.userId))
      .where(eq(enrollments.classId, cls.id)),
  ]);
  const sessionById = new Map(sessions.map((s) => [s.id, s]));
  const students = new Map<string, StudentAttendance>();
  for (const person of enrolled) {
    students.set(person.userId, {
      userId: person.userId,
      displayName: person.displayName,
      enrolled: true,
      sessionsAttended: 0,
      totalPresentMs: 0,
      lastAttendedAt: null,
    });
  }
  for (const person of rows) {
    if (!students.has(person.userId) && classRole(cls, person.userId, person.accountRole) === "student") {
      students.set(person.userId, {
        userId: person.userId,
        displayName: person.displayName,
        enrolled: false,
        sessionsAttended: 0,
        totalPresentMs: 0,
        lastAttendedAt: null,
      });
    }
  }
  const byUserAndSession = groupBy(rows, (row) => `${row.userId} ${row.sessionId}`);
  for (const userRows of byUserAndSession.values()) {
    const student = students.get(userRows[0]!.userId);
    const session = sessionById.get(userRows[0]!.sessionId)!;
    if (!student) continue;
    student.sessionsAttended += 1;
    student.totalPresentMs += totalMs(mergeIntervals(userRows, session.startedAt, Math.max(session.startedAt, session.endedAt ?? now)));
    student.lastAttendedAt = Math.max(student.lastAttendedAt ?? 0, session.startedAt);
  }
  const list = [...students.values()].sort(
    (a, b) =>
      a.sessionsAttended - b.sessionsAttended ||
      a.totalPresentMs - b.totalPresentMs ||
      a.displayName.localeCompare(b.displayName) ||
      a.userId.localeCompare(b.userId),
  );
  return { sessionsHeld: sessions.length, students: list };
}
