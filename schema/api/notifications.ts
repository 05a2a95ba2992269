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

export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** One notification as its recipient sees it. `kind` is "reminder", "change", "cancel" or "restore" (a cancelled session back on). */
export interface NotificationView {
  id: string;
  classId: string;
  classTitle: string;
  occurrenceId: string;
  /** Start of the occurrence now (UTC ms). */
  occurrenceStartsAt: number;
  channel: NotificationChannel;
  kind: "reminder" | "change" | "cancel" | "restore";
  /** For reminders: minutes before the start this reminder is for. */
  reminderMinutes: number | null;
  status: NotificationStatus;
  /** E-mail address or phone number it went (or goes) to. */
  destination: string | null;
  attempts: number;
  /** Why it failed or was cancelled, when it did. */
  error: string | null;
  scheduledFor: number;
  sentAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface MyNotificationsResponse {
  notifications: NotificationView[];
}

/** A class's delivery view for its teacher and admins: who was notified, how, and what became of it. */
export interface ClassNotificationView extends NotificationView {
  user: { id: string; displayName: string };
}

export interface ClassNotificationsResponse {
  notifications: ClassNotificationView[];
  /** Count per status over the whole class. */
  totals: Partial<Record<NotificationStatus, number>>;
}

/** A message the local outbox holds (no provider keys configured). */
export interface OutboxMessageView {
  id: string;
  notificationId: string | null;
  channel: NotificationChannel;
  destination: string;
  subject: string | null;
  text: string;
  html: string | null;
  attachments: string[];
  createdAt: number;
}

export interface OutboxResponse {
  messages: OutboxMessageView[];
  /** True when this Worker has no provider keys, so new messages land here. */
  active: { email: boolean; sms: boolean };
}
