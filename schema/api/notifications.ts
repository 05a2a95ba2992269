/**
 * Reminder shapes shared by the Worker and the web app: the Queue message, and the responses of
 * GET /api/me/notifications, GET /api/classes/:id/notifications and GET /api/admin/outbox.
 */
import * as v from "valibot";
import type { NOTIFICATION_CHANNELS, NOTIFICATION_STATUSES } from "../db";

/** The body of every message on the REMINDERS queue: the notification row to send. */
export const ReminderQueueMessageSchema = v.strictObject({
  notificationId: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
});
export type ReminderQueueMessage = v.InferOutput<typeof ReminderQueueMessageSchema>;

/** The same lists as in schema/db.ts (kept apart so the web app need not load drizzle). */
const CHANNEL_VALUES = ["email", "sms"] as const satisfies typeof NOTIFICATION_CHANNELS;
const STATUS_VALUES = ["pending", "sending", "sent", "delivered", "failed", "dead", "cancelled", "unknown"] as const satisfies typeof NOTIFICATION_STATUSES;

export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** One notification as its recipient sees it. `kind` is "reminder", "change", "cancel" or "restore" (a cancelled session back on). */
export const NotificationViewSchema = v.object({
  id: v.string(),
  classId: v.string(),
  classTitle: v.string(),
  occurrenceId: v.string(),
  /** Start of the occurrence now (UTC ms). */
  occurrenceStartsAt: v.number(),
  channel: v.picklist(CHANNEL_VALUES),
  kind: v.picklist(["reminder", "change", "cancel", "restore"]),
  /** For reminders: minutes before the start this reminder is for. */
  reminderMinutes: v.nullable(v.number()),
  status: v.picklist(STATUS_VALUES),
  /** E-mail address or phone number it went (or goes) to. */
  destination: v.nullable(v.string()),
  attempts: v.number(),
  /** Why it failed or was cancelled, when it did. */
  error: v.nullable(v.string()),
  scheduledFor: v.number(),
  sentAt: v.nullable(v.number()),
  createdAt: v.number(),
  updatedAt: v.number(),
});
export type NotificationView = v.InferOutput<typeof NotificationViewSchema>;

export const MyNotificationsResponseSchema = v.object({ notifications: v.array(NotificationViewSchema) });
export type MyNotificationsResponse = v.InferOutput<typeof MyNotificationsResponseSchema>;

/** A class's delivery view for its teacher and admins: who was notified, how, and what became of it. */
export const ClassNotificationViewSchema = v.object({ ...NotificationViewSchema.entries, user: v.object({ id: v.string(), displayName: v.string() }) });
export type ClassNotificationView = v.InferOutput<typeof ClassNotificationViewSchema>;

export const ClassNotificationsResponseSchema = v.object({
  notifications: v.array(ClassNotificationViewSchema),
  /** Count per status over the whole class. */
  totals: v.record(v.picklist(STATUS_VALUES), v.number()),
});
export type ClassNotificationsResponse = v.InferOutput<typeof ClassNotificationsResponseSchema>;

/** A message the local outbox holds (no provider keys configured). */
export const OutboxMessageViewSchema = v.object({
  id: v.string(),
  notificationId: v.nullable(v.string()),
  channel: v.picklist(CHANNEL_VALUES),
  destination: v.string(),
  subject: v.nullable(v.string()),
  text: v.string(),
  html: v.nullable(v.string()),
  attachments: v.array(v.string()),
  createdAt: v.number(),
});
export type OutboxMessageView = v.InferOutput<typeof OutboxMessageViewSchema>;

export const OutboxResponseSchema = v.object({
  messages: v.array(OutboxMessageViewSchema),
  /** True when this Worker has no provider keys, so new messages land here. */
  active: v.object({ email: v.boolean(), sms: v.boolean() }),
});
export type OutboxResponse = v.InferOutput<typeof OutboxResponseSchema>;
