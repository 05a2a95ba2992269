import { eq } from "drizzle-orm";
import { Hono } from "hono";
import * as v from "valibot";
import { classes, sfuNodes } from "../../schema/db";
import { CLASS_LINK_NODE_HEADER, CLASS_LINK_VERIFIED_NODE_HEADER } from "../../schema/protocol/class-link";
import { SfuNodeIdSchema } from "../../schema/protocol/fleet";
import { JOINER_LOCATION_HEADER } from "../../schema/regions";
import { CLASS_IDENTITY_HEADER } from "../../schema/tokens/class-token";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { requireFleetCredential } from "./fleet";

/**
 * `GET /api/fleet/classes/:classId/link` (WebSocket upgrade): an sfu-node's class link to one class's Durable
 * Object (schema/protocol/class-link.ts). The fleet credential and the node id (a registered node) are checked
 * here, before the upgrade reaches the object; the object then knows the socket as that node's link.
 */
export const classLinkRoutes = new Hono<AppEnv>();

const ClassIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

classLinkRoutes.get("/api/fleet/classes/:classId/link", async (c) => {
  await requireFleetCredential(c);
  const nodeId = v.safeParse(SfuNodeIdSchema, c.req.header(CLASS_LINK_NODE_HEADER) ?? "");
  if (!nodeId.success) throw new ApiError("UNAUTHORIZED", `The ${CLASS_LINK_NODE_HEADER} header must name this node`);
  const node = await c.var.db.query.sfuNodes.findFirst({ columns: { id: true }, where: eq(sfuNodes.id, nodeId.output) });
  if (!node) throw new ApiError("UNAUTHORIZED", `Node ${nodeId.output} is not registered; register first`);
  const classId = v.safeParse(ClassIdSchema, c.req.param("classId"));
  const cls = classId.success ? await c.var.db.query.classes.findFirst({ columns: { id: true }, where: eq(classes.id, classId.output) }) : undefined;
  if (!cls) throw new ApiError("NOT_FOUND", "No such class");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError("INVALID_MESSAGE", "The class link is a WebSocket: send an upgrade request");

  const forwarded = new Request(c.req.raw);
  // Only what this route verified reaches the object: no participant identity, location or partyserver props.
  for (const header of [CLASS_IDENTITY_HEADER, JOINER_LOCATION_HEADER, "x-partykit-props"]) forwarded.headers.delete(header);
  forwarded.headers.set(CLASS_LINK_VERIFIED_NODE_HEADER, nodeId.output);
  forwarded.headers.set("x-partykit-room", cls.id);
  return c.env.CLASSROOM.getByName(cls.id).fetch(forwarded);
});
