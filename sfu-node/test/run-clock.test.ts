import { describe, expect, it } from "vitest";
import { type ClockAnchor, clockSettledFor, type RunTiming, SETTLED_ANCHOR, wallSecondsAt } from "../src/recording/run-clock";

/** A run whose media clock starts at wall second 1,000; an anchor every 5 s, the one at `offBySeconds` late by `lateMs`. */
function timing(count: number, late: { at: number; ms: number } | null = null): RunTiming {
  const anchors: ClockAnchor[] = [];
  for (let i = 0; i < count; i++) {
    const mediaSeconds = i * 5;
    anchors.push({ mediaSeconds, wallMs: (1_000 + mediaSeconds) * 1000 + (late?.at === mediaSeconds ? late.ms : 0) });
  }
  return { clockRate: 90_000, firstPacketWallMs: 1_000_000, anchors };
}

describe("placing a run's media on the wall clock", () => {
  it("places the first seconds of a run by the mean of its first settled anchors, so one late report moves them a third as far", () => {
    // The first settled anchor (media 15 s) is a frame late, as a sender's report stamped with a late packet is.
    const run = timing(30, { at: SETTLED_ANCHOR * 5, ms: 40 });
    for (const media of [0, 10, 20]) {
      const placed = wallSecondsAt(run, media)!;
      expect(Math.abs(placed - (1_000 + media)) * 1000).toBeCloseTo(40 / 3, 3);
    }
    // Later media is placed by every settled anchor of the two minutes before it: the late one weighs less and less.
    expect(Math.abs(wallSecondsAt(run, 120)! - 1_120) * 1000).toBeLessThan(40 / 3);
  });

  it("a piece waits for the anchors the early media is placed by, and they never change once there", () => {
    expect(clockSettledFor(timing(SETTLED_ANCHOR + 2))).toBe(false);
    const settled = timing(SETTLED_ANCHOR + 3, { at: SETTLED_ANCHOR * 5, ms: 40 });
    expect(clockSettledFor(settled)).toBe(true);
    const later = timing(40, { at: SETTLED_ANCHOR * 5, ms: 40 });
    // What a piece composed as soon as it could gives the first seconds is what the whole recording gives them.
    for (const media of [0, 7.5, 14, 20]) expect(wallSecondsAt(settled, media)).toBeCloseTo(wallSecondsAt(later, media)!, 9);
  });

  it("holds the offset while new anchors nudge the mean by a few ms, and follows a real drift between the clocks", () => {
    // A late report at media 60 s moves the mean of the 10 anchors before it by 4 ms: the placement stays put, so the
    // picture does not hop a frame there.
    const nudged = timing(40, { at: 60, ms: 40 });
    const offsetAt = (run: RunTiming, media: number) => (wallSecondsAt(run, media)! - media) * 1000;
    expect(offsetAt(nudged, 60)).toBeCloseTo(offsetAt(nudged, 55), 6);
    expect(offsetAt(nudged, 100)).toBeCloseTo(offsetAt(nudged, 55), 6);
    // The sender's clock runs 100 ppm fast (6 ms a minute): ten minutes on, the placement has followed it to within
    // the hold of where the anchors put it.
    const drifting: RunTiming = {
      clockRate: 90_000,
      firstPacketWallMs: 1_000_000,
      anchors: Array.from({ length: 121 }, (_, i) => ({ mediaSeconds: i * 5, wallMs: (1_000 + i * 5 * (1 - 100e-6)) * 1000 })),
    };
    const trueOffsetMs = (media: number) => (1_000 - media * 100e-6) * 1000;
    expect(Math.abs(offsetAt(drifting, 600) - trueOffsetMs(600))).toBeLessThan(10 + 60 * 0.1 + 1);
    expect(trueOffsetMs(0) - trueOffsetMs(600)).toBeGreaterThan(50);
  });

  it("moves the placement when a new anchor moves the mean further than the hold, however often it was placed before", () => {
    const run = timing(20);
    const offsetMsAt = (media: number) => (wallSecondsAt(run, media)! - media) * 1000;
    for (let media = 0; media < 100; media += 5) expect(offsetMsAt(media)).toBeCloseTo(1_000_000, 6);
    // From media 100 s on the sender's reports say 40 ms later (its clock was set), one anchor every 5 s; segments are
    // placed between anchors, as pieces composed while recording are.
    for (let media = 100; media <= 300; media += 5) {
      run.anchors.push({ mediaSeconds: media, wallMs: (1_000 + media) * 1000 + 40 });
      // The same anchors read afresh (as composing at the stop reads them) place every media time alike.
      const readAfresh = structuredClone(run);
      for (const asked of [0, 50, media - 2.5, media]) expect(wallSecondsAt(run, asked)).toBe(wallSecondsAt(readAfresh, asked));
    }
    // Two minutes after the change every anchor within reach says 40 ms later: the placement followed to within the hold.
    expect(offsetMsAt(300) - 1_000_000).toBeGreaterThan(40 - 10);
    expect(offsetMsAt(50)).toBeCloseTo(1_000_000, 6);
  });
});
