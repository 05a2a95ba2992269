import { SELF } from "cloudflare:test";
import * as v from "valibot";
import { expect } from "vitest";
import { classes, enrollments, occurrences, type User } from "../../schema/db";
import {
  CLASSROOM_RESPONSES,
  type ChatMessage,
  type ClassroomEvent,
  type ClassroomMethod,
  type ClassroomNotification,
  type JoinResponse,
  type Participant,
  type Poll,
  type Snapshot,
} from "../../schema/protocol/classroom";
import type { ResponseFrame } from "../../schema/protocol/envelope";
import { api, createUser, db } from "./helpers";

/**
 * How long a wait for a frame or a D1 write gives up after. Passing waits end as soon as the thing arrives; the
 * limit only has to outlast a machine running several test suites at once, where a fan-out or an outbox flush can
 * take seconds.
 */
const WAIT_MS = 15_000;

/** A class with an occurrence that is on now, its teacher and `students` enrolled students. */
export async function createLiveClass(students = 0, options: { startsInMs?: number } = {}) {
  const teacher = await createUser("teacher");
  const now = Date.now();
  const id = crypto.randomUUID();
  await db.insert(classes).values({ id, title: "Live algebra", teacherId: teacher.id, createdAt: now, updatedAt: now });
  const startsAt = now + (options.startsInMs ?? -5 * 60_000);
  await db
    .insert(occurrences)
    .values({ id: crypto.randomUUID(), classId: id, startsAt, endsAt: startsAt + 3_600_000, timezone: "UTC", createdAt: now, updatedAt: now });
  const enrolled: User[] = [];
  for (let i = 0; i < students; i += 1) enrolled.push(await enroll(id, await createUser("student")));
  return { classId: id, teacher, students: enrolled };
}

export async function enroll(classId: string, user: User): Promise<User> {
  await db.insert(enrollments).values({ classId, userId: user.id, createdAt: Date.now() });
  return user;
}

/** Asks the Worker for a class token, as the web app does. */
export async function joinToken(user: User, classId: string): Promise<JoinResponse> {
  const res = await api(`/api/classes/${classId}/join`, { method: "POST", as: user });
  if (res.status !== 200) throw new Error(`join refused: ${res.status} ${await res.text()}`);
  return res.json<JoinResponse>();
}

/** Opens the raw socket (a real WebSocket upgrade through the Worker); returns the upgrade response on refusal. */
export async function openSocket(classId: string, token: string | null): Promise<{ socket: WebSocket | null; response: Response }> {
  const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
  const response = await SELF.fetch(`http://localhost/parties/classroom/${classId}${query}`, { headers: { Upgrade: "websocket" } });
  return { socket: response.webSocket, response };
}

/** A class-channel client for tests: records every frame, sends requests and waits for their replies. */
export class ChannelClient {
  readonly notifications: ClassroomNotification[] = [];
  readonly responses = new Map<number, ResponseFrame>();
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | null = null;
  private nextId = 1;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
      this.raw.push(text);
      const frame = JSON.parse(text) as ClassroomNotification | ResponseFrame;
      if ("notification" in frame) this.notifications.push(frame);
      else if (frame.id !== null) this.responses.set(frame.id, frame);
      else this.responses.set(-this.raw.length, frame);
      this.wake();
    });
    socket.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
    socket.accept();
  }

  /** Joins `classId` as `user` through the real route and socket. */
  static async join(user: User, classId: string): Promise<ChannelClient> {
    const { token } = await joinToken(user, classId);
    const { socket, response } = await openSocket(classId, token);
    if (!socket) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
    const client = new ChannelClient(socket);
    await client.until(() => client.snapshot !== null, "snapshot");
    return client;
  }

  get snapshot(): Snapshot | null {
    const first = this.notifications.find((n) => n.notification === "snapshot");
    return first?.notification === "snapshot" ? first.data : null;
  }

  /** Every event after the snapshot, in arrival order, skipping those the snapshot already holds. */
  get events(): ClassroomEvent[] {
    const since = this.snapshot?.seq ?? 0;
    return this.notifications.flatMap((n) => (n.notification === "events" ? n.data.events.filter((e) => e.seq > since) : []));
  }

  /** Chat as this client sees it: snapshot plus message events minus deletions. */
  get chat(): ChatMessage[] {
    const messages = [...(this.snapshot?.chat ?? [])];
    for (const event of this.events) {
      if (event.type === "chat.message") messages.push(event.message);
      if (event.type === "chat.deleted")
        messages.splice(
          messages.findIndex((m) => m.id === event.messageId),
          1,
        );
    }
    return messages;
  }

  /** Participants as this client sees them now. */
  get participants(): Map<string, Participant> {
    const map = new Map((this.snapshot?.participants ?? []).map((p) => [p.userId, p]));
    for (const event of this.events) {
      if (event.type !== "participants") continue;
      for (const p of event.upserts) map.set(p.userId, p);
      for (const id of event.removed) map.delete(id);
    }
    return map;
  }

  /** The head count as this client was last told it. */
  get headCount(): number | null {
    let count = this.snapshot?.headCount ?? null;
    for (const event of this.events) if (event.type === "headcount") count = event.count;
    return count;
  }

  /** The latest view of a poll this client has. */
  poll(pollId: string): Poll | undefined {
    let poll = this.snapshot?.polls.find((p) => p.id === pollId);
    for (const event of this.events) if (event.type === "poll" && event.poll.id === pollId) poll = event.poll;
    return poll;
  }

  sendRaw(frame: string | ArrayBuffer): void {
    this.socket.send(frame);
  }

  /** Sends a request and resolves with its response frame (ok or error). */
  async request(method: ClassroomMethod | string, data?: unknown): Promise<ResponseFrame> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify(data === undefined ? { id, method } : { id, method, data }));
    await this.until(() => this.responses.has(id), `response to ${method}`);
    return this.responses.get(id)!;
  }

  /**
   * Sends a request that must succeed; returns its data, which must be exactly what the method's response schema
   * names (the browser refuses an answer its schema does not describe).
   */
  async ok<T = unknown>(method: ClassroomMethod, data?: unknown): Promise<T> {
    const response = await this.request(method, data);
    if (!response.ok) throw new Error(`${method} failed: ${response.error.code} ${response.error.message}`);
    const parsed = v.safeParse(CLASSROOM_RESPONSES[method], response.data);
    expect(parsed.issues ?? [], `the answer to ${method} does not match its schema`).toEqual([]);
    expect(parsed.output, `the answer to ${method} has fields its schema does not name`).toEqual(response.data);
    return response.data as T;
  }

  /** Waits until `condition` holds (checked on every frame), failing after {@link WAIT_MS}. */
  async until(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed && !condition()) {
        if (what !== "close") throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== null, "close");
    return this.closed!;
  }

  close(): void {
    if (!this.closed) this.socket.close(1000, "bye");
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Retries `check` until it passes (D1 receives the object's writes in batches, a moment later). */
export async function eventually(check: () => Promise<void>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
