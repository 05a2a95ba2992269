import type { MediaProducerInfo } from "../schema/protocol/classroom";
import type { LinkProducer } from "../schema/protocol/class-link";
import type { MediaSource } from "../schema/tokens/media-token";
import type { Broadcaster } from "./broadcaster";
import type { RoomStorage } from "./storage";

interface ProducerRow extends Record<string, string | number | null> {
  producer_id: string;
  user_id: string;
  node_id: string;
  kind: string;
  source: string;
  paused: number;
}

/**
 * The class's media map: which producers exist (whose, of what, on which node, paused or not), who is on
 * stage, and everyone's network quality. sfu-nodes report producers over their class links; the map keeps
 * them in the object's storage (so they survive hibernation) and tells the class through the broadcaster.
 */
export class MediaMap {
  /** Latest quality per user; not stored: nodes report it every few seconds. */
  private readonly quality = new Map<string, number>();

  constructor(
    private readonly storage: RoomStorage,
    private readonly broadcaster: Broadcaster,
    /** Called after producers went away and none is sharing a screen any more (its annotations must go). */
    private readonly onScreenShareEnded: () => void = () => undefined,
    /** Called when a user starts sharing their screen (a new screen producer; not a node re-reporting one). */
    private readonly onScreenShareStarted: (userId: string) => void = () => undefined,
    /** Called after a user went on stage or off it (students see whoever is on stage; the report counts time on stage). */
    private readonly onStageChanged: (userId: string, onStage: boolean) => void = () => undefined,
  ) {}

  producers(): MediaProducerInfo[] {
    return this.storage.all<ProducerRow>(`SELECT * FROM media_producers ORDER BY rowid`).map(toInfo);
  }

  /** The producer `userId` sends for `source`, if any. */
  find(userId: string, source: MediaSource): MediaProducerInfo | null {
    const row = this.storage.one<ProducerRow>(`SELECT * FROM media_producers WHERE user_id = ? AND source = ?`, userId, source);
    return row ? toInfo(row) : null;
  }

  /** A node (re)connected and told us everything it has: that replaces what we knew about it. */
  syncNode(nodeId: string, producers: readonly LinkProducer[]): void {
    const known = new Map(
      this.storage.all<ProducerRow>(`SELECT * FROM media_producers WHERE node_id = ?`, nodeId).map((row) => [row.producer_id, toInfo(row)]),
    );
    const upserts: MediaProducerInfo[] = [];
    for (const producer of producers) {
      const info: MediaProducerInfo = { ...producer, nodeId };
      const before = known.get(producer.producerId);
      known.delete(producer.producerId);
      if (before && before.paused === info.paused) continue;
      this.write(info);
      upserts.push(info);
    }
    const removed = [...known.keys()];
    for (const producerId of removed) this.storage.run(`DELETE FROM media_producers WHERE producer_id = ?`, producerId);
    this.announce(upserts, removed);
  }

  added(nodeId: string, producer: LinkProducer): void {
    const info: MediaProducerInfo = { ...producer, nodeId };
    const startsShare = producer.source === "screen" && this.find(producer.userId, "screen") === null;
    this.write(info);
    this.announce([info], []);
    if (startsShare) this.onScreenShareStarted(producer.userId);
  }

  removed(nodeId: string, producerId: string): void {
    if (!this.deleteWhere(`producer_id = ? AND node_id = ?`, producerId, nodeId)) return;
    this.announce([], [producerId]);
  }

  paused(nodeId: string, producerId: string, paused: boolean): void {
    const row = this.storage.one<ProducerRow>(`SELECT * FROM media_producers WHERE producer_id = ? AND node_id = ?`, producerId, nodeId);
    if (!row || (row.paused === 1) === paused) return;
    this.storage.run(`UPDATE media_producers SET paused = ? WHERE producer_id = ?`, paused ? 1 : 0, producerId);
    this.announce([{ ...toInfo(row), paused }], []);
  }

  /** The node's link closed: whatever it carried can no longer be reached through it. */
  nodeGone(nodeId: string): void {
    const ids = this.storage.all<{ producer_id: string }>(`SELECT producer_id FROM media_producers WHERE node_id = ?`, nodeId).map((r) => r.producer_id);
    if (ids.length === 0) return;
    this.storage.run(`DELETE FROM media_producers WHERE node_id = ?`, nodeId);
    this.announce([], ids);
  }

  /** The user left the class: their producers go (the node closes them too) and they leave the stage. */
  userLeft(userId: string): void {
    const ids = this.storage.all<{ producer_id: string }>(`SELECT producer_id FROM media_producers WHERE user_id = ?`, userId).map((r) => r.producer_id);
    if (ids.length > 0) {
      this.storage.run(`DELETE FROM media_producers WHERE user_id = ?`, userId);
      this.announce([], ids);
    }
    this.setOnStage(userId, false);
    this.quality.delete(userId);
  }

  /** Producers of `userId` whose source is not in `allowed` (the node closes them after a revoke). */
  dropUngranted(userId: string, allowed: readonly MediaSource[]): void {
    const ids = this.storage
      .all<ProducerRow>(`SELECT * FROM media_producers WHERE user_id = ?`, userId)
      .filter((row) => !allowed.includes(row.source as MediaSource))
      .map((row) => row.producer_id);
    for (const id of ids) this.storage.run(`DELETE FROM media_producers WHERE producer_id = ?`, id);
    this.announce([], ids);
  }

  stage(): string[] {
    return this.storage.all<{ user_id: string }>(`SELECT user_id FROM media_stage ORDER BY rowid`).map((r) => r.user_id);
  }

  isOnStage(userId: string): boolean {
    return this.storage.one(`SELECT user_id FROM media_stage WHERE user_id = ?`, userId) !== null;
  }

  /** Puts a user on stage or takes them off; tells the class when it changed. Returns whether it changed. */
  setOnStage(userId: string, onStage: boolean): boolean {
    if (this.isOnStage(userId) === onStage) return false;
    if (onStage) this.storage.run(`INSERT INTO media_stage (user_id) VALUES (?)`, userId);
    else this.storage.run(`DELETE FROM media_stage WHERE user_id = ?`, userId);
    this.broadcaster.emit({ type: "media.stage", stage: this.stage() });
    this.onStageChanged(userId, onStage);
    return true;
  }

  /** A node's quality report; only values that changed go out. */
  reportQuality(report: Record<string, number>): void {
    const changed: Record<string, number> = {};
    for (const [userId, score] of Object.entries(report)) {
      const rounded = Math.round(score);
      if (this.quality.get(userId) === rounded) continue;
      this.quality.set(userId, rounded);
      changed[userId] = rounded;
    }
    if (Object.keys(changed).length > 0) this.broadcaster.emit({ type: "media.quality", quality: changed });
  }

  /** Everything is forgotten when the session ends (storage is cleared with it). */
  clear(): void {
    this.quality.clear();
  }

  private write(info: MediaProducerInfo): void {
    this.storage.run(
      `INSERT OR REPLACE INTO media_producers (producer_id, user_id, node_id, kind, source, paused) VALUES (?, ?, ?, ?, ?, ?)`,
      info.producerId,
      info.userId,
      info.nodeId,
      info.kind,
      info.source,
      info.paused ? 1 : 0,
    );
  }

  private deleteWhere(where: string, ...params: string[]): boolean {
    const existing = this.storage.one(`SELECT producer_id FROM media_producers WHERE ${where}`, ...params);
    if (!existing) return false;
    this.storage.run(`DELETE FROM media_producers WHERE ${where}`, ...params);
    return true;
  }

  private announce(upserts: MediaProducerInfo[], removed: string[]): void {
    if (upserts.length === 0 && removed.length === 0) return;
    this.broadcaster.emit({ type: "media.producers", upserts, removed });
    if (removed.length > 0 && this.storage.one(`SELECT producer_id FROM media_producers WHERE source = 'screen' LIMIT 1`) === null) this.onScreenShareEnded();
  }
}

function toInfo(row: ProducerRow): MediaProducerInfo {
  return {
    producerId: row.producer_id,
    userId: row.user_id,
    nodeId: row.node_id,
    kind: row.kind as MediaProducerInfo["kind"],
    source: row.source as MediaSource,
    paused: row.paused === 1,
  };
}
