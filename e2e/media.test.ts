/**
 * Live audio, video and screen share in the browser: a teacher and two students in one class, three real
 * Chromium contexts (fake camera and microphone) against the whole stack started as `npm start` starts it,
 * media through the stack's sfu-node.
 *
 * What a person would notice is read from the page: tiles say whose media they show (`data-user-id`,
 * `data-source`, `data-audio`), and the browser's own WebRTC statistics say whether that media is really
 * decoded (`framesDecoded`) or heard (`packetsReceived`, `totalSamplesReceived`). To read those statistics the
 * test registers every RTCPeerConnection the page creates (an init script of the test, not of the app).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, type IdentifiedPerson, openMediaPerson } from "./lib/live-class";
import { inbound } from "./lib/media-faults";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 20_000;
/** "At once": what a person watching would still call immediate. */
const AT_ONCE_MS = 2_000;

/**
 * The few browser objects the in-page snippets touch. This project is typed for Node, not the DOM; the
 * snippets run in Chromium, where `globalThis` is the page's window.
 */
interface PageTrack {
  id: string;
  readyState: "live" | "ended";
}
interface PageMediaElement {
  srcObject: { getTracks(): PageTrack[] } | null;
}
interface PageWindow {
  document: {
    querySelectorAll(selector: string): { forEach(visit: (element: PageMediaElement) => void): void };
  };
  __e2eTracksBeforeRemoval: PageTrack[];
}

/** Waits until the page decodes frames of `userId`'s `source`. */
async function expectDecodedVideo(page: Page, userId: string, source: "video" | "screen"): Promise<void> {
  await expect.poll(async () => (await inbound(page, userId, source))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
}

/** Waits until `userId`'s audio arrives and keeps arriving (two readings, the second higher). */
async function expectFlowingAudio(page: Page, userId: string): Promise<void> {
  await expect.poll(async () => (await inbound(page, userId, "audio"))?.packetsReceived ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 }).toBeGreaterThan(0);
  const first = (await inbound(page, userId, "audio"))!;
  await expect
    .poll(
      async () => {
        const now = (await inbound(page, userId, "audio"))!;
        return now.packetsReceived > first.packetsReceived && now.totalSamplesReceived > first.totalSamplesReceived;
      },
      { timeout: MEDIA_TIMEOUT_MS, interval: 250 },
    )
    .toBe(true);
}

function tile(page: Page, userId: string, source: "video" | "screen") {
  return page.locator(`[data-testid="media-tile"][data-user-id="${userId}"][data-source="${source}"]`);
}

describe("live audio, video and screen share", () => {
  let browser: Browser;
  let teacher: IdentifiedPerson;
  let anna: IdentifiedPerson;
  let ben: IdentifiedPerson;
  let classId: string;

  const open = (person: SsoPerson) => openMediaPerson(browser, baseUrl, person);

  beforeAll(async () => {
    browser = await launchBrowser();
    teacher = await open(newPerson("teacher", "Tara Teacher"));
    anna = await open(newPerson("student", "Anna Student"));
    ben = await open(newPerson("student", "Ben Student"));
    classId = await createClassWithStudents(baseUrl, teacher, [anna, ben], { title: "Live physics", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, anna, ben]) await enterLiveClass(who, classId, "Live physics");
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("both students decode the teacher's camera and hear the microphone", async () => {
    // The teacher's own preview shows at once: camera and microphone start by themselves for a teacher.
    await teacher.page
      .locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-local="true"][data-video="live"]`)
      .waitFor({ timeout: MEDIA_TIMEOUT_MS });
    for (const student of [anna, ben]) {
      await expectDecodedVideo(student.page, teacher.userId, "video");
      await expectFlowingAudio(student.page, teacher.userId);
      const teacherTile = tile(student.page, teacher.userId, "video");
      expect(await teacherTile.getAttribute("data-audio")).toBe("live");
      await expect.poll(() => teacherTile.getByRole("img", { name: /Network quality: (excellent|good)/ }).count(), { timeout: MEDIA_TIMEOUT_MS }).toBe(1);
    }
    // Students send nothing until they are on stage: no controls to send, no tiles of theirs at the teacher.
    expect(await anna.page.getByRole("button", { name: "Turn camera on" }).count()).toBe(0);
    expect(await tile(teacher.page, anna.userId, "video").count()).toBe(0);
  });

  it("the teacher mutes the microphone and the students see it at once", async () => {
    await teacher.page.getByRole("button", { name: "Mute microphone" }).click();
    for (const student of [anna, ben]) {
      await student.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-audio="muted"]`).waitFor({ timeout: AT_ONCE_MS });
      await tile(student.page, teacher.userId, "video").getByRole("img", { name: "Microphone muted" }).waitFor({ timeout: AT_ONCE_MS });
    }
    await teacher.page.getByRole("button", { name: "Unmute microphone" }).click();
    for (const student of [anna, ben])
      await student.page.locator(`[data-testid="media-tile"][data-user-id="${teacher.userId}"][data-audio="live"]`).waitFor({ timeout: AT_ONCE_MS });
    await expectFlowingAudio(anna.page, teacher.userId);
  });

  it("the teacher's screen share reaches both students, large, and goes away when it stops", async () => {
    await teacher.page.getByRole("button", { name: "Share screen" }).click();
    for (const student of [anna, ben]) {
      await expectDecodedVideo(student.page, teacher.userId, "screen");
      const screenBox = (await tile(student.page, teacher.userId, "screen").boundingBox())!;
      const cameraBox = (await tile(student.page, teacher.userId, "video").boundingBox())!;
      expect(screenBox.width).toBeGreaterThan(cameraBox.width);
    }
    await teacher.page.getByRole("button", { name: "Stop sharing" }).click();
    for (const student of [anna, ben]) await tile(student.page, teacher.userId, "screen").waitFor({ state: "detached", timeout: MEDIA_TIMEOUT_MS });
  });

  it("a student put on stage is seen and heard by the teacher, and taken off again", async () => {
    // The stage list is in the side panel's People tab.
    await teacher.page.getByRole("tab", { name: /^People/ }).click();
    await teacher.page.getByRole("button", { name: "Invite Anna Student to stage" }).click();
    await anna.page.getByRole("button", { name: "Join the stage" }).click();
    await expectDecodedVideo(teacher.page, anna.userId, "video");
    await expectFlowingAudio(teacher.page, anna.userId);
    await expectDecodedVideo(ben.page, anna.userId, "video");
    // Ben's list holds only the people students see; Anna on stage is one of them, so her tile has her name.
    await tile(ben.page, anna.userId, "video").getByText("Anna Student").waitFor();

    await teacher.page.getByRole("button", { name: "Take Anna Student off stage" }).click();
    await tile(teacher.page, anna.userId, "video").waitFor({ state: "detached", timeout: MEDIA_TIMEOUT_MS });
    // Anna's own camera and microphone are released and her send controls are gone.
    await anna.page.getByRole("button", { name: "Mute microphone" }).waitFor({ state: "detached" });
    expect(await tile(anna.page, anna.userId, "video").count()).toBe(0);
  });

  it("a small tile gets a smaller simulcast layer of the teacher's camera", async () => {
    // A phone-sized window: the teacher's tile is under 200 px high, so the smallest layer (320×180) is enough;
    // the 1280-wide window before it shows the tile at about 500 px, where 360p or 720p flows.
    await ben.page.setViewportSize({ width: 360, height: 740 });
    await expect
      .poll(
        async () => {
          const figures = await inbound(ben.page, teacher.userId, "video");
          return figures !== null && figures.frameHeight > 0 && figures.frameHeight <= 180;
        },
        { timeout: MEDIA_TIMEOUT_MS, interval: 250 },
      )
      .toBe(true);
    await ben.page.setViewportSize({ width: 1280, height: 900 });
  });

  it("a removed student's media stops", async () => {
    await expectDecodedVideo(ben.page, teacher.userId, "video");
    const tracksBefore = await ben.page.evaluate(() => {
      const page = globalThis as unknown as PageWindow;
      const tracks: PageTrack[] = [];
      page.document.querySelectorAll('[data-testid="media-stage"] video, [data-testid="media-stage"] audio').forEach((element) => {
        tracks.push(...(element.srcObject?.getTracks() ?? []));
      });
      Object.defineProperty(page, "__e2eTracksBeforeRemoval", { value: tracks });
      return tracks.filter((track) => track.readyState === "live").length;
    });
    // The teacher's camera and microphone at least.
    expect(tracksBefore).toBeGreaterThanOrEqual(2);

    await teacher.page.getByTestId("participants").locator("li", { hasText: "Ben Student" }).getByRole("button", { name: "Remove" }).click();
    await ben.page.getByTestId("channel-closed").waitFor();
    await expect
      .poll(() => ben.page.evaluate(() => (globalThis as unknown as PageWindow).__e2eTracksBeforeRemoval.every((track) => track.readyState === "ended")), {
        timeout: MEDIA_TIMEOUT_MS,
      })
      .toBe(true);
    expect(await ben.page.locator('[data-testid="media-tile"]').count()).toBe(0);
    // The others carry on.
    await expectFlowingAudio(anna.page, teacher.userId);
  });
});
