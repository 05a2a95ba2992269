import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../schema/db";
import { recordings } from "../schema/db";
import type { RecordingState } from "../schema/protocol/classroom";
import { type ClassIdentity, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import { ChannelError } from "./errors";
import type { MediaPlane, NodeLinks } from "./media";
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

/**
 * Recording control of a class: a moderator starts and stops it from the class channel; the object creates the
 * D1 recording row (status `recording`, one row per recorded interval), tells the sfu-node that carries the
 * teachers' producers over its class link, keeps the state, and tells everyone (the "REC" indicator).
 * From the stop on, the node owns the row's progress (composing → uploading → packaging → ready | failed),
 * which it reports to the Worker.
 */
export class RecordingControl {
  private readonly db;
  /** A start in flight: a second press while the first waits on D1 or the node gets the same answer. */
  private starting: Promise<RecordingState> | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly session: LiveSession,
    private readonly outbox: Outbox,
    private readonly presence: Presence,
    private readonly map: MediaMap,
    private readonly links: NodeLinks,
    private readonly media: Pick<MediaPlane, "send">,
    private readonly broadcaster: Broadcaster,
    d1: D1Database,
  ) {
    storage.run(RECORDING_TABLE);
    this.db = drizzle(d1, { schema });
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
    this.storage.run(`DELETE FROM recording WHERE id = ?`, row.id);
    this.broadcaster.emit({ type: "recording", recording: null });
    const [link] = this.links.sockets(row.node_id);
    let nodeLost = !link;
    if (link) {
      try {
        await this.media.send(link.socket, "recording.stop", { recordingId: row.id });
      } catch (error) {
        // A node that did not answer may still have it; it composes when its room closes (or on shutdown).
        console.error(JSON.stringify({ event: "recording_stop_unconfirmed", recordingId: row.id, nodeId: row.node_id, error: String(error) }));
        nodeLost = this.links.sockets(row.node_id).length === 0;
      }
    }
    await this.writeEnd(row, now, nodeLost);
    return toState(row);
  }

  private current(): RecordingRow | null {
    return this.storage.one<RecordingRow>(`SELECT * FROM recording LIMIT 1`);
  }

  private async begin(caller: ClassIdentity, now: number): Promise<RecordingState> {
    const session = this.session.current();
    if (!session) throw new ChannelError("CONFLICT", "The class is not live");
    const userIds = [caller.userId, ...this.presence.list().filter((p) => isModerator(p.role) && p.userId !== caller.userId).map((p) => p.userId)];
    const nodeId = busiestNode(this.map.producers().filter((p) => userIds.includes(p.userId)));
    if (!nodeId) throw new ChannelError("CONFLICT", "Turn on your camera, microphone or screen share first: there is nothing to record yet");
    const [link] = this.links.sockets(nodeId);
    if (!link) throw new ChannelError("UNAVAILABLE", "The media server is not reachable right now; try again in a moment");

    // The row refers to the live session, whose own row travels through the outbox: ship that first.
    await this.outbox.flush();
    const recordingId = crypto.randomUUID();
    await this.db.insert(recordings).values({ id: recordingId, classId: session.class_id, sessionId: session.id, status: "recording", startedAt: now, nodeId, createdAt: now, updatedAt: now });
    try {
      await this.media.send(link.socket, "recording.start", { recordingId, userIds });
    } catch (error) {
      // Nothing half-done: without a recorder the row would never move on.
      await this.db.delete(recordings).where(eq(recordings.id, recordingId));
      if (error instanceof ChannelError) throw new ChannelError("UNAVAILABLE", `Recording did not start: ${error.message}`);
      throw error;
    }
    this.storage.run(`INSERT INTO recording (id, session_id, node_id, started_at, started_by) VALUES (?, ?, ?, ?, ?)`, recordingId, session.id, nodeId, now, caller.userId);
    const state: RecordingState = { recordingId, startedAt: now, startedBy: caller.userId };
    this.broadcaster.emit({ type: "recording", recording: state });
    return state;
  }

  /** The interval's end in D1; a recording whose node is gone can never be composed, so it is marked failed. */
  private async writeEnd(row: RecordingRow, now: number, nodeLost: boolean): Promise<void> {
    const ended = { endedAt: now, durationMs: now - row.started_at, updatedAt: now };
    try {
      await this.db
        .update(recordings)
        .set(nodeLost ? { ...ended, status: "failed", failureReason: "The media server that held the recording went away before it stopped" } : ended)
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
