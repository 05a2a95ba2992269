/**
 * The bare baseline of bench/classroom.ts: the same Worker (every route and the real Classroom) plus a minimal
 * partyserver room, so one `wrangler dev` measures our class channel and the runtime's own floor side by side.
 *
 * - `/bench-bare/bare-room/:room` — the bare room with nothing in front of it (no token check, no D1).
 * - `/parties/bare-room/:classId?token=…` — the same room behind the real edge (the class-token check and the
 *   D1 block check of worker/routes/join.ts), so the edge's share of a join can be told apart.
 *
 * Bench-only: bench/classroom.ts writes a wrangler config with this file as `main`; production never loads it.
 */
import { routePartykitRequest, type Connection, Server, type WSMessage } from "partyserver";
import worker, { Classroom, ClassroomShard } from "../../worker/index";
import type { Env } from "../../worker/env";

export { Classroom, ClassroomShard };

const BARE_PREFIX = "bench-bare";

/**
 * Broadcast-only: a tiny snapshot on connect (so the bench's join timing means the same thing), then every chat
 * frame is sent straight to every socket, one broadcast per message with no parsing beyond the body.
 */
export class BareRoom extends Server<Env> {
  static override options = { hibernate: true };

  override onConnect(connection: Connection): void {
    connection.send(JSON.stringify({ notification: "snapshot", data: {} }));
  }

  override onMessage(_connection: Connection, message: WSMessage): void {
    if (typeof message !== "string") return;
    let body: unknown;
    try {
      body = (JSON.parse(message) as { data?: { body?: unknown } }).data?.body;
    } catch {
      return;
    }
    if (typeof body !== "string") return;
    this.broadcast(JSON.stringify({ notification: "events", data: { events: [{ type: "chat.message", message: { body } }] } }));
  }
}

export default {
  ...worker,
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname.startsWith(`/${BARE_PREFIX}/`)) {
      return (await routePartykitRequest(request, env, { prefix: BARE_PREFIX })) ?? new Response("No such room", { status: 404 });
    }
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env & { BARE_ROOM: DurableObjectNamespace }>;
