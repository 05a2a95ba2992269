/**
 * Reminder history and delivery status:
 * - GET /api/me/notifications            the signed-in user's own notifications (newest first)
 * - GET /api/classes/:id/notifications   every notification of a class, for its teacher and admins
 * - GET /api/admin/outbox                the local outbox (messages not handed to a provider), admins only and
 *                                         only in local development (LOCAL_DEV=true)
 */
import { desc, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import * as v from "valibot";
import type {
  ClassNotificationsResponse,
  ClassNotificationView,
  MyNotificationsResponse,
  NotificationView,
  OutboxResponse,
} from "../../schema/api/notifications";
import { IdSchema } from "../../schema/api/portal";
import { classes, type Notification, notifications, occurrences, outboxMessages, users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { requireLocalDev } from "../auth/local-dev";
import { requireRole, requireUser } from "../auth/session";
import { loadClass } from "../portal/classes";
import { requireManageClass } from "../portal/permissions";
import { type NotificationKind, parseKind } from "../reminders/messages";
import { sendGridConfig, twilioConfig } from "../reminders/send";
import { parse, queryParams } from "../validate";

export const notificationsRoutes = new Hono<AppEnv>();

const ListQuerySchema = v.strictObject({
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,4}$/, "Expected a whole number"), v.transform(Number), v.minValue(1), v.maxValue(500))),
});
const DEFAULT_LIMIT = 200;

/** A series notice is, to its reader, a cancel or a change notice like any other. */
function viewKind(kind: NotificationKind | null): NotificationView["kind"] {
  if (kind === null) return "reminder";
  if (kind.type === "series-cancel") return "cancel";
  if (kind.type === "series-change") return "change";
  return kind.type;
}

function toView(row: { notification: Notification; classId: string; classTitle: string; startsAt: number }): NotificationView {
  const kind = parseKind(row.notification.kind);
  const n = row.notification;
  return {
    id: n.id,
    classId: row.classId,
    classTitle: row.classTitle,
    occurrenceId: n.occurrenceId,
    occurrenceStartsAt: row.startsAt,
    channel: n.channel,
    kind: viewKind(kind),
    reminderMinutes: kind?.type === "reminder" ? kind.minutes : null,
    status: n.status,
    destination: n.destination,
    attempts: n.attempts,
    error: n.error,
    scheduledFor: n.scheduledFor,
    sentAt: n.sentAt,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
  };
}

notificationsRoutes.get("/api/me/notifications", async (c) => {
  const user = requireUser(c);
  const query = queryParams(c, ListQuerySchema);
  const rows = await c.var.db
    .select({ notification: notifications, classId: classes.id, classTitle: classes.title, startsAt: occurrences.startsAt })
    .from(notifications)
    .innerJoin(occurrences, eq(occurrences.id, notifications.occurrenceId))
    .innerJoin(classes, eq(classes.id, occurrences.classId))
    .where(eq(notifications.userId, user.id))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(query.limit ?? DEFAULT_LIMIT);
  return c.json({ notifications: rows.map(toView) } satisfies MyNotificationsResponse);
});

notificationsRoutes.get("/api/classes/:id/notifications", async (c) => {
  const user = requireUser(c);
  const cls = await loadClass(c.var.db, parse(IdSchema, c.req.param("id")));
  requireManageClass(user, cls);
  const query = queryParams(c, ListQuerySchema);
  const rows = await c.var.db
    .select({
      notification: notifications,
      classId: classes.id,
      classTitle: classes.title,
      startsAt: occurrences.startsAt,
      userId: users.id,
      displayName: users.displayName,
    })
    .from(notifications)
    .innerJoin(occurrences, eq(occurrences.id, notifications.occurrenceId))
    .innerJoin(classes, eq(classes.id, occurrences.classId))
    .innerJoin(users, eq(users.id, notifications.userId))
    .where(eq(classes.id, cls.id))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(query.limit ?? DEFAULT_LIMIT);
  const totalsRows = await c.var.db
    .select({ status: notifications.status, count: sql<number>`count(*)` })
    .from(notifications)
    .innerJoin(occurrences, eq(occurrences.id, notifications.occurrenceId))
    .where(eq(occurrences.classId, cls.id))
    .groupBy(notifications.status);
  const response: ClassNotificationsResponse = {
    notifications: rows.map((row): ClassNotificationView => ({ ...toView(row), user: { id: row.userId, displayName: row.displayName } })),
    totals: Object.fromEntries(totalsRows.map((row) => [row.status, row.count])),
  };
  return c.json(response);
});

notificationsRoutes.get("/api/admin/outbox", async (c) => {
  // The outbox holds the full text of every e-mail and SMS, join links included: a local helper only.
  requireLocalDev(c, "The outbox");
  requireRole(c, "admin");
  const query = queryParams(c, ListQuerySchema);
  const rows = await c.var.db
    .select()
    .from(outboxMessages)
    .orderBy(desc(outboxMessages.createdAt), desc(outboxMessages.id))
    .limit(query.limit ?? DEFAULT_LIMIT);
  const response: OutboxResponse = { messages: rows, active: { email: sendGridConfig(c.env) === null, sms: twilioConfig(c.env) === null } };
  return c.json(response);
});
