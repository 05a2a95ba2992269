import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../schema/db";
import { classes, recordings } from "../schema/db";
import type { RecordingState } from "../schema/protocol/classroom";
import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import { ChannelError } from "./errors";
import type { MediaPlane, NodeLinks, NodeWatcher, RecordingHeld } from "./media-plane";
import type { MediaMap } from "./media-map";
import type { Outbox } from "./outbox";
import type { Presence } from "./presence";
import type { LiveSession } from "./session";
import type { RoomStorage } from "./storage";

interface RecordingRow extends Record<string, string | number | null> {
  id: string;
  session_id: string;
  node_id: string;
  started_at: number;
  started_by: string;
}

/** The running recording, in the object's storage so it survives hibernation and eviction. */
const RECORDING_TABLE = `CREATE TABLE IF NOT EXISTS recording (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, node_id TEXT NOT NULL, started_at INTEGER NOT NULL, started_by TEXT NOT NULL)`;

/** Whose producers the running recording records, in layout order (moderators, then students brought on stage). */
const RECORDING_USERS_TABLE = `CREATE TABLE IF NOT EXISTS recording_users (user_id TEXT PRIMARY KEY)`;

/**
 * A recording whose node stopped carrying it while the class goes on (`reason`: the node is `draining`, `lost` —
 * its link closed —, `restarted` — back without it —, or `stopped` — its room closed under it, it composes
 * what it has). From `since` the recording waits to go on, as its next part, on the node the teachers' media
 * moved to (see {@link RecordingControl.continueElsewhere}).
 */
const RECORDING_MOVE_TABLE = `CREATE TABLE IF NOT EXISTS recording_move (
  recording_id TEXT PRIMARY KEY, since INTEGER NOT NULL, reason TEXT NOT NULL)`;

/** Which part of the class's recording the running one is (absent: the first). */
const RECORDING_PART_TABLE = `CREATE TABLE IF NOT EXISTS recording_part (recording_id TEXT PRIMARY KEY, part INTEGER NOT NULL)`;

type MoveReason = "draining" | "lost" | "restarted" | "stopped";

interface MoveRow extends Record<string, string | number | null> {
  recording_id: string;
  since: number;
  reason: MoveReason;
}

/**
 * A recording whose node is out of reach or no longer captures it ends at `due_at`: failed with
 * `failure_reason` (the node lost it), or, without one, stopped like a press of Stop (the node composes it).
 * `ended_at` is when its capture ended as far as the object can tell. In storage, so the alarm finds it.
 */
const RECORDING_END_TABLE = `CREATE TABLE IF NOT EXISTS recording_end_due (
  recording_id TEXT PRIMARY KEY, due_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, failure_reason TEXT)`;

/**
 * How long a recording's node may stay unreachable (its class link closed) before the recording counts as
 * lost. The node reconnects a dropped link within seconds (backoff up to 10 s) and keeps recording meanwhile.
 */
export const NODE_LOST_GRACE_MS = 60_000;

/** What a teacher reads on a recording whose node died under it (kill -9, crash, reboot). */
export const NODE_LOST_REASON = "The media server stopped during the recording";

/** What a teacher reads on a recording stopped while its node was out of reach. */
export const NODE_GONE_BEFORE_STOP_REASON = "The media server that held the recording went away before it stopped";

/** The same, on a part whose recording went on in the next part (a restarted node may still finish this one). */
export const PART_LOST_REASON = "The media server stopped during the recording; the recording went on in the next part";

/** The title a part of a recording that went on across a media server change gets ("" leaves the class's title). */
export function partTitle(classTitle: string, part: number): string {
  return `${classTitle} — Part ${part}`;
}

interface EndDueRow extends Record<string, string | number | null> {
  recording_id: string;
  due_at: number;
  ended_at: number;
  failure_reason: string | null;
}

/**
 * Recording control of a class: a moderator starts and stops it from the class channel; the object creates the
 * D1 recording row (status `recording`, one row per recorded interval), tells the sfu-node that carries the
 * teachers' producers over its class link, keeps the state, and tells everyone (the "REC" indicator).
 * From the stop on, the node owns the row's progress (composing → uploading → packaging → ready | failed),
 * which it reports to the Worker. A node that dies while recording (its link stays closed past
 * {@link NODE_LOST_GRACE_MS}, or it comes back without the recording) leaves the row `failed`, not `recording`.
 */
export class RecordingControl implements NodeWatcher {
  private readonly db;
  /** A start in flight: a second press while the first waits on D1 or the node gets the same answer. */
  private starting: Promise<RecordingState> | null = null;
  /** A next part being started (one at a time: every trigger while it runs finds it). */
  private continuing: Promise<void> | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly session: LiveSession,
    private readonly outbox: Outbox,
    private readonly presence: Presence,
    private readonly map: MediaMap,
    private readonly links: NodeLinks,
    private readonly media: Pick<MediaPlane, "send" | "watch" | "pipe">,
    private readonly broadcaster: Broadcaster,
    d1: D1Database,
    /** Makes sure the object's alarm fires no later than `at` (the Classroom owns the one alarm). */
    private readonly scheduleAlarm: (at: number) => void,
  ) {
    storage.run(RECORDING_TABLE);
    storage.run(RECORDING_END_TABLE);
    storage.run(RECORDING_USERS_TABLE);
    storage.run(RECORDING_MOVE_TABLE);
    storage.run(RECORDING_PART_TABLE);
    this.db = drizzle(d1, { schema });
    media.watch(this);
  }

  /** The running recording, or null. */
  state(): RecordingState | null {
    const row = this.current();
    return row ? toState(row) : null;
  }

  /**
   * Starts recording the teachers and admins in the class (the caller first). Answers the running recording
   * when one is already on. `CONFLICT` while none of them sends anything: the node records producers, and
   * there would be nothing to record.
   */
  start(caller: ClassIdentity, now: number): Promise<RecordingState> {
    const running = this.state();
    if (running) return Promise.resolve(running);
    this.starting ??= this.begin(caller, now).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /**
   * Stops the running recording (null when none ran). The state is cleared and announced at once; the node
   * then composes, uploads and packages on its own and reports progress to the Worker.
   */
  async stop(now: number): Promise<RecordingState | null> {
    const row = this.current();
    if (!row) return null;
    this.forget(row);
    const [link] = this.links.sockets(row.node_id);
    let failureReason: string | null = link ? null : NODE_GONE_BEFORE_STOP_REASON;
    if (link) {
      try {
        await this.media.send(link.socket, "recording.stop", { recordingId: row.id });
      } catch (error) {
        console.error(JSON.stringify({ event: "recording_stop_unconfirmed", recordingId: row.id, nodeId: row.node_id, error: String(error) }));
        if (error instanceof ChannelError && error.code === "NOT_FOUND") {
          // The node answered and has no such recording: its process restarted under the same id and lost it.
          // Nothing will ever report on this row again, so it ends failed here.
          failureReason = NODE_LOST_REASON;
        } else if (this.links.sockets(row.node_id).length === 0) {
          failureReason = NODE_GONE_BEFORE_STOP_REASON;
        }
        // Otherwise a node that did not answer may still have it; it composes when its room closes (or on shutdown).
      }
    }
    await this.writeEnd(row, now, failureReason);
    return toState(row);
  }

  /**
   * A student went on stage: while a recording runs they are recorded too, wherever their media is (their
   * producers on other nodes are piped to the recording's node).
   */
  async stageJoined(userId: string): Promise<void> {
    const row = this.current();
    if (!row || this.recordedUsers().includes(userId)) return;
    this.storage.run(`INSERT OR IGNORE INTO recording_users (user_id) VALUES (?)`, userId);
    const [link] = this.links.sockets(row.node_id);
    if (!link) return;
    try {
      await this.media.send(link.socket, "recording.include", { recordingId: row.id, userIds: [userId] });
    } catch (error) {
      console.error(JSON.stringify({ event: "recording_include_failed", recordingId: row.id, userId, error: String(error) }));
    }
    this.pipeRecorded(row);
  }

  /** A producer appeared on `nodeId`: a recorded user's on another node than the recording's is piped there. */
  producerAdded(nodeId: string, producer: { producerId: string; userId: string }, now: number): void {
    const row = this.current();
    if (!row || nodeId === row.node_id || !this.recordedUsers().includes(producer.userId)) return;
    if (this.moving()) this.continueElsewhere(now);
    else this.media.pipe(row.node_id, producer.producerId);
  }

  /** The node drains (SIGTERM): its people are moved now, and the recording goes on where the teachers go. */
  nodeDraining(nodeId: string, now: number): void {
    const row = this.current();
    if (row?.node_id !== nodeId) return;
    this.markMoving(row, now, "draining");
    this.continueElsewhere(now);
  }

  /**
   * The node's last link closed: the recording goes on as its next part where the teachers' media moves (their
   * node is gone too: the class moves them within seconds), or, if nothing continues it and the node is not back
   * within {@link NODE_LOST_GRACE_MS}, it is lost.
   */
  nodeGone(nodeId: string, now: number): void {
    const row = this.current();
    if (row?.node_id !== nodeId) return;
    // A node that said its room closed under the recording composes it: its link closing after that loses nothing
    // (and a recording already ending with its room does not go on).
    const endingStopped = this.storage.one(`SELECT recording_id FROM recording_end_due WHERE failure_reason IS NULL`) !== null;
    if (endingStopped && !this.moving()) return;
    if (this.moving()?.reason !== "stopped") this.markMoving(row, now, "lost");
    this.endAt(row.id, now + NODE_LOST_GRACE_MS, now, NODE_LOST_REASON);
    this.continueElsewhere(now);
  }

  /**
   * The node's link is back. Its `recordings` frame, which comes next, says whether it still has the
   * recording; a node from before that frame sends none, and is trusted to have kept it.
   */
  nodeBack(nodeId: string, now: number): void {
    const row = this.current();
    if (!row) return;
    if (row.node_id === nodeId) {
      this.storage.run(`DELETE FROM recording_end_due`);
      return;
    }
    // Its producers may be new: the recording's copies are asked for again, or the recording goes on there.
    if (this.moving()) this.continueElsewhere(now);
    else this.pipeRecorded(row);
  }

  /**
   * The node's recordings of this class: still capturing ours — it goes on there (its pipes asked for again);
   * stopped (its room closed under it) — the node composes it, and while the node drains or was lost the
   * recording goes on as its next part where the teachers moved, else it ends now; not there — its process
   * lost it (restarted): it goes on as its next part, on this node too (see {@link continueElsewhere}).
   * Without a next part within {@link NODE_LOST_GRACE_MS}, it ends (failed when the node lost it).
   */
  nodeHolds(nodeId: string, recordings: readonly RecordingHeld[], now: number): void {
    const row = this.current();
    if (row?.node_id !== nodeId) return;
    const held = recordings.find((recording) => recording.recordingId === row.id);
    if (held?.capturing) {
      this.storage.run(`DELETE FROM recording_end_due`);
      if (this.moving()?.reason === "lost") this.storage.run(`DELETE FROM recording_move`);
      this.pipeRecorded(row);
      return;
    }
    if (held && !this.moving()) {
      this.endAt(row.id, now, now, null);
      return;
    }
    this.markMoving(row, now, held ? "stopped" : "restarted");
    const since = this.moving()!.since;
    this.endAt(row.id, now + NODE_LOST_GRACE_MS, since, held ? null : NODE_LOST_REASON);
    this.continueElsewhere(now);
  }

  /** When the alarm must end a recording (see {@link nodeGone}), or null. */
  nextEndDue(): number | null {
    return this.storage.one<{ due_at: number }>(`SELECT due_at FROM recording_end_due ORDER BY due_at LIMIT 1`)?.due_at ?? null;
  }

  /** Run by the alarm: ends the recording whose end is due — REC off for everyone, and its row's end in D1. */
  async endDue(now: number): Promise<void> {
    const due = this.storage.one<EndDueRow>(`SELECT * FROM recording_end_due WHERE due_at <= ? LIMIT 1`, now);
    if (!due) return;
    this.storage.run(`DELETE FROM recording_end_due WHERE recording_id = ?`, due.recording_id);
    const row = this.current();
    if (row?.id !== due.recording_id) return;
    this.forget(row);
    const event = due.failure_reason ? "recording_lost_with_node" : "recording_ended_with_room";
    console.warn(JSON.stringify({ event, recordingId: row.id, nodeId: row.node_id, failureReason: due.failure_reason }));
    await this.writeEnd(row, due.ended_at, due.failure_reason);
  }

  /**
   * The earlier decision wins: a node that said its room closed under the recording (ends now, composed by the
   * node) and then dropped its link has not lost it; a link gone for the grace and then back without it has.
   */
  private endAt(recordingId: string, dueAt: number, endedAt: number, failureReason: string | null): void {
    this.storage.run(
      `INSERT INTO recording_end_due (recording_id, due_at, ended_at, failure_reason) VALUES (?, ?, ?, ?)
       ON CONFLICT (recording_id) DO UPDATE SET due_at = excluded.due_at, ended_at = MIN(ended_at, excluded.ended_at), failure_reason = excluded.failure_reason
       WHERE excluded.due_at < recording_end_due.due_at`,
      recordingId,
      dueAt,
      endedAt,
      failureReason,
    );
    this.scheduleAlarm(dueAt);
  }

  /** The recording is no longer running here: its state goes, and everyone's REC indicator with it. */
  private forget(row: RecordingRow): void {
    this.storage.run(`DELETE FROM recording WHERE id = ?`, row.id);
    this.storage.run(`DELETE FROM recording_users`);
    this.storage.run(`DELETE FROM recording_move`);
    this.storage.run(`DELETE FROM recording_part`);
    this.storage.run(`DELETE FROM recording_end_due`);
    this.broadcaster.emit({ type: "recording", recording: null });
  }

  private moving(): MoveRow | null {
    const row = this.current();
    return row ? this.storage.one<MoveRow>(`SELECT * FROM recording_move WHERE recording_id = ?`, row.id) : null;
  }

  /** The recording waits to go on elsewhere from now (or from when it first did); `reason` is the latest word. */
  private markMoving(row: RecordingRow, now: number, reason: MoveReason): void {
    this.storage.run(
      `INSERT INTO recording_move (recording_id, since, reason) VALUES (?, ?, ?) ON CONFLICT (recording_id) DO UPDATE SET reason = excluded.reason`,
      row.id,
      now,
      reason,
    );
  }

  /**
   * A recording whose node stopped carrying it goes on as its next part on the node that carries the recorded
   * teachers' media now (the class moved them there: within seconds of a kill, at once for a drain). The node
   * it was on qualifies only when its process restarted (it holds nothing; the class may send people back to it).
   */
  private continueElsewhere(now: number): void {
    const row = this.current();
    const move = this.moving();
    if (!row || !move || this.continuing) return;
    const moderators = this.recordedUsers().filter((userId) => {
      const participant = this.presence.get(userId);
      return participant !== null && isModerator(participant.role);
    });
    const qualifies = (nodeId: string) => this.links.sockets(nodeId).length > 0 && (nodeId !== row.node_id || move.reason === "restarted");
    const nodeId = busiestNode(this.map.producers().filter((p) => moderators.includes(p.userId) && qualifies(p.nodeId)));
    if (!nodeId) return;
    this.continuing = this.continueOn(row, move, nodeId, now)
      .catch((error: unknown) => console.error(JSON.stringify({ event: "recording_part_not_started", recordingId: row.id, nodeId, error: String(error) })))
      .finally(() => {
        this.continuing = null;
      });
  }

  /**
   * Starts the next part on `nodeId` (its own D1 row, titled "… — Part n", and both parts' titles say so), makes
   * it the running recording (REC stays on), then ends the part before: a draining node is told to stop it (it
   * composes and publishes what it has), a node whose room closed composes it already, and a lost node's part
   * ends failed — its restarted process still finishes it from its disk (recovery.ts), which turns it `ready`.
   */
  private async continueOn(row: RecordingRow, move: MoveRow, nodeId: string, now: number): Promise<void> {
    const session = this.session.current();
    const [link] = this.links.sockets(nodeId);
    if (!session || !link) return;
    const part = this.partOf(row.id) + 1;
    const classTitle = (await this.db.select({ title: classes.title }).from(classes).where(eq(classes.id, session.class_id)))[0]?.title ?? "";
    const userIds = this.recordedUsers().filter((userId) => this.presence.get(userId) !== null);
    // On failure the next trigger (a producer, a link) tries again until the grace ends it.
    const recordingId = await this.startOn(
      link.socket,
      { classId: session.class_id, sessionId: session.id, nodeId, title: partTitle(classTitle, part) },
      userIds,
      now,
    );
    const next: RecordingRow = { id: recordingId, session_id: session.id, node_id: nodeId, started_at: now, started_by: row.started_by };
    if (this.current()?.id !== row.id) {
      // Stopped (or the class ended) while the part started: it stops at once.
      await this.media.send(link.socket, "recording.stop", { recordingId }).catch(() => undefined);
      await this.writeEnd(next, Date.now(), null);
      return;
    }
    this.storage.run(`DELETE FROM recording WHERE id = ?`, row.id);
    this.storage.run(`DELETE FROM recording_move`);
    this.storage.run(`DELETE FROM recording_end_due`);
    this.storage.run(`DELETE FROM recording_part`);
    this.storage.run(
      `INSERT INTO recording (id, session_id, node_id, started_at, started_by) VALUES (?, ?, ?, ?, ?)`,
      next.id,
      next.session_id,
      next.node_id,
      next.started_at,
      next.started_by,
    );
    this.storage.run(`INSERT INTO recording_part (recording_id, part) VALUES (?, ?)`, next.id, part);
    this.broadcaster.emit({ type: "recording", recording: toState(next) });
    console.log(
      JSON.stringify({
        event: "recording_continued",
        recordingId: row.id,
        nextRecordingId: recordingId,
        from: row.node_id,
        to: nodeId,
        reason: move.reason,
        part,
        gapMs: now - move.since,
      }),
    );
    this.pipeRecorded(next);

    await this.db
      .update(recordings)
      .set({ title: partTitle(classTitle, part - 1) })
      .where(and(eq(recordings.id, row.id), eq(recordings.title, "")));
    if (move.reason === "draining") {
      const [old] = this.links.sockets(row.node_id);
      if (old) await this.media.send(old.socket, "recording.stop", { recordingId: row.id }).catch(() => undefined);
      await this.writeEnd(row, now, null);
    } else {
      await this.writeEnd(row, move.since, move.reason === "stopped" ? null : PART_LOST_REASON);
    }
  }

  private partOf(recordingId: string): number {
    return this.storage.one<{ part: number }>(`SELECT part FROM recording_part WHERE recording_id = ?`, recordingId)?.part ?? 1;
  }

  private recordedUsers(): string[] {
    return this.storage.all<{ user_id: string }>(`SELECT user_id FROM recording_users ORDER BY rowid`).map((r) => r.user_id);
  }

  /**
   * Recorded users' producers on other nodes than the recording's are piped to it (the cascade: one copy per
   * producer and node, kept while the recorder consumes it), so a class spread over nodes is recorded whole.
   */
  private pipeRecorded(row: RecordingRow): void {
    const recorded = new Set(this.recordedUsers());
    for (const producer of this.map.producers())
      if (producer.nodeId !== row.node_id && recorded.has(producer.userId)) this.media.pipe(row.node_id, producer.producerId);
  }

  /**
   * A `recording` row on `nodeId` and that node told to record into it, its id; if the node cannot, the row is
   * deleted again, so nothing half-done stays (a row without a recorder would never move on).
   */
  private async startOn(
    socket: Parameters<MediaPlane["send"]>[0],
    row: { classId: string; sessionId: string; nodeId: string; title?: string },
    userIds: string[],
    now: number,
  ): Promise<string> {
    const recordingId = crypto.randomUUID();
    await this.db.insert(recordings).values({ id: recordingId, ...row, status: "recording", startedAt: now, createdAt: now, updatedAt: now });
    try {
      await this.media.send(socket, "recording.start", { recordingId, userIds });
    } catch (error) {
      await this.db.delete(recordings).where(eq(recordings.id, recordingId));
      throw error;
    }
    return recordingId;
  }

  private current(): RecordingRow | null {
    return this.storage.one<RecordingRow>(`SELECT * FROM recording LIMIT 1`);
  }

  private async begin(caller: ClassIdentity, now: number): Promise<RecordingState> {
    const session = this.session.current();
    if (!session) throw new ChannelError("CONFLICT", "The class is not live");
    const moderators = [
      caller.userId,
      ...this.presence
        .list()
        .filter((p) => isModerator(p.role) && p.userId !== caller.userId)
        .map((p) => p.userId),
    ];
    const userIds = [...moderators, ...this.map.stage().filter((userId) => !moderators.includes(userId) && this.presence.get(userId))];
    // Where the teachers' media is: the recording's pipes then carry only the stage's (and any other moderator's).
    const nodeId = busiestNode(this.map.producers().filter((p) => moderators.includes(p.userId)));
    if (!nodeId) throw new ChannelError("CONFLICT", "Turn on your camera, microphone or screen share first: there is nothing to record yet");
    const [link] = this.links.sockets(nodeId);
    if (!link) throw new ChannelError("UNAVAILABLE", "The media server is not reachable right now; try again in a moment");

    // The row refers to the live session, whose own row travels through the outbox: ship that first.
    await this.outbox.flush();
    const recordingId = await this.startOn(link.socket, { classId: session.class_id, sessionId: session.id, nodeId }, userIds, now).catch((error: unknown) => {
      throw error instanceof ChannelError ? new ChannelError("UNAVAILABLE", `Recording did not start: ${error.message}`) : error;
    });
    this.storage.run(
      `INSERT INTO recording (id, session_id, node_id, started_at, started_by) VALUES (?, ?, ?, ?, ?)`,
      recordingId,
      session.id,
      nodeId,
      now,
      caller.userId,
    );
    for (const userId of userIds) this.storage.run(`INSERT OR IGNORE INTO recording_users (user_id) VALUES (?)`, userId);
    this.pipeRecorded(this.current()!);
    const state: RecordingState = { recordingId, startedAt: now, startedBy: caller.userId };
    this.broadcaster.emit({ type: "recording", recording: state });
    return state;
  }

  /**
   * The interval's end in D1; a recording whose node is gone can never be composed, so it is marked failed
   * (`failureReason`). Only a row still `recording` changes: a node that got further reported that itself.
   */
  private async writeEnd(row: RecordingRow, endedAt: number, failureReason: string | null): Promise<void> {
    const ended = { endedAt, durationMs: endedAt - row.started_at, updatedAt: Date.now() };
    try {
      await this.db
        .update(recordings)
        .set(failureReason ? { ...ended, status: "failed", failureReason } : ended)
        .where(and(eq(recordings.id, row.id), isNull(recordings.endedAt), eq(recordings.status, "recording")));
    } catch (error) {
      // The node reports endedAt and durationMs with `composing` too; this write only fills them in early.
      console.error(JSON.stringify({ event: "recording_end_write_failed", recordingId: row.id, error: String(error) }));
    }
  }
}

function toState(row: RecordingRow): RecordingState {
  return { recordingId: row.id, startedAt: row.started_at, startedBy: row.started_by };
}

/** The node carrying most of these producers (a user's producers all live on their one node). */
function busiestNode(producers: readonly { nodeId: string }[]): string | null {
  const counts = new Map<string, number>();
  for (const p of producers) counts.set(p.nodeId, (counts.get(p.nodeId) ?? 0) + 1);
  let best: string | null = null;
  for (const [nodeId, count] of counts) if (best === null || count > counts.get(best)!) best = nodeId;
  return best;
}
