import { type Context, Hono } from "hono";
import { IdSchema, SeriesMoveSchema } from "../../schema/api/portal";
import type { AppEnv } from "../app-env";
import { requireUser } from "../auth/session";
import { loadClass } from "../portal/classes";
import { toOccurrence } from "../portal/mapping";
import { loadOccurrence, restoreOccurrence } from "../portal/occurrences";
import { requireManageClass } from "../portal/permissions";
import { cancelSeries, loadSeries, moveSeries } from "../portal/series";
import { occurrenceChanged } from "../reminders/changes";
import { seriesChanged } from "../reminders/series-changes";
import { jsonBody, parse } from "../validate";

/** A whole series cancelled or moved at once, and a cancelled session restored. Only the class's teacher or an admin. */
export const seriesRoutes = new Hono<AppEnv>();

/** The series and its class, after checking that the signed-in user manages the class. */
async function loadManagedSeries(c: Context<AppEnv>) {
  const user = requireUser(c);
  const series = await loadSeries(c.var.db, parse(IdSchema, c.req.param("id")));
  const cls = await loadClass(c.var.db, series.classId);
  requireManageClass(user, cls);
  return { series, cls };
}

seriesRoutes.post("/api/series/:id/cancel", async (c) => {
  const { series } = await loadManagedSeries(c);
  const cancelled = await cancelSeries(c.var.db, series, Date.now());
  await seriesChanged(c.env, { kind: "cancelled", occurrenceIds: cancelled.map((row) => row.id) });
  return c.json({ occurrences: cancelled.map(toOccurrence) });
});

seriesRoutes.patch("/api/series/:id", async (c) => {
  const { series, cls } = await loadManagedSeries(c);
  const body = await jsonBody(c, SeriesMoveSchema);
  const moved = await moveSeries(c.var.db, cls, series, body, Date.now());
  if (moved.changed) await seriesChanged(c.env, { kind: "moved", occurrenceIds: moved.occurrences.map((row) => row.id) });
  return c.json({ occurrences: moved.occurrences.map(toOccurrence) });
});

seriesRoutes.post("/api/occurrences/:id/restore", async (c) => {
  const user = requireUser(c);
  const occurrence = await loadOccurrence(c.var.db, parse(IdSchema, c.req.param("id")));
  const cls = await loadClass(c.var.db, occurrence.classId);
  requireManageClass(user, cls);
  const restored = await restoreOccurrence(c.var.db, cls, occurrence, Date.now());
  await occurrenceChanged(c.env, { occurrenceId: restored.id, kind: "restored" });
  return c.json({ occurrence: toOccurrence(restored) });
});
