import { and, count, eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { jwtVerify } from "jose";
import { routePartykitRequest } from "partyserver";
import * as v from "valibot";
import { CLASS_LINK_VERIFIED_NODE_HEADER } from "../../schema/protocol/class-link";
import { fanOutCount, fanOutIndex, fanOutName, fanOutPolicy } from "../../schema/protocol/fan-out";
import type { JoinRefusal, JoinRefused, JoinResponse } from "../../schema/api/join";
import { HTTP_STATUS } from "../../schema/errors";
import { JOINER_LOCATION_HEADER, locationFromCf, locationOfRegion } from "../../schema/regions";
import { classEntries, classes, enrollments } from "../../schema/db";
import {
  CLASS_IDENTITY_HEADER,
  CLASS_TOKEN_AUDIENCE,
  CLASS_TOKEN_ISSUER,
  CLASS_TOKEN_LIFETIME_SECONDS,
  type ClassIdentity,
  type ClassRole,
  ClassTokenClaimsSchema,
  encodeIdentityHeader,
} from "../../schema/tokens/class-token";
import type { AppEnv } from "../app-env";
import { isLocalDev } from "../auth/local-dev";
import { activeBlock, classEntryStanding, requireUser } from "../auth/session";
import { signWorkerToken, workerPublicKey } from "../auth/keys";
import { type Db, getDb } from "../db";
import { endedSessionInSlot, nextOccurrence } from "../portal/ended-session";
import type { Env } from "../env";
import { ApiError, errorResponse } from "../errors";

const ClassIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

/** `POST /api/classes/:id/join`: checks the user may enter the live class now and hands out a class token. */
export const joinRoutes = new Hono<AppEnv>();

joinRoutes.post("/api/classes/:id/join", async (c) => {
  const user = requireUser(c);
  const parsedId = v.safeParse(ClassIdSchema, c.req.param("id"));
  if (!parsedId.success) throw new ApiError("NOT_FOUND", "No such class");
  const db = c.var.db;
  const cls = await db.query.classes.findFirst({ where: eq(classes.id, parsedId.output) });
  if (!cls) throw new ApiError("NOT_FOUND", "No such class");

  let role: ClassRole;
  if (cls.teacherId === user.id) role = "teacher";
  else if (user.role === "admin") role = "admin";
  else {
    if (cls.status === "archived") throw new ApiError("NOT_FOUND", "No such class");
    const enrolled = await db.query.enrollments.findFirst({ where: and(eq(enrollments.classId, cls.id), eq(enrollments.userId, user.id)) });
    if (!enrolled) throw new ApiError("FORBIDDEN", "You are not enrolled in this class");
    role = "student";
  }
  if (await activeBlock(db, user.id, cls.id)) throw new ApiError("FORBIDDEN", "You are blocked from this class");

  const now = Date.now();
  const upcoming = await nextOccurrence(db, cls.id, now);
  const open = upcoming && upcoming.opensAt <= now ? upcoming : null;
  const ended = open ? await endedSessionInSlot(db, cls.id, open) : null;
  if (role === "student") {
    if (!upcoming) return refuseJoin(c, "The class has no upcoming meeting", { reason: "no-meeting" });
    if (!open)
      return refuseJoin(c, `The class opens 15 minutes before it starts (${new Date(upcoming.startsAt).toISOString()})`, { reason: "not-open", ...upcoming });
    // Moderators may start a new session; a student would otherwise open an empty room that has lost the chat.
    if (ended) return refuseJoin(c, "This class has ended", { reason: "ended", ...ended });
  }

  const occurrenceId = open?.occurrenceId ?? null;
  // Recorded before the token leaves: a block or un-enrolment from now on finds this class among the user's.
  await db
    .insert(classEntries)
    .values({ userId: user.id, classId: cls.id, issuedAt: now })
    .onConflictDoUpdate({ target: [classEntries.userId, classEntries.classId], set: { issuedAt: now } });
  const fanOut = await classFanOut(c.env, db, cls.id);
  const token = await signWorkerToken(
    c.env,
    { classId: cls.id, displayName: user.displayName, role, occurrenceId, ...(fanOut > 0 ? { fanOut } : {}) },
    { audience: CLASS_TOKEN_AUDIENCE, issuer: CLASS_TOKEN_ISSUER, expiresInSeconds: CLASS_TOKEN_LIFETIME_SECONDS, subject: user.id },
  );
  const url = new URL(c.req.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `/parties/classroom/${encodeURIComponent(cls.id)}`;
  url.search = `?token=${encodeURIComponent(token)}`;
  const body: JoinResponse = {
    token,
    expiresAt: now + CLASS_TOKEN_LIFETIME_SECONDS * 1000,
    socketUrl: url.toString(),
    party: "classroom",
    room: cls.id,
    role,
    occurrenceId,
    upcoming: open ? null : upcoming,
    ended,
  };
  return c.json(body);
});

/**
 * How many fan-out objects the class's sockets are spread over (0: none), from its enrolled students and the
 * settings (schema/protocol/fan-out.ts). Decided at every join, so a class that grows past the threshold fans out
 * for those who join after; sockets already in stay where they are, and the class object serves both.
 */
async function classFanOut(env: Env, db: Db, classId: string): Promise<number> {
  const policy = fanOutPolicy(env);
  const [row] = await db.select({ n: count() }).from(enrollments).where(eq(enrollments.classId, classId));
  return fanOutCount(policy, row?.n ?? 0);
}

/** A refused join that says why as data (`error.join`), so the page can wait, or show that the class ended. */
function refuseJoin(c: Context<AppEnv>, message: string, join: JoinRefusal): Response {
  const body: JoinRefused = { error: { code: "CONFLICT", message, join } };
  return c.json(body, HTTP_STATUS.CONFLICT as 409);
}

/**
 * `/parties/classroom/:classId?token=…` — the class channel's WebSocket. The class token is verified here, at
 * the edge, before the upgrade reaches the object; the object receives the verified identity in a header it
 * trusts because nothing else can reach it. Plain HTTP requests to the object are refused.
 *
 * Each check of a join is made in one place: here the token, an active block and (for students) the enrolment,
 * in one D1 statement; in the object what it knows best — a block made in the class while the class runs, the
 * user's open sockets, and whether a student's slot was ended by a teacher (see durable-objects/ended-slot.ts).
 */
export async function routeClassroomSocket(request: Request, env: Env): Promise<Response> {
  const response = await routePartykitRequest(request, env, {
    onBeforeRequest: () => errorResponse("NOT_FOUND", "The class channel only speaks WebSocket"),
    onBeforeConnect: async (req, lobby) => {
      // Fan-out objects are reached only through the class's own address, below: never by a name a client picks.
      if (lobby.className === "CLASSROOM_SHARD") return errorResponse("NOT_FOUND", "No such party");
      const verified = await verifyClassTokenClaims(env, new URL(req.url).searchParams.get("token"));
      const identity = verified?.identity;
      if (!identity || identity.classId !== lobby.name)
        return errorResponse("UNAUTHORIZED", "The class token is missing, invalid, expired or for another class");
      // A class token lives two minutes; who may enter is decided again now, not when it was issued.
      const { blocked, enrolled } = await classEntryStanding(getDb(env.DB), identity.userId, identity.classId);
      if (blocked) return errorResponse("FORBIDDEN", "You are blocked from this class");
      if (identity.role === "student" && !enrolled) return errorResponse("FORBIDDEN", "You are not enrolled in this class");
      // partyserver takes the connection id from the `_pk` query parameter; a client that chose it could open
      // two sockets with one id, and the close of either would count the user as gone while the other stays.
      const url = new URL(req.url);
      url.searchParams.set("_pk", crypto.randomUUID());
      const forwarded = new Request(url, req);
      forwarded.headers.set(CLASS_IDENTITY_HEADER, encodeIdentityHeader(identity));
      // Where the participant connects from picks their media node; only the Worker may say so, and no
      // participant's socket may pass for an sfu-node's class link. Locally, `?region=<name>` stands in for
      // where they are (one machine, several "regions"); in production it is ignored.
      const testRegion = isLocalDev(env) ? locationOfRegion(url.searchParams.get("region")) : undefined;
      forwarded.headers.set(JOINER_LOCATION_HEADER, JSON.stringify(testRegion ?? locationFromCf(req.cf as Record<string, unknown> | undefined)));
      forwarded.headers.delete(CLASS_LINK_VERIFIED_NODE_HEADER);
      // A large class: the socket goes to one of its fan-out objects, the same one for a user every time.
      if (verified.fanOut > 0) {
        const shard = fanOutName(identity.classId, fanOutIndex(identity.userId, verified.fanOut));
        return env.CLASSROOM_SHARD.get(env.CLASSROOM_SHARD.idFromName(shard)).fetch(forwarded);
      }
      return forwarded;
    },
  });
  return response ?? errorResponse("NOT_FOUND", "No such party");
}

/** The identity in a valid class token, or null (bad signature, wrong issuer/audience, expired, malformed). */
export async function verifyClassToken(env: Env, token: string | null): Promise<ClassIdentity | null> {
  return (await verifyClassTokenClaims(env, token))?.identity ?? null;
}

/** The identity in a valid class token and the number of fan-out objects it names (0: none), or null. */
async function verifyClassTokenClaims(env: Env, token: string | null): Promise<{ identity: ClassIdentity; fanOut: number } | null> {
  if (!token || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, await workerPublicKey(env), {
      issuer: CLASS_TOKEN_ISSUER,
      audience: CLASS_TOKEN_AUDIENCE,
      algorithms: ["ES256"],
    });
    const claims = v.safeParse(ClassTokenClaimsSchema, payload);
    if (!claims.success) return null;
    const { sub, classId, displayName, role, occurrenceId, fanOut } = claims.output;
    return { identity: { userId: sub, classId, displayName, role, occurrenceId }, fanOut: fanOut ?? 0 };
  } catch {
    return null;
  }
}
