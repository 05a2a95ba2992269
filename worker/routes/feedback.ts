import { Hono } from "hono";
import { FeedbackPutSchema, IdSchema } from "../../schema/api/portal";
import type { AppEnv } from "../app-env";
import { requireUser } from "../auth/session";
import { loadVisibleClass, ratingRefusal } from "../portal/classes";
import { classFeedbackSummary, putClassFeedback } from "../portal/feedback";
import { canManageClass } from "../portal/permissions";
import { jsonBody, parse } from "../validate";

/** Ratings of classes by their students. */
export const feedbackRoutes = new Hono<AppEnv>();

feedbackRoutes.put("/api/classes/:id/feedback", async (c) => {
  const user = requireUser(c);
  const { cls, enrolled } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  const body = await jsonBody(c, FeedbackPutSchema);
  const refusal = await ratingRefusal(c.var.db, user, cls, enrolled);
  if (refusal) throw refusal;
  return c.json({ feedback: await putClassFeedback(c.var.db, user, cls, body.rating, body.comment ?? "") });
});

feedbackRoutes.get("/api/classes/:id/feedback", async (c) => {
  const user = requireUser(c);
  const { cls } = await loadVisibleClass(c.var.db, user, parse(IdSchema, c.req.param("id")));
  return c.json(await classFeedbackSummary(c.var.db, cls.id, canManageClass(user, cls)));
});
