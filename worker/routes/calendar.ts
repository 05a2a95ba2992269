import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { CalendarQuerySchema, LIMITS } from "../../schema/api/portal";
import { users } from "../../schema/db";
import type { AppEnv } from "../app-env";
import { activeBlock, randomToken, requireUser } from "../auth/session";
import { buildCalendar } from "../calendar/ics";
import { ApiError } from "../errors";
import { calendarEvents, feedOccurrences } from "../portal/calendar";
import { queryParams } from "../validate";

const DAY_MS = 24 * 60 * 60 * 1000;
/** The feed shows the last 30 days and the next year. */
const FEED_PAST_MS = 30 * DAY_MS;
const FEED_FUTURE_MS = 365 * DAY_MS;
/** A year of a busy schedule fits; calendar apps poll the feed, so it must stay cheap. */
const FEED_MAX_EVENTS = 1000;
/** Feed secrets are base64url tokens (or the UUIDs given to accounts at creation). */
const FEED_SECRET_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** The viewer's calendar, the ICS subscription URL, and the ICS feed itself. */
export const calendarRoutes = new Hono<AppEnv>();

calendarRoutes.get("/api/calendar", async (c) => {
  const user = requireUser(c);
  const query = queryParams(c, CalendarQuerySchema);
  if (query.to <= query.from) throw new ApiError("INVALID_MESSAGE", "to must be after from");
  if (query.to - query.from > LIMITS.calendarMaxRangeDays * DAY_MS)
    throw new ApiError("INVALID_MESSAGE", `The range spans at most ${LIMITS.calendarMaxRangeDays} days`);
  return c.json(await calendarEvents(c.var.db, user, query, query.limit ?? LIMITS.pageMax));
});

function feedUrl(requestUrl: string, secret: string): string {
  return `${new URL(requestUrl).origin}/calendar/${secret}.ics`;
}

calendarRoutes.get("/api/me/calendar-feed", (c) => {
  const user = requireUser(c);
  return c.json({ url: feedUrl(c.req.url, user.calendarSecret) });
});

/** A new secret makes every old subscription URL stop working at once. */
calendarRoutes.post("/api/me/calendar-feed/rotate", async (c) => {
  const user = requireUser(c);
  const secret = randomToken(24);
  await c.var.db.update(users).set({ calendarSecret: secret, updatedAt: Date.now() }).where(eq(users.id, user.id));
  return c.json({ url: feedUrl(c.req.url, secret) });
});

/** The secret in the path is the only credential: calendar apps fetch it without cookies. */
calendarRoutes.get("/calendar/:file", async (c) => {
  const file = c.req.param("file");
  const secret = file.endsWith(".ics") ? file.slice(0, -".ics".length) : "";
  const notFound = () => c.text("No such calendar feed", 404);
  if (!FEED_SECRET_PATTERN.test(secret)) return notFound();
  const user = await c.var.db.query.users.findFirst({ where: eq(users.calendarSecret, secret) });
  if (!user || (await activeBlock(c.var.db, user.id))) return notFound();
  const now = Date.now();
  const origin = new URL(c.req.url).origin;
  const rows = await feedOccurrences(c.var.db, user, { from: now - FEED_PAST_MS, to: now + FEED_FUTURE_MS }, FEED_MAX_EVENTS);
  const body = buildCalendar({
    name: `insp-live — ${user.displayName}`,
    stamp: now,
    events: rows.map((row) => {
      const classUrl = `${origin}/classes/${row.classId}`;
      return {
        uid: `${row.id}@insp-live`,
        startsAt: row.startsAt,
        endsAt: row.endsAt,
        summary: row.title,
        description: row.description ? `${row.description}\n\n${classUrl}` : classUrl,
        url: classUrl,
        cancelled: row.cancelled,
        sequence: row.revision,
      };
    }),
  });
  return c.body(body, 200, { "content-type": "text/calendar; charset=utf-8", "cache-control": "private, max-age=300" });
});
