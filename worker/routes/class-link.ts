import { eq } from "drizzle-orm";
import { Hono } from "hono";
import * as v from "valibot";
import { classes, sfuNodes } from "../../schema/db";
import { CLASS_LINK_NODE_HEADER, CLASS_LINK_VERIFIED_NODE_HEADER } from "../../schema/protocol/class-link";
import { JOINER_LOCATION_HEADER } from "../../schema/regions";
import { CLASS_IDENTITY_HEADER } from "../../schema/tokens/class-token";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { requireNode } from "../fleet/node-auth";

/**
 * `GET /api/fleet/classes/:classId/link` (WebSocket upgrade): an sfu-node's class link to one class's Durable
 * Object (schema/protocol/class-link.ts). The node token (signed by the node's enrolled key, for this path) and
 * the node's registration are checked here, before the upgrade reaches the object; the object then knows the
 * socket as the link of the node the key was enrolled for, and of no other.
 */
export const classLinkRoutes = new Hono<AppEnv>();

const ClassIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

classLinkRoutes.get("/api/fleet/classes/:classId/link", async (c) => {
  const nodeId = await requireNode(c);
  const named = c.req.header(CLASS_LINK_NODE_HEADER);
  if (named !== undefined && named !== nodeId) throw new ApiError("FORBIDDEN", `This node's key is enrolled for ${nodeId}; it cannot open a link as ${named}`);
  const node = await c.var.db.query.sfuNodes.findFirst({ columns: { id: true }, where: eq(sfuNodes.id, nodeId) });
  if (!node) throw new ApiError("UNAUTHORIZED", `Node ${nodeId} is not registered; register first`);
  const classId = v.safeParse(ClassIdSchema, c.req.param("classId"));
  const cls = classId.success ? await c.var.db.query.classes.findFirst({ columns: { id: true }, where: eq(classes.id, classId.output) }) : undefined;
  if (!cls) throw new ApiError("NOT_FOUND", "No such class");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError("INVALID_MESSAGE", "The class link is a WebSocket: send an upgrade request");

  const forwarded = new Request(c.req.raw);
  // Only what this route verified reaches the object: no participant identity, location or partyserver props.
  for (const header of [CLASS_IDENTITY_HEADER, JOINER_LOCATION_HEADER, "x-partykit-props"]) forwarded.headers.delete(header);
  forwarded.headers.set(CLASS_LINK_VERIFIED_NODE_HEADER, nodeId);
  forwarded.headers.set("x-partykit-room", cls.id);
  return c.env.CLASSROOM.getByName(cls.id).fetch(forwarded);
});
