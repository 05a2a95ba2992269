import { Hono } from "hono";
import { Classroom } from "../durable-objects/Classroom";
import { ClassroomShard } from "../durable-objects/ClassroomShard";
import type { AppEnv } from "./app-env";
import { loadUser } from "./auth/session";
import { getDb } from "./db";
import type { Env } from "./env";
import { errorResponse, onError } from "./errors";
import { requireSameOrigin } from "./origin";
import { securityHeaders } from "./security-headers";
import { adminRoutes } from "./routes/admin";
import { attendanceRoutes } from "./routes/attendance";
import { authRoutes } from "./routes/auth";
import { blocksRoutes } from "./routes/blocks";
import { calendarRoutes } from "./routes/calendar";
import { classesRoutes } from "./routes/classes";
import { classLinkRoutes } from "./routes/class-link";
import { feedbackRoutes } from "./routes/feedback";
import { filesRoutes } from "./routes/files";
import { fleetRoutes } from "./routes/fleet";
import { healthRoutes } from "./routes/health";
import { joinRoutes, routeClassroomSocket } from "./routes/join";
import { jwksRoutes } from "./routes/jwks";
import { notificationsRoutes } from "./routes/notifications";
import { recordingViewerRoutes } from "./routes/recording-viewer";
import { recordingsRoutes } from "./routes/recordings";
import { seriesRoutes } from "./routes/series";
import { webhooksRoutes } from "./routes/webhooks";
import { consumeReminders } from "./reminders/consumer";
import { failAbandonedRecordings } from "./portal/recording-sweep";
import { runReminderCron } from "./reminders/cron";

export { Classroom, ClassroomShard };

export const app = new Hono<AppEnv>();

app.onError(onError);
app.use("*", securityHeaders);
// The class channel's sockets carry their own credential (the class token), so they skip the cookie middleware.
app.all("/parties/*", (c) => routeClassroomSocket(c.req.raw, c.env));
app.use("*", async (c, next) => {
  c.set("db", getDb(c.env.DB));
  await next();
});
app.use("*", requireSameOrigin);
app.use("*", loadUser);

app.route("/", healthRoutes);
app.route("/", jwksRoutes);
app.route("/", authRoutes);
app.route("/", classesRoutes);
app.route("/", seriesRoutes);
app.route("/", joinRoutes);
app.route("/", calendarRoutes);
app.route("/", feedbackRoutes);
app.route("/", blocksRoutes);
app.route("/", adminRoutes);
app.route("/", fleetRoutes);
app.route("/", classLinkRoutes);
app.route("/", notificationsRoutes);
app.route("/", recordingsRoutes);
app.route("/", recordingViewerRoutes);
app.route("/", webhooksRoutes);
app.route("/", filesRoutes);
app.route("/", attendanceRoutes);

app.notFound((c) => {
  if (c.req.path.startsWith("/api/")) return errorResponse("NOT_FOUND", `No route ${c.req.method} ${c.req.path}`);
  return c.env.ASSETS.fetch(c.req.raw);
});

export default {
  fetch: app.fetch,
  /**
   * Every minute: create and enqueue the reminders that are due (worker/reminders/cron.ts), and fail the
   * recordings whose node will never report on them again (worker/portal/recording-sweep.ts).
   */
  async scheduled(controller, env) {
    await runReminderCron(env, controller.scheduledTime);
    await failAbandonedRecordings(getDb(env.DB), controller.scheduledTime);
  },
  /** The REMINDERS queue: send each notification once (worker/reminders/consumer.ts). */
  queue: (batch, env) => consumeReminders(batch, env),
} satisfies ExportedHandler<Env>;
