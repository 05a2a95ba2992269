import { writeFile } from "node:fs/promises";

/** Seconds between 1900 (NTP epoch) and 1970 (Unix epoch). */
const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;
/** A new anchor at most this often, so long runs follow the drift between media and wall clocks. */
const ANCHOR_EVERY_SECONDS = 5;

/** Media time (seconds from a run's first packet) ↔ wall clock (Unix ms), from one sender report. */
export interface ClockAnchor {
  mediaSeconds: number;
  wallMs: number;
}

/** What is saved next to a run's segments: how to place them on the wall clock. */
export interface RunTiming {
  clockRate: number;
  /** When the node saw the run's first packet leave mediasoup (used while no sender report has come). */
  firstPacketWallMs: number | undefined;
  anchors: ClockAnchor[];
}

/** One RTCP sender report: NTP time (Unix ms) and the RTP timestamp sampled at that instant. */
export interface SenderReport {
  ssrc: number;
  wallMs: number;
  rtpTimestamp: number;
}

/** The sender reports in an RTCP compound packet (others are skipped). */
export function parseSenderReports(packet: Buffer): SenderReport[] {
  const reports: SenderReport[] = [];
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const version = packet[offset]! >> 6;
    const type = packet[offset + 1]!;
    const length = (packet.readUInt16BE(offset + 2) + 1) * 4;
    if (version !== 2 || offset + length > packet.length) break;
    if (type === 200 && length >= 28) {
      const seconds = packet.readUInt32BE(offset + 8);
      const fraction = packet.readUInt32BE(offset + 12);
      reports.push({
        ssrc: packet.readUInt32BE(offset + 4),
        wallMs: (seconds - NTP_UNIX_OFFSET_SECONDS) * 1000 + (fraction / 2 ** 32) * 1000,
        rtpTimestamp: packet.readUInt32BE(offset + 16),
      });
    }
    offset += length;
  }
  return reports;
}

/**
 * The clock of one FFmpeg run. FFmpeg timestamps a run's packets from their RTP timestamps, counting from
 * the first packet it gets (time 0); this learns that packet's RTP timestamp (from mediasoup's trace of
 * what the consumer sent) and the wall-clock meaning of RTP timestamps (from mediasoup's sender reports,
 * which carry the sender's capture time). Together they place every segment on the wall clock, and audio
 * and video of one sender line up as the sender's own reports say they do.
 */
export class RunClock {
  readonly #file: string;
  readonly #timing: RunTiming;
  #base: number | undefined;
  #lastRtp = 0;
  #unwrapped = 0;

  constructor(file: string, clockRate: number) {
    this.#file = file;
    this.#timing = { clockRate, firstPacketWallMs: undefined, anchors: [] };
  }

  get hasFirstPacket(): boolean {
    return this.#base !== undefined;
  }

  /** The first RTP packet this run's FFmpeg received. */
  firstPacket(rtpTimestamp: number, wallMs: number): Promise<void> {
    if (this.#base !== undefined) return Promise.resolve();
    this.#base = rtpTimestamp;
    this.#lastRtp = rtpTimestamp;
    this.#timing.firstPacketWallMs = wallMs;
    return this.#save();
  }

  /** A sender report of the consumer's stream. */
  senderReport(report: SenderReport): Promise<void> {
    if (this.#base === undefined) return Promise.resolve();
    // RTP timestamps wrap at 2^32; steps between reports are far below 2^31, so a signed difference unwraps them.
    this.#unwrapped += (report.rtpTimestamp - this.#lastRtp) | 0;
    this.#lastRtp = report.rtpTimestamp;
    const mediaSeconds = this.#unwrapped / this.#timing.clockRate;
    const last = this.#timing.anchors.at(-1);
    if (last && mediaSeconds - last.mediaSeconds < ANCHOR_EVERY_SECONDS) return Promise.resolve();
    this.#timing.anchors.push({ mediaSeconds, wallMs: report.wallMs });
    return this.#save();
  }

  #save(): Promise<void> {
    return writeFile(this.#file, JSON.stringify(this.#timing));
  }
}

/** Anchors this close (media seconds) to a segment are near enough that clock drift cannot matter. */
const ANCHOR_REACH_SECONDS = 120;

/**
 * A run's anchors from this one on are taken to carry the sender's capture clock: mediasoup's first reports
 * of a stream fall back to arrival times (late by the network delay and any sender burst) until it has
 * estimated the sender's clock from three of the sender's own reports, and anchors are at least 5 s apart.
 */
export const SETTLED_ANCHOR = 3;

/**
 * Media time with fewer settled anchors than this before it (the first quarter-minute or so of a run) is placed by
 * the mean of the run's first this-many settled anchors instead: one anchor alone can be a frame off, which put a
 * 30-minute recording's first half-minute 38 ms away from the rest. Composing a piece waits for them
 * ({@link clockSettledFor}), so a piece and the whole recording place these segments alike.
 */
export const EARLY_ANCHORS = 3;

/** Whether a run has the anchors {@link wallSecondsAt} places its early media time by (all, from now on). */
export function clockSettledFor(timing: RunTiming): boolean {
  return timing.anchors.length >= SETTLED_ANCHOR + EARLY_ANCHORS;
}

/**
 * Wall-clock seconds of media time `mediaSeconds` of a run, or undefined when the run never got a packet.
 *
 * It takes the mean of the settled anchors (see {@link SETTLED_ANCHOR}) of the two minutes before that media
 * time: one report can be off by tens of milliseconds (a sender stamps its report with the time of its last
 * packet, which its pacing may have sent early or late), the mean of a couple of dozen is not; and those anchors
 * all exist by the time the segment is written, so later ones never move it. Pieces composed while recording
 * thus place every segment where the whole recording composed at the stop does (a millisecond apart, a frame
 * half-way between two ticks of the composed frame rate would land on the other one). Media time with fewer than
 * {@link EARLY_ANCHORS} settled anchors before it takes the mean of the run's first {@link EARLY_ANCHORS}; a run
 * that never got that many takes those before it, else the earliest settled anchor within reach; without one, the
 * latest within reach.
 *
 * The offset so found is held while it stays within {@link HOLD_SECONDS} of the one in use (see there).
 */
export function wallSecondsAt(timing: RunTiming, mediaSeconds: number): number | undefined {
  const placed = placedBy(timing, mediaSeconds);
  if (placed === undefined) return undefined;
  const held = heldOffsetAt(timing, mediaSeconds);
  const offset = placed - mediaSeconds;
  return mediaSeconds + (held === undefined || Math.abs(offset - held) > HOLD_SECONDS ? offset : held);
}

/**
 * How far the anchors' mean may move before the placement follows it. Each new anchor nudges the mean by a few
 * milliseconds; where the picture sits near the middle between two ticks of the composed frame rate, such a nudge
 * moved it a whole frame (a recording 33 ms out of sync for 40 s, then 3 ms), while the clocks' real drift (tens of
 * ppm: about a millisecond a minute) needs a step only every several minutes. Held, the picture stays on its tick.
 */
const HOLD_SECONDS = 0.01;

/** The offsets in use from each settled anchor on, and the anchors they were worked out from. */
interface HeldOffsets {
  count: number;
  last: ClockAnchor | undefined;
  offsets: number[];
}

/**
 * Held offsets by anchor list. Working them out takes every anchor's placement, which is what made placing each
 * segment of a long run cost as much as placing the whole run; they change only when an anchor is added.
 */
const heldOffsetsByAnchors = new WeakMap<readonly ClockAnchor[], HeldOffsets>();

/** The offset in use at `mediaSeconds`: the first settled anchor's, replaced only where the anchors moved it further than the hold. */
function heldOffsetAt(timing: RunTiming, mediaSeconds: number): number | undefined {
  const offsets = heldOffsets(timing);
  // Anchors are in media-time order (a run adds each at least 5 s after the last), so the settled anchors at or
  // before `mediaSeconds` are a prefix: find its length by bisection.
  let low = 0;
  let high = offsets.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (timing.anchors[SETTLED_ANCHOR + middle]!.mediaSeconds <= mediaSeconds) low = middle + 1;
    else high = middle;
  }
  return low > 0 ? offsets[low - 1] : undefined;
}

/**
 * The held offset from each settled anchor on, worked out again only when the anchor list changed. A run only
 * appends anchors, so its length and last anchor tell whether it changed.
 */
function heldOffsets(timing: RunTiming): number[] {
  const { anchors } = timing;
  const known = heldOffsetsByAnchors.get(anchors);
  if (known && known.count === anchors.length && known.last === anchors.at(-1)) return known.offsets;
  const offsets: number[] = [];
  let held: number | undefined;
  for (const anchor of anchors.slice(SETTLED_ANCHOR)) {
    const offset = placedBy(timing, anchor.mediaSeconds)! - anchor.mediaSeconds;
    if (held === undefined || Math.abs(offset - held) > HOLD_SECONDS) held = offset;
    offsets.push(held);
  }
  heldOffsetsByAnchors.set(anchors, { count: anchors.length, last: anchors.at(-1), offsets });
  return offsets;
}

function placedBy(timing: RunTiming, mediaSeconds: number): number | undefined {
  const settled = timing.anchors.slice(SETTLED_ANCHOR);
  const mean = (anchors: readonly ClockAnchor[]) =>
    anchors.reduce((sum, candidate) => sum + candidate.wallMs / 1000 - candidate.mediaSeconds, 0) / anchors.length + mediaSeconds;
  const before = settled.filter((candidate) => candidate.mediaSeconds <= mediaSeconds && mediaSeconds - candidate.mediaSeconds <= ANCHOR_REACH_SECONDS);
  if (before.length >= EARLY_ANCHORS) return mean(before);
  const early = settled.slice(0, EARLY_ANCHORS);
  if (early.length === EARLY_ANCHORS && Math.abs(early[0]!.mediaSeconds - mediaSeconds) <= ANCHOR_REACH_SECONDS) return mean(early);
  if (before.length > 0) return mean(before);
  let anchor = settled.find((candidate) => Math.abs(candidate.mediaSeconds - mediaSeconds) <= ANCHOR_REACH_SECONDS);
  if (!anchor) {
    for (const candidate of timing.anchors) {
      if (Math.abs(candidate.mediaSeconds - mediaSeconds) <= ANCHOR_REACH_SECONDS) anchor = candidate;
      else if (!anchor && candidate.mediaSeconds > mediaSeconds) anchor = candidate;
    }
  }
  anchor ??= timing.anchors.at(-1);
  if (anchor) return anchor.wallMs / 1000 + (mediaSeconds - anchor.mediaSeconds);
  if (timing.firstPacketWallMs !== undefined) return timing.firstPacketWallMs / 1000 + mediaSeconds;
  return undefined;
}
