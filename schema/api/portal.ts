/**
 * The portal's HTTP API shapes (classes, occurrences, calendar, enrollment, feedback, blocks, admin users):
 * valibot schemas for every request body, query string and response (the types are inferred from them).
 * Shared by the Worker (which parses every request with these) and the web app.
 *
 * Times are UTC milliseconds. Request bodies are strict: unknown fields are refused.
 */
import * as v from "valibot";

export const CLASS_KIND_VALUES = ["live", "recorded"] as const;
export const CLASS_STATUS_VALUES = ["active", "archived"] as const;
export const OCCURRENCE_STATUS_VALUES = ["scheduled", "cancelled"] as const;
export const ROLE_VALUES = ["student", "teacher", "admin"] as const;
export const CLASS_SCOPES = ["all", "teaching", "enrolled"] as const;

/** Limits shared by the Worker and the forms of the web app. */
export const LIMITS = {
  titleLength: 200,
  descriptionLength: 5000,
  reminderCount: 5,
  /** A reminder may go out at most 30 days before a class. */
  reminderMaxMinutes: 30 * 24 * 60,
  occurrenceMaxMinutes: 12 * 60,
  /**
   * A start this little in the past is "now", not a past session: "now" typed into a form is already a little past
   * by the time it is sent, and that is a teacher starting a class, not a mistyped date.
   */
  pastStartGraceMinutes: 5,
  seriesMaxCount: 100,
  seriesMaxInterval: 60,
  calendarMaxRangeDays: 366,
  feedbackCommentLength: 2000,
  blockReasonLength: 500,
  displayNameLength: 100,
  passwordMinLength: 8,
  passwordMaxLength: 200,
  searchLength: 100,
  /** Every list endpoint returns at most this many rows per request. */
  pageMax: 200,
} as const;

/** True when `timeZone` is an IANA zone this runtime knows (checked with Intl, no tz library). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The zone as the user chose it, with its case corrected ("europe/berlin" → "Europe/Berlin"). Intl resolves
 * links to the names ICU keeps (Asia/Kolkata → Asia/Calcutta, Europe/Kyiv → Europe/Kiev); a user who chose the
 * current name keeps it.
 */
export function chosenTimeZone(timeZone: string): string {
  const resolved = new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
  if (resolved.toLowerCase() === timeZone.toLowerCase()) return resolved;
  // A link name: ICU knows it only by its target, so its case is corrected by rule ("asia/kolkata").
  if (timeZone !== timeZone.toLowerCase()) return timeZone;
  return timeZone.replace(/(^|[/_-])([a-z])/g, (_match, separator: string, letter: string) => separator + letter.toUpperCase());
}

/** An IANA time zone name, as chosen, with its case corrected (see {@link chosenTimeZone}). */
export const TimeZoneSchema = v.pipe(
  v.string(),
  v.maxLength(64, "Time zone name is too long"),
  v.check(isValidTimeZone, "Unknown IANA time zone"),
  v.transform(chosenTimeZone),
);

/** The last millisecond of year 9999 (UTC): four-digit years are what ISO 8601, ICS and the forms can carry. */
export const MAX_TIMESTAMP = 253_402_300_799_999;

/** UTC milliseconds between 1970 and the end of year 9999; every stored occurrence time, single or expanded from a series, stays inside. */
export const TimestampSchema = v.pipe(v.number(), v.integer("Expected whole milliseconds"), v.minValue(0), v.maxValue(MAX_TIMESTAMP));

/** An opaque row id (random UUIDs in practice). */
export const IdSchema = v.pipe(v.string(), v.minLength(1, "Id is empty"), v.maxLength(64, "Id is too long"));

export const EmailSchema = v.pipe(v.string(), v.trim(), v.maxLength(254, "E-mail address is too long"), v.email("Not an e-mail address"));

// Messages are shown to the person who filled in the form, next to the field: they say what to do, in their words.
const TitleSchema = v.pipe(
  v.string("Give the class a title."),
  v.trim(),
  v.minLength(1, "Give the class a title."),
  v.maxLength(LIMITS.titleLength, `Keep the title to ${LIMITS.titleLength} characters or fewer.`),
);
const DescriptionSchema = v.pipe(v.string(), v.maxLength(LIMITS.descriptionLength, `Keep the description to ${LIMITS.descriptionLength} characters or fewer.`));
const ReminderMinutesSchema = v.pipe(
  v.array(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1, "A reminder goes out at least a minute before the class."),
      v.maxValue(LIMITS.reminderMaxMinutes, "A reminder goes out at most 30 days before the class."),
    ),
  ),
  v.maxLength(LIMITS.reminderCount, `Pick up to ${LIMITS.reminderCount} reminders.`),
  v.check((list) => new Set(list).size === list.length, "Pick each reminder time once."),
  v.transform((list) => [...list].sort((a, b) => b - a)),
);

/** Query string digits → a number (query values are always strings). */
function queryInteger(min: number, max: number) {
  return v.pipe(v.string(), v.regex(/^\d{1,16}$/, "Expected a whole number"), v.transform(Number), v.minValue(min), v.maxValue(max));
}

/** `limit` and `offset` of every list endpoint's query string. */
export const PagingEntries = {
  limit: v.optional(queryInteger(1, LIMITS.pageMax)),
  offset: v.optional(queryInteger(0, 1_000_000)),
};

// ─── classes ────────────────────────────────────────────────────────────────────────────────────────────────

export const ClassListQuerySchema = v.strictObject({ scope: v.optional(v.picklist(CLASS_SCOPES)), ...PagingEntries });
export type ClassListQuery = v.InferOutput<typeof ClassListQuerySchema>;

export const ClassCreateSchema = v.strictObject({
  title: TitleSchema,
  description: v.optional(DescriptionSchema),
  kind: v.optional(v.picklist(CLASS_KIND_VALUES)),
  reminderMinutes: v.optional(ReminderMinutesSchema),
  /** Admins only: who teaches it (a teacher or admin). Teachers always create for themselves. */
  teacherId: v.optional(IdSchema),
});
export type ClassCreate = v.InferOutput<typeof ClassCreateSchema>;

export const ClassUpdateSchema = v.strictObject({
  title: v.optional(TitleSchema),
  description: v.optional(DescriptionSchema),
  kind: v.optional(v.picklist(CLASS_KIND_VALUES)),
  status: v.optional(v.picklist(CLASS_STATUS_VALUES)),
  reminderMinutes: v.optional(ReminderMinutesSchema),
  /** Whether enrolled students may download the class's recordings (its teacher and admins always may). */
  recordingDownloads: v.optional(v.boolean("Say yes or no (true or false)")),
});
export type ClassUpdate = v.InferOutput<typeof ClassUpdateSchema>;

// ─── occurrences ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Set to create an occurrence that starts in the past (a session held without being scheduled, entered
 * afterwards). Without it such a start is refused, since it is far more often a mistyped date.
 */
const AllowPastEntry = { allowPast: v.optional(v.boolean()) };

/** One occurrence at fixed UTC times; `timezone` is what the teacher scheduled it in. */
export const OccurrenceSingleCreateSchema = v.strictObject({ startsAt: TimestampSchema, endsAt: TimestampSchema, timezone: TimeZoneSchema, ...AllowPastEntry });

/** `YYYY-MM-DDTHH:mm`, a local wall-clock time. */
export const LocalDateTimeSchema = v.pipe(
  v.string(),
  v.regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d$/, "Choose a date and a time."),
  v.check((text) => {
    const [year, month, day] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
    return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  }, "That date does not exist in the calendar."),
);

/** A session's length; the forms check a single session's duration with it too, for the same words. */
export const DurationMinutesSchema = v.pipe(
  v.number("Give the duration in minutes."),
  v.integer("Give the duration in whole minutes."),
  v.minValue(1, "A session lasts at least one minute."),
  v.maxValue(LIMITS.occurrenceMaxMinutes, "A session lasts at most 12 hours (720 minutes)."),
);

/** `YYYY-MM-DD`, a local calendar date. */
export const LocalDateSchema = v.pipe(
  v.string("Choose a date."),
  v.regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, "Choose a date."),
  v.check((text) => {
    const [year, month, day] = text.split("-").map(Number) as [number, number, number];
    return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  }, "That date does not exist in the calendar."),
);

/** `HH:mm`, a local time of day. */
export const LocalTimeSchema = v.pipe(v.string("Choose a time."), v.regex(/^([01]\d|2[0-3]):[0-5]\d$/, "Choose a time."));

/**
 * A recurrence expanded into occurrences at once. Every occurrence keeps the local wall-clock time of
 * `firstStartLocal` in `timezone`, across DST changes. Weekly series run on `weekdays` (1 = Mon … 7 = Sun;
 * default: the weekday of the first date) every `interval` weeks. It ends after `count` occurrences or on the
 * local date `until` (included), exactly one of the two; either way at most LIMITS.seriesMaxCount occurrences.
 */
export const SeriesSchema = v.pipe(
  v.strictObject({
    firstStartLocal: LocalDateTimeSchema,
    durationMinutes: DurationMinutesSchema,
    timezone: TimeZoneSchema,
    frequency: v.picklist(["daily", "weekly"]),
    interval: v.optional(
      v.pipe(
        v.number("Say how often it repeats."),
        v.integer("Use a whole number."),
        v.minValue(1, "Repeat at least every 1."),
        v.maxValue(LIMITS.seriesMaxInterval, `Repeat at most every ${LIMITS.seriesMaxInterval}.`),
      ),
    ),
    weekdays: v.optional(
      v.pipe(
        v.array(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7))),
        v.minLength(1, "Pick at least one weekday."),
        v.maxLength(7),
        v.check((list) => new Set(list).size === list.length, "Pick each weekday once."),
      ),
    ),
    count: v.optional(
      v.pipe(
        v.number("Say how many sessions."),
        v.integer("Use a whole number of sessions."),
        v.minValue(1, "A series has at least one session."),
        v.maxValue(LIMITS.seriesMaxCount, `A series has at most ${LIMITS.seriesMaxCount} sessions; add another series for more.`),
      ),
    ),
    until: v.optional(LocalDateSchema),
  }),
  v.check((series) => series.frequency === "weekly" || series.weekdays === undefined, "weekdays apply to weekly series only"),
  v.forward(
    v.check((series) => (series.count === undefined) !== (series.until === undefined), "Choose how the series ends: after a number of sessions, or on a date."),
    ["count"],
  ),
);
export type Series = v.InferOutput<typeof SeriesSchema>;

export const OccurrenceSeriesCreateSchema = v.strictObject({ series: SeriesSchema, ...AllowPastEntry });

/** POST /api/classes/:id/occurrences: a single occurrence or a series. */
export const OccurrenceCreateSchema = v.union(
  [OccurrenceSingleCreateSchema, OccurrenceSeriesCreateSchema],
  "Expected {startsAt, endsAt, timezone} or {series: {…}}",
);
export type OccurrenceCreate = v.InferOutput<typeof OccurrenceCreateSchema>;

export const OccurrenceMoveSchema = v.strictObject({ startsAt: TimestampSchema, endsAt: TimestampSchema });
export type OccurrenceMove = v.InferOutput<typeof OccurrenceMoveSchema>;

/**
 * PATCH /api/series/:id: a new time of day and/or duration for every session of the series that has not started
 * yet, each keeping its date (in the series' time zone).
 */
export const SeriesMoveSchema = v.pipe(
  v.strictObject({ startTime: v.optional(LocalTimeSchema), durationMinutes: v.optional(DurationMinutesSchema) }),
  v.check((body) => body.startTime !== undefined || body.durationMinutes !== undefined, "Give a new start time, a new duration, or both."),
);
export type SeriesMove = v.InferOutput<typeof SeriesMoveSchema>;

// ─── calendar ───────────────────────────────────────────────────────────────────────────────────────────────

/** GET /api/calendar: events overlapping [from, to), a range of at most 366 days. */
export const CalendarQuerySchema = v.strictObject({
  from: queryInteger(0, 253_402_300_799_999),
  to: queryInteger(0, 253_402_300_799_999),
  limit: v.optional(queryInteger(1, LIMITS.pageMax)),
});
export type CalendarQuery = v.InferOutput<typeof CalendarQuerySchema>;

// ─── enrollment ─────────────────────────────────────────────────────────────────────────────────────────────

export const EnrollByEmailSchema = v.strictObject({ email: EmailSchema });
export type EnrollByEmail = v.InferOutput<typeof EnrollByEmailSchema>;

export const EnrollmentListQuerySchema = v.strictObject({ ...PagingEntries });

// ─── feedback ───────────────────────────────────────────────────────────────────────────────────────────────

export const FeedbackPutSchema = v.strictObject({
  rating: v.pipe(v.number(), v.integer("Rating is a whole number"), v.minValue(1), v.maxValue(5)),
  comment: v.optional(v.pipe(v.string(), v.maxLength(LIMITS.feedbackCommentLength, `Comment is longer than ${LIMITS.feedbackCommentLength} characters`))),
});
export type FeedbackPut = v.InferOutput<typeof FeedbackPutSchema>;

// ─── blocks ─────────────────────────────────────────────────────────────────────────────────────────────────

export const BlockListQuerySchema = v.strictObject({ classId: v.optional(IdSchema), ...PagingEntries });

export const BlockCreateSchema = v.strictObject({
  userId: IdSchema,
  /** Omit for a global block (admins only). */
  classId: v.optional(IdSchema),
  reason: v.pipe(v.string(), v.trim(), v.minLength(1, "Give a reason"), v.maxLength(LIMITS.blockReasonLength)),
  /** Omit for a block until lifted. */
  expiresAt: v.optional(TimestampSchema),
});
export type BlockCreate = v.InferOutput<typeof BlockCreateSchema>;

// ─── admin users ────────────────────────────────────────────────────────────────────────────────────────────

export const AdminUserListQuerySchema = v.strictObject({
  /** Matches e-mail or display name, case-insensitively. */
  q: v.optional(v.pipe(v.string(), v.maxLength(LIMITS.searchLength))),
  role: v.optional(v.picklist(ROLE_VALUES)),
  ...PagingEntries,
});
export type AdminUserListQuery = v.InferOutput<typeof AdminUserListQuerySchema>;

export const AdminUserPatchSchema = v.strictObject({ role: v.picklist(ROLE_VALUES) });

export const AdminUserCreateSchema = v.strictObject({
  email: EmailSchema,
  displayName: v.pipe(v.string(), v.trim(), v.minLength(1, "Display name is empty"), v.maxLength(LIMITS.displayNameLength)),
  role: v.picklist(ROLE_VALUES),
  password: v.pipe(
    v.string(),
    v.minLength(LIMITS.passwordMinLength, `Password needs at least ${LIMITS.passwordMinLength} characters`),
    v.maxLength(LIMITS.passwordMaxLength),
  ),
});
export type AdminUserCreate = v.InferOutput<typeof AdminUserCreateSchema>;

// ─── responses ──────────────────────────────────────────────────────────────────────────────────────────────
// Loose objects: the browser checks each reply against these, and a field the Worker adds later is dropped,
// not refused.

export type ClassKind = (typeof CLASS_KIND_VALUES)[number];
export type ClassStatus = (typeof CLASS_STATUS_VALUES)[number];
export type OccurrenceStatus = (typeof OCCURRENCE_STATUS_VALUES)[number];

export const OccurrenceSchema = v.object({
  id: v.string(),
  classId: v.string(),
  startsAt: v.number(),
  endsAt: v.number(),
  timezone: v.string(),
  status: v.picklist(OCCURRENCE_STATUS_VALUES),
  seriesId: v.nullable(v.string()),
});
export type Occurrence = v.InferOutput<typeof OccurrenceSchema>;

const RatingSummarySchema = v.object({ average: v.nullable(v.number()), count: v.number() });
const OwnRatingSchema = v.nullable(v.object({ rating: v.number(), comment: v.string() }));

export const ClassSummarySchema = v.object({
  id: v.string(),
  title: v.string(),
  description: v.string(),
  kind: v.picklist(CLASS_KIND_VALUES),
  status: v.picklist(CLASS_STATUS_VALUES),
  teacher: v.object({ id: v.string(), displayName: v.string() }),
  /** Whether the viewer is enrolled. */
  enrolled: v.boolean(),
  enrolledCount: v.number(),
  /** The first scheduled occurrence that has not ended yet. */
  nextOccurrence: v.nullable(OccurrenceSchema),
  rating: RatingSummarySchema,
  reminderMinutes: v.array(v.number()),
});
export type ClassSummary = v.InferOutput<typeof ClassSummarySchema>;

export const ClassDetailSchema = v.object({
  ...ClassSummarySchema.entries,
  /** Every occurrence, ascending by start (cancelled ones included). */
  occurrences: v.array(OccurrenceSchema),
  canManage: v.boolean(),
  myRating: OwnRatingSchema,
  canRate: v.boolean(),
  /** Why the viewer may not rate the class now (not attended yet, blocked, …), or null. */
  rateRefusal: v.nullable(v.string()),
  /** Whether enrolled students may download its recordings (the teacher's switch in the class's edit form). */
  recordingDownloads: v.boolean(),
});
export type ClassDetail = v.InferOutput<typeof ClassDetailSchema>;

export const ClassListResponseSchema = v.object({ classes: v.array(ClassSummarySchema) });
export type ClassListResponse = v.InferOutput<typeof ClassListResponseSchema>;
export const ClassResponseSchema = v.object({ class: ClassDetailSchema });
export type ClassResponse = v.InferOutput<typeof ClassResponseSchema>;
export const OccurrencesResponseSchema = v.object({ occurrences: v.array(OccurrenceSchema) });
export type OccurrencesResponse = v.InferOutput<typeof OccurrencesResponseSchema>;
export const OccurrenceResponseSchema = v.object({ occurrence: OccurrenceSchema });
export type OccurrenceResponse = v.InferOutput<typeof OccurrenceResponseSchema>;

export const CALENDAR_RELATIONS = ["teaching", "enrolled", "admin"] as const;
export type CalendarRelation = (typeof CALENDAR_RELATIONS)[number];
export const CalendarEventSchema = v.object({
  occurrenceId: v.string(),
  classId: v.string(),
  title: v.string(),
  startsAt: v.number(),
  endsAt: v.number(),
  timezone: v.string(),
  status: v.picklist(OCCURRENCE_STATUS_VALUES),
  relation: v.picklist(CALENDAR_RELATIONS),
});
export type CalendarEvent = v.InferOutput<typeof CalendarEventSchema>;
/** `truncated` is true when more events than `limit` matched (narrow the range to see them all). */
export const CalendarResponseSchema = v.object({ events: v.array(CalendarEventSchema), truncated: v.boolean() });
export type CalendarResponse = v.InferOutput<typeof CalendarResponseSchema>;
export const CalendarFeedResponseSchema = v.object({ url: v.string() });
export type CalendarFeedResponse = v.InferOutput<typeof CalendarFeedResponseSchema>;

export const EnrolledStudentSchema = v.object({ id: v.string(), displayName: v.string(), email: v.string() });
export type EnrolledStudent = v.InferOutput<typeof EnrolledStudentSchema>;
export const EnrollmentListResponseSchema = v.object({ students: v.array(EnrolledStudentSchema) });
export type EnrollmentListResponse = v.InferOutput<typeof EnrollmentListResponseSchema>;
export const EnrollByEmailResponseSchema = v.object({ student: EnrolledStudentSchema });
export type EnrollByEmailResponse = v.InferOutput<typeof EnrollByEmailResponseSchema>;

export const FeedbackViewSchema = v.object({ classId: v.string(), rating: v.number(), comment: v.string(), createdAt: v.number(), updatedAt: v.number() });
export type FeedbackView = v.InferOutput<typeof FeedbackViewSchema>;
export const FeedbackResponseSchema = v.object({ feedback: FeedbackViewSchema });
export type FeedbackResponse = v.InferOutput<typeof FeedbackResponseSchema>;
export const FeedbackCommentSchema = v.object({ userId: v.string(), displayName: v.string(), rating: v.number(), comment: v.string(), updatedAt: v.number() });
export type FeedbackComment = v.InferOutput<typeof FeedbackCommentSchema>;
export const FeedbackSummarySchema = v.object({
  average: v.nullable(v.number()),
  count: v.number(),
  /** Counts of ratings 1 … 5 (index 0 = rating 1). */
  distribution: v.tuple([v.number(), v.number(), v.number(), v.number(), v.number()]),
  /** Only for the class's teacher and admins: the latest comments (non-empty ones), newest first. */
  comments: v.optional(v.array(FeedbackCommentSchema)),
});
export type FeedbackSummary = v.InferOutput<typeof FeedbackSummarySchema>;

export const BlockViewSchema = v.object({
  id: v.string(),
  user: v.object({ id: v.string(), displayName: v.string(), email: v.string() }),
  /** Null for a global block. */
  classId: v.nullable(v.string()),
  reason: v.string(),
  blockedBy: v.object({ id: v.string(), displayName: v.string() }),
  createdAt: v.number(),
  /** Null = until lifted. */
  expiresAt: v.nullable(v.number()),
});
export type BlockView = v.InferOutput<typeof BlockViewSchema>;
export const BlockListResponseSchema = v.object({ blocks: v.array(BlockViewSchema) });
export type BlockListResponse = v.InferOutput<typeof BlockListResponseSchema>;
export const BlockResponseSchema = v.object({ block: BlockViewSchema });
export type BlockResponse = v.InferOutput<typeof BlockResponseSchema>;

/** A reply with no body (204: deletes, leaving a class, signing out). */
export const NoContentSchema = v.undefined();
