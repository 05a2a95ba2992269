import { describe, expect, it } from "vitest";
import { MAX_THUMBNAILS, thumbnailInterval, thumbnailsVtt } from "../src/storage/packager";

describe("thumbnail track", () => {
  it("takes one thumbnail per 5 s, spread wider so 100 cover a long recording", () => {
    expect(thumbnailInterval(6_000)).toBe(5);
    expect(thumbnailInterval(500_000)).toBe(5);
    expect(thumbnailInterval(501_000)).toBe(6);
    const hour = 3_600_000;
    expect(thumbnailInterval(hour)).toBe(36);
    expect(Math.ceil(hour / 1000 / thumbnailInterval(hour))).toBeLessThanOrEqual(MAX_THUMBNAILS);
  });

  it("writes contiguous cues up to the recording's end, with hour-long times", () => {
    expect(thumbnailsVtt(["sprite.jpg#xywh=0,0,160,90", "sprite.jpg#xywh=160,0,160,90"], 36, 3_661.5)).toBe(
      "WEBVTT\n\n00:00:00.000 --> 00:00:36.000\nsprite.jpg#xywh=0,0,160,90\n\n00:00:36.000 --> 01:01:01.500\nsprite.jpg#xywh=160,0,160,90\n",
    );
  });
});
