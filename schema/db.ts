/**
 * The D1 data model of insp-live (drizzle-orm, SQLite dialect).
 *
 * Conventions: ids are text (random UUIDs unless said otherwise); every time is an integer number of UTC
 * milliseconds; booleans are integers in `mode: "boolean"`. A persistent *class* is kept apart from each
 * scheduled *occurrence* and each *live session* of it. Packed columns of the original brief are normalized
 * (poll options and votes have their own tables).
 *
 * After editing this file run `npm run db:generate` (regenerates schema/migrations).
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const ROLES = ["student", "teacher", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** People: from insp SSO (insp_id set) or local accounts (password_hash set). */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    inspId: text("insp_id").unique(),
    email: text("email").notNull(),
    phone: text("phone"),
    displayName: text("display_name").notNull(),
    role: text("role", { enum: ROLES }).notNull().default("student"),
    /** PBKDF2-SHA256 hash for local accounts: `pbkdf2$<iterations>$<salt b64>$<hash b64>`. */
    passwordHash: text("password_hash"),
    /** IANA timezone the user sees times in and gets reminders in. */
    timezone: text("timezone").notNull().default("UTC"),
    /**
     * When the zone was chosen: by the insp site's `zoneinfo` claim, by the browser on the first visit, or in
     * Settings. Null = not chosen yet (the "UTC" default stands in only until the first visit saves one).
     */
    timezoneChosenAt: integer("timezone_chosen_at"),
    remindByEmail: integer("remind_by_email", { mode: "boolean" }).notNull().default(true),
    remindBySms: integer("remind_by_sms", { mode: "boolean" }).notNull().default(false),
    /** Secret part of the user's ICS feed URL; rotating it revokes old subscriptions. */
    calendarSecret: text("calendar_secret").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("users_email_unique").on(sql`lower(${t.email})`), uniqueIndex("users_calendar_secret_unique").on(t.calendarSecret)],
);

/** Single-use insp SSO token ids, kept until they expire, so a replayed token is refused. */
export const ssoTokens = sqliteTable(
  "sso_tokens",
  {
    jti: text("jti").primaryKey(),
    issuer: text("issuer").notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    usedAt: integer("used_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sso_tokens_expires_at").on(t.expiresAt)],
);

/** Sign-in sessions. The id is the SHA-256 (hex) of the cookie value, so a leaked table holds no cookies. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user_id").on(t.userId), index("sessions_expires_at").on(t.expiresAt)],
);

/** Failed sign-in attempts per key (e-mail or client address) per window, for rate limiting. */
export const signInAttempts = sqliteTable(
  "sign_in_attempts",
  {
    key: text("key").notNull(),
    windowStart: integer("window_start").notNull(),
    count: integer("count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.key, t.windowStart] })],
);

export const CLASS_KINDS = ["live", "recorded"] as const;
export const CLASS_STATUSES = ["active", "archived"] as const;

/** A persistent class (a course or lecture), taught by one teacher. */
export const classes = sqliteTable(
  "classes",
  {
    id: text("id").primaryKey(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    teacherId: text("teacher_id")
      .notNull()
      .references(() => users.id),
    kind: text("kind", { enum: CLASS_KINDS }).notNull().default("live"),
    status: text("status", { enum: CLASS_STATUSES }).notNull().default("active"),
    /** Minutes before an occurrence's start at which reminders go out, e.g. [1440, 60, 10]. */
    reminderMinutes: text("reminder_minutes", { mode: "json" }).$type<number[]>().notNull().default(sql`'[1440,60,10]'`),
    /** Whether members may download the class's recordings as one MP4 (the teacher's per-class switch). */
    recordingDownloads: integer("recording_downloads", { mode: "boolean" }).notNull().default(true),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("classes_teacher_id").on(t.teacherId)],
);

export const SERIES_FREQUENCIES = ["daily", "weekly"] as const;

/** A recurrence rule; it is expanded into occurrences when created (no open-ended series). */
export const classSeries = sqliteTable(
  "class_series",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    frequency: text("frequency", { enum: SERIES_FREQUENCIES }).notNull(),
    interval: integer("interval").notNull().default(1),
    /** ISO weekdays 1 (Mon) … 7 (Sun) for weekly series. */
    weekdays: text("weekdays", { mode: "json" }).$type<number[]>().notNull().default(sql`'[]'`),
    /** Local wall-clock start of the first occurrence, `YYYY-MM-DDTHH:mm`, in `timezone`. */
    firstStartLocal: text("first_start_local").notNull(),
    durationMinutes: integer("duration_minutes").notNull(),
    timezone: text("timezone").notNull(),
    /** Occurrences made: the count asked for, or the number that fit before `until`. */
    count: integer("count").notNull(),
    /** Local date (`YYYY-MM-DD`, in `timezone`) of the last day the series may meet; null for a series ended by count. */
    until: text("until"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("class_series_class_id").on(t.classId)],
);

export const OCCURRENCE_STATUSES = ["scheduled", "cancelled"] as const;

/** The scheduling calendar: one row per scheduled meeting of a class. */
export const occurrences = sqliteTable(
  "occurrences",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    seriesId: text("series_id").references(() => classSeries.id, { onDelete: "set null" }),
    startsAt: integer("starts_at").notNull(),
    endsAt: integer("ends_at").notNull(),
    /** The timezone the teacher scheduled it in (for display and series expansion). */
    timezone: text("timezone").notNull(),
    status: text("status", { enum: OCCURRENCE_STATUSES }).notNull().default("scheduled"),
    /** Increases on every move, so reminders for an old time can be told apart. */
    revision: integer("revision").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("occurrences_class_starts").on(t.classId, t.startsAt), index("occurrences_starts_at").on(t.startsAt)],
);

/** Who takes a class (and so is notified). */
export const enrollments = sqliteTable(
  "enrollments",
  {
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    enrolledBy: text("enrolled_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.classId, t.userId] }), index("enrollments_user_id").on(t.userId)],
);

export const UPLOAD_KINDS = ["pdf", "image", "other"] as const;
export type UploadKind = (typeof UPLOAD_KINDS)[number];

/** Uploaded media (stored in R2 under `storage_key`). */
export const mediaUploads = sqliteTable(
  "media_uploads",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id),
    classId: text("class_id").references(() => classes.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: UPLOAD_KINDS }).notNull(),
    contentType: text("content_type").notNull(),
    fileName: text("file_name").notNull(),
    storageKey: text("storage_key").notNull().unique(),
    sizeBytes: integer("size_bytes").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("media_uploads_class_id").on(t.classId), index("media_uploads_owner_id").on(t.ownerId)],
);

/** Whiteboard slide decks: a PDF per deck, shown under the whiteboard. */
export const slideDecks = sqliteTable(
  "slide_decks",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    uploadId: text("upload_id")
      .notNull()
      .references(() => mediaUploads.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    pageCount: integer("page_count").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("slide_decks_class_id").on(t.classId)],
);

/**
 * Every board op the class object accepted, in its order (`op_seq` per class), shipped through its outbox: the
 * board outlives the class (replaying a surface's ops gives its shapes, for the read-only board after class).
 */
export const boardOps = sqliteTable(
  "board_ops",
  {
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    opSeq: integer("op_seq").notNull(),
    userId: text("user_id").notNull(),
    /** `deck:<deckId>:<page>`, `blank:<page>` or `screen` (see schema/protocol/board.ts). */
    surface: text("surface").notNull(),
    /** The op as JSON (BoardOpSchema). */
    op: text("op").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.classId, t.opSeq] })],
);

export const CLASS_MARK_KINDS = ["page", "blank", "screen-share", "screen-share-ended", "board-hidden", "stage", "stage-ended"] as const;
export type ClassMarkKind = (typeof CLASS_MARK_KINDS)[number];

/**
 * Moments of a live session a viewer may want to jump to: the presenter showed a deck page or a blank page, a
 * screen share started or the last one ended, the board was put away. Written by the class object (through its outbox) as they
 * happen; the player turns the ones inside a recording into chapters.
 */
export const classMarks = sqliteTable(
  "class_marks",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    liveSessionId: text("live_session_id"),
    kind: text("kind", { enum: CLASS_MARK_KINDS }).notNull(),
    /** What a chapter list shows: "Deck title — page 3", "Whiteboard page 2", "Screen share by Ana". */
    label: text("label").notNull(),
    /** The board surface key, when the mark is about one (schema/protocol/board.ts). */
    surface: text("surface"),
    userId: text("user_id"),
    at: integer("at").notNull(),
  },
  (t) => [index("class_marks_class_at").on(t.classId, t.at)],
);

/** One live session of a class: from the first join until it is ended (or empty for 10 minutes). */
export const liveSessions = sqliteTable(
  "live_sessions",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    occurrenceId: text("occurrence_id").references(() => occurrences.id, { onDelete: "set null" }),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at"),
    endedBy: text("ended_by").references(() => users.id, { onDelete: "set null" }),
    /** `ended-by-teacher`, `empty`, … */
    endReason: text("end_reason"),
  },
  (t) => [index("live_sessions_class_id").on(t.classId, t.startedAt)],
);

/**
 * Class tokens handed out, one row per user and class (the latest). Written by the join route before the token
 * leaves the Worker, so "which live classes may this user be sitting in" is answerable at once — attendance
 * reaches D1 later, through the class object's outbox — and a block or un-enrolment reaches every one of them.
 */
export const classEntries = sqliteTable(
  "class_entries",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    issuedAt: integer("issued_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.classId] })],
);

/** Attendance: one row per join … leave of a user in a session. */
export const attendance = sqliteTable(
  "attendance",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => liveSessions.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    joinedAt: integer("joined_at").notNull(),
    leftAt: integer("left_at"),
    durationMs: integer("duration_ms"),
    /** `left`, `kicked`, `blocked`, `ended`, `timeout` */
    leaveReason: text("leave_reason"),
  },
  (t) => [index("attendance_session_user").on(t.sessionId, t.userId), index("attendance_user_id").on(t.userId)],
);

export const RECORDING_STATUSES = ["recording", "composing", "uploading", "packaging", "ready", "failed"] as const;

/** One row per recorded interval of a live session. */
export const recordings = sqliteTable(
  "recordings",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    sessionId: text("session_id").references(() => liveSessions.id, { onDelete: "set null" }),
    title: text("title").notNull().default(""),
    status: text("status", { enum: RECORDING_STATUSES }).notNull().default("recording"),
    failureReason: text("failure_reason"),
    /** 0–100 within the current status. */
    progress: integer("progress").notNull().default(0),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at"),
    durationMs: integer("duration_ms"),
    /** The composed MP4 in object storage. */
    sourceKey: text("source_key"),
    /**
     * What a player can play before the ladder is ready (the composed recording as soon as it is stored: an HLS
     * playlist of composed pieces or the progressive MP4), so a recording is watchable seconds after its stop.
     */
    playableUrl: text("playable_url"),
    hlsManifestUrl: text("hls_manifest_url"),
    dashManifestUrl: text("dash_manifest_url"),
    posterUrl: text("poster_url"),
    thumbnailsVttUrl: text("thumbnails_vtt_url"),
    /** The sfu-node that records it: the only node whose progress reports are taken (null on rows from before). */
    nodeId: text("node_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("recordings_class_id").on(t.classId, t.startedAt), index("recordings_status").on(t.status)],
);

/** Where a user stopped watching a recording: the player resumes there. One row per user and recording. */
export const recordingPositions = sqliteTable(
  "recording_positions",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    recordingId: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    positionMs: integer("position_ms").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.recordingId] })],
);

/**
 * What a participant did in a live session beyond being present, counted by the class object as it happens:
 * hands raised, reactions sent, and time on stage (`stageMs` for closed stretches, `stageSince` while on stage now).
 */
export const sessionEngagement = sqliteTable(
  "session_engagement",
  {
    sessionId: text("session_id")
      .notNull()
      .references(() => liveSessions.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    handsRaised: integer("hands_raised").notNull().default(0),
    reactions: integer("reactions").notNull().default(0),
    stageMs: integer("stage_ms").notNull().default(0),
    stageSince: integer("stage_since"),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.userId] })],
);

export const NOTIFICATION_CHANNELS = ["email", "sms"] as const;
/**
 * pending → sending (claimed by one queue consumer) → sent (provider accepted) → delivered (receipt), or back to
 * pending for a retry; failed (permanent), dead (retries exhausted, dead-lettered), cancelled (occurrence changed,
 * recipient left), unknown (the provider did not answer in time; settled by its delivery report, never resent).
 */
export const NOTIFICATION_STATUSES = ["pending", "sending", "sent", "delivered", "failed", "dead", "cancelled", "unknown"] as const;

/** E-mail/SMS reminders and notices: one per occurrence × user × channel × kind, guaranteed by the unique key. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    occurrenceId: text("occurrence_id")
      .notNull()
      .references(() => occurrences.id, { onDelete: "cascade" }),
    channel: text("channel", { enum: NOTIFICATION_CHANNELS }).notNull(),
    /** `reminder:<minutes>@<revision>`, `change@<revision>`, `cancel` … */
    kind: text("kind").notNull(),
    status: text("status", { enum: NOTIFICATION_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    providerMessageId: text("provider_message_id"),
    error: text("error"),
    /** Where it went: e-mail address or phone number at send time. */
    destination: text("destination"),
    scheduledFor: integer("scheduled_for").notNull(),
    sentAt: integer("sent_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("notifications_once").on(t.occurrenceId, t.userId, t.channel, t.kind),
    index("notifications_user_id").on(t.userId, t.createdAt),
    index("notifications_provider_message_id").on(t.providerMessageId),
    index("notifications_status").on(t.status),
  ],
);

export const POLL_STATUSES = ["open", "closed", "published"] as const;

export const polls = sqliteTable(
  "polls",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    sessionId: text("session_id").references(() => liveSessions.id, { onDelete: "set null" }),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id),
    question: text("question").notNull(),
    multipleChoice: integer("multiple_choice", { mode: "boolean" }).notNull().default(false),
    anonymous: integer("anonymous", { mode: "boolean" }).notNull().default(false),
    status: text("status", { enum: POLL_STATUSES }).notNull().default("open"),
    closesAt: integer("closes_at"),
    createdAt: integer("created_at").notNull(),
    closedAt: integer("closed_at"),
    publishedAt: integer("published_at"),
  },
  (t) => [index("polls_class_id").on(t.classId, t.createdAt)],
);

export const pollOptions = sqliteTable(
  "poll_options",
  {
    id: text("id").primaryKey(),
    pollId: text("poll_id")
      .notNull()
      .references(() => polls.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    label: text("label").notNull(),
  },
  (t) => [uniqueIndex("poll_options_position").on(t.pollId, t.position)],
);

export const pollVotes = sqliteTable(
  "poll_votes",
  {
    pollId: text("poll_id")
      .notNull()
      .references(() => polls.id, { onDelete: "cascade" }),
    optionId: text("option_id")
      .notNull()
      .references(() => pollOptions.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.pollId, t.optionId, t.userId] }), index("poll_votes_poll_user").on(t.pollId, t.userId)],
);

export const chatMessages = sqliteTable(
  "chat_messages",
  {
    id: text("id").primaryKey(),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    sessionId: text("session_id").references(() => liveSessions.id, { onDelete: "set null" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Chosen by the client so a resend after a reconnect is not stored twice. */
    clientMessageId: text("client_message_id").notNull(),
    body: text("body").notNull(),
    /**
     * The file shared with the message, as it was when shared (name, kind, type, size, and the upload's id): a
     * copy rather than a join, so the history still names a file that was deleted later.
     */
    attachment: text("attachment", { mode: "json" }).$type<{ fileId: string; fileName: string; kind: UploadKind; contentType: string; sizeBytes: number }>(),
    createdAt: integer("created_at").notNull(),
    deletedAt: integer("deleted_at"),
    deletedBy: text("deleted_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [uniqueIndex("chat_messages_client_id").on(t.classId, t.userId, t.clientMessageId), index("chat_messages_class_time").on(t.classId, t.createdAt)],
);

export const FEEDBACK_TARGETS = ["class", "recording"] as const;

/** Ratings 1–5 with optional text, one per user per target (a class or a recording). */
export const feedback = sqliteTable(
  "feedback",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    classId: text("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    targetType: text("target_type", { enum: FEEDBACK_TARGETS }).notNull(),
    /** The class id or the recording id. */
    targetId: text("target_id").notNull(),
    rating: integer("rating").notNull(),
    comment: text("comment").notNull().default(""),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("feedback_once").on(t.userId, t.targetType, t.targetId), index("feedback_target").on(t.targetType, t.targetId)],
);

/** Blocks: global (class_id null, by an admin) or for one class (by its teacher or an admin). */
export const blocks = sqliteTable(
  "blocks",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    classId: text("class_id").references(() => classes.id, { onDelete: "cascade" }),
    reason: text("reason").notNull().default(""),
    blockedBy: text("blocked_by")
      .notNull()
      .references(() => users.id),
    createdAt: integer("created_at").notNull(),
    /** Null = until lifted. */
    expiresAt: integer("expires_at"),
    liftedAt: integer("lifted_at"),
    liftedBy: text("lifted_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [index("blocks_user_id").on(t.userId), index("blocks_class_id").on(t.classId)],
);

/**
 * The local outbox: where e-mail and SMS go when no provider keys are configured (the embedded setup).
 * Admins list it at /outbox; `npm start` also prints each message to the console.
 */
export const outboxMessages = sqliteTable(
  "outbox_messages",
  {
    id: text("id").primaryKey(),
    notificationId: text("notification_id").references(() => notifications.id, { onDelete: "set null" }),
    channel: text("channel", { enum: NOTIFICATION_CHANNELS }).notNull(),
    destination: text("destination").notNull(),
    /** E-mail subject; null for SMS. */
    subject: text("subject"),
    text: text("text").notNull(),
    /** E-mail HTML part; null for SMS. */
    html: text("html"),
    /** File names of e-mail attachments, e.g. ["class.ics"]. */
    attachments: text("attachments", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("outbox_messages_created_at").on(t.createdAt)],
);

/** The SFU fleet registry: each sfu-node registers and heartbeats here. */
export const sfuNodes = sqliteTable(
  "sfu_nodes",
  {
    id: text("id").primaryKey(),
    region: text("region").notNull(),
    publicUrl: text("public_url").notNull(),
    cpuLoad: real("cpu_load").notNull().default(0),
    transports: integer("transports").notNull().default(0),
    consumers: integer("consumers").notNull().default(0),
    maxConsumers: integer("max_consumers").notNull().default(0),
    registeredAt: integer("registered_at").notNull(),
    lastHeartbeatAt: integer("last_heartbeat_at").notNull(),
  },
  (t) => [index("sfu_nodes_region").on(t.region)],
);

/**
 * Each sfu-node's public keys (ES256, P-256), enrolled by an operator. A node signs every request to the Worker
 * with its private key; the Worker takes the node id from the enrolled key, never from the request, so one
 * node's key cannot speak for another. A key belongs to one node for good; a node may hold two while it rotates.
 */
export const sfuNodeKeys = sqliteTable(
  "sfu_node_keys",
  {
    /** The key's RFC 7638 JWK thumbprint (SHA-256, base64url); tokens name it as their `kid`. */
    kid: text("kid").primaryKey(),
    nodeId: text("node_id").notNull(),
    /** The public JWK as JSON (kty, crv, x, y). */
    publicJwk: text("public_jwk").notNull(),
    enrolledAt: integer("enrolled_at").notNull(),
    /** Set when revoked: tokens signed with it are refused from then on, and it cannot be enrolled again. */
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("sfu_node_keys_node_id").on(t.nodeId)],
);

/** `jti`s of node tokens already used, kept until the token would have expired: a replayed token is refused. */
export const sfuNodeTokenUses = sqliteTable(
  "sfu_node_token_uses",
  {
    jti: text("jti").primaryKey(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sfu_node_token_uses_expires_at").on(t.expiresAt)],
);

export type User = typeof users.$inferSelect;
export type ClassRow = typeof classes.$inferSelect;
export type Occurrence = typeof occurrences.$inferSelect;
export type Notification = typeof notifications.$inferSelect;
export type OutboxMessage = typeof outboxMessages.$inferSelect;
export type Recording = typeof recordings.$inferSelect;
export type Block = typeof blocks.$inferSelect;
export type MediaUpload = typeof mediaUploads.$inferSelect;
export type SlideDeck = typeof slideDecks.$inferSelect;
