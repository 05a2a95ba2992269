/**
 * A browserless participant of a live class, for the tests and benchmarks that need many of them or that break
 * the stack under them (e2e/fault-restart.test.ts, bench/soak.ts): it signs in through the real SSO link,
 * enters through `POST /api/classes/:id/join` and speaks the class channel over a Node WebSocket, exactly the
 * frames the web app sends. Nothing here reaches into the Worker or the object.
 */
import WebSocket from "ws";
import * as v from "valibot";
import { JoinResponseSchema } from "../../schema/api/join";
import { ClassResponseSchema } from "../../schema/api/portal";
import { type ErrorCode, HttpErrorSchema } from "../../schema/errors";
import { ResponseFrameSchema } from "../../schema/protocol/envelope";
import type { ClassroomMethod, ClassroomNotification, ClassroomResponses } from "../../schema/protocol/classroom";
import { type CLASSROOM_METHODS, CLASSROOM_RESPONSES, ClassroomNotificationSchema, HEARTBEAT_PING } from "../../schema/protocol/classroom";
import { newPerson, type SsoPerson, ssoLink } from "./sso";

/** A signed-in user: their session cookie and who they are. */
export interface Account {
  person: SsoPerson;
  cookie: string;
  userId: string;
}

/** A refusal from the API or the class channel, with the closed error code it carried. */
export class ChannelError extends Error {
  constructor(
    readonly code: ErrorCode | "TIMEOUT" | "CLOSED",
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "ChannelError";
  }
}

/**
 * Calls the HTTP API as `account` (same-origin, as the app's pages do) and returns the JSON body checked against
 * `schema` (the reply's own schema, as the web app checks it; `v.unknown()` where the body is not used).
 */
export async function api<S extends v.GenericSchema>(
  baseUrl: string,
  account: Account | null,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
): Promise<v.InferOutput<S>> {
  const headers: Record<string, string> = { origin: baseUrl };
  if (account) headers.cookie = account.cookie;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(new URL(path, baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) {
    const error = (() => {
      try {
        return v.parse(HttpErrorSchema, JSON.parse(text)).error;
      } catch {
        return undefined;
      }
    })();
    throw new ChannelError(error?.code ?? "INTERNAL", `${method} ${path} → ${response.status} ${error?.message ?? text.slice(0, 200)}`);
  }
  return v.parse(schema, text ? JSON.parse(text) : null);
}

/** Signs a new person in through a one-time SSO link and keeps the session cookie the Worker sets. */
export async function signIn(baseUrl: string, role: SsoPerson["role"], name: string): Promise<Account> {
  const person = newPerson(role, name);
  const response = await fetch(await ssoLink(baseUrl, person), { redirect: "manual" });
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(";")[0]!)
    .join("; ");
  if (response.status !== 302 || !cookie)
    throw new Error(`SSO sign-in of ${person.email} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const me = await api(baseUrl, { person, cookie, userId: "" }, "GET", "/api/me", v.object({ user: v.object({ id: v.string() }) }));
  return { person, cookie, userId: me.user.id };
}

/**
 * A class taught by `teacher` that is on now (one occurrence from a minute ago for `hours`), with `students`
 * enrolled by the teacher through the API.
 */
export async function openClass(baseUrl: string, teacher: Account, students: Account[], hours = 2): Promise<string> {
  const created = await api(baseUrl, teacher, "POST", "/api/classes", ClassResponseSchema, { title: `Fault class ${new Date().toISOString()}` });
  const classId = created.class.id;
  const now = Date.now();
  await api(baseUrl, teacher, "POST", `/api/classes/${classId}/occurrences`, v.unknown(), {
    startsAt: now - 60_000,
    endsAt: now + hours * 3_600_000,
    timezone: "UTC",
  });
  for (const student of students) await api(baseUrl, teacher, "POST", `/api/classes/${classId}/enrollments`, v.unknown(), { email: student.person.email });
  return classId;
}

type Pending = { resolve: (data: unknown) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> };

/** How long a request may wait for its answer before it counts as lost. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Below the object's 90 s heartbeat timeout with room for a busy machine. */
const PING_INTERVAL_MS = 25_000;

/** One open class-channel socket: requests with ids and a timeout, notifications counted and kept. */
export class ClassChannel {
  /** Every notification received, in order (the snapshot first). */
  readonly notifications: ClassroomNotification[] = [];
  readonly #listeners = new Set<(notification: ClassroomNotification) => void>();
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #ping: ReturnType<typeof setInterval>;
  #closed = false;
  /** Close code when the socket closed, else null. */
  closeCode: number | null = null;

  private constructor(readonly socket: WebSocket) {
    this.#ping = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send(HEARTBEAT_PING), PING_INTERVAL_MS);
    socket.on("message", (raw) => this.#receive(raw.toString()));
    socket.on("close", (code) => {
      this.closeCode = code;
      this.#shutDown(new ChannelError("CLOSED", `socket closed (${code}) before the answer`));
    });
    socket.on("error", () => this.#shutDown(new ChannelError("CLOSED", "socket error before the answer")));
  }

  /** Joins `classId` as `account` (POST /join, then the socket) and resolves once the snapshot arrived. */
  static async join(baseUrl: string, account: Account, classId: string, timeoutMs = 60_000): Promise<ClassChannel> {
    const join = await api(baseUrl, account, "POST", `/api/classes/${classId}/join`, JoinResponseSchema);
    return ClassChannel.open(join.socketUrl, baseUrl, account.person.email, timeoutMs);
  }

  /**
   * Opens the class channel at `socketUrl` (a signed class token in its query, as `/join` answers; benchmarks that
   * sign tokens themselves come in here) and resolves once the snapshot arrived; `who` names the person in errors.
   */
  static async open(socketUrl: string, origin: string, who: string, timeoutMs = 60_000): Promise<ClassChannel> {
    const socket = new WebSocket(socketUrl, { headers: { origin } });
    const channel = new ClassChannel(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no snapshot for ${who} within ${timeoutMs / 1000} s`)), timeoutMs);
      const check = () => {
        if (channel.notifications.some((n) => n.notification === "snapshot")) {
          clearTimeout(timer);
          resolve();
        } else if (channel.#closed) {
          clearTimeout(timer);
          reject(new Error(`class channel of ${who} closed (${channel.closeCode}) before its snapshot`));
        } else setTimeout(check, 20);
      };
      check();
    });
    return channel;
  }

  get snapshot(): Extract<ClassroomNotification, { notification: "snapshot" }>["data"] {
    const found = this.notifications.find((n) => n.notification === "snapshot");
    if (found?.notification !== "snapshot") throw new Error("no snapshot yet");
    return found.data;
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** Sends one request; resolves with its answer's data, rejects with the refusal, a timeout or the close. */
  request<M extends ClassroomMethod>(method: M, data: v.InferInput<(typeof CLASSROOM_METHODS)[M]["request"]>): Promise<ClassroomResponses[M]> {
    if (this.#closed) return Promise.reject(new ChannelError("CLOSED", "socket already closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ChannelError("TIMEOUT", `${method} unanswered after ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      // The answer is checked against the method's response schema, as the web app checks it.
      this.#pending.set(id, { resolve: (data) => resolve(v.parse(CLASSROOM_RESPONSES[method], data) as ClassroomResponses[M]), reject, timer });
      this.socket.send(JSON.stringify({ id, method, data }));
    });
  }

  /** Calls `listener` with every notification from now on (as the web app reacts to `media.move`); returns its removal. */
  onNotification(listener: (notification: ClassroomNotification) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes the socket as a leaving browser does (1000) and fails what is still waiting. */
  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000, "bye");
    this.#shutDown(new ChannelError("CLOSED", "closed by the client"));
  }

  #receive(text: string): void {
    if (text === "pong") return;
    const frame: unknown = JSON.parse(text);
    const notification = v.safeParse(ClassroomNotificationSchema, frame);
    if (notification.success) {
      this.notifications.push(notification.output);
      for (const listener of this.#listeners) listener(notification.output);
      return;
    }
    // Anything else must be an answer; a frame that is neither fails the test here, as it would the web app.
    const answer = v.parse(ResponseFrameSchema, frame);
    if (typeof answer.id !== "number") return;
    const pending = this.#pending.get(answer.id);
    if (!pending) return;
    this.#pending.delete(answer.id);
    clearTimeout(pending.timer);
    if (answer.ok) {
      try {
        pending.resolve(answer.data);
      } catch (error) {
        pending.reject(error as Error);
      }
    } else pending.reject(new ChannelError(answer.error.code, answer.error.message));
  }

  #shutDown(error: Error): void {
    this.#closed = true;
    clearInterval(this.#ping);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
  }
}
