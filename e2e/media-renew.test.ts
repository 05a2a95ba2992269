/**
 * The media token is renewed on the open media connection: a student watching the teacher keeps the same
 * WebRTC connections and the same decoded track across a renewal, and frames keep being decoded.
 *
 * Waiting ten real minutes for a token to come due is not a test; instead the student's page runs on
 * playwright's clock (installed by the test, not by the app) and jumps nine minutes ahead, the way a laptop
 * that slept would. The app's renewal timer then fires; the stack (Worker, Durable Object, sfu-node) runs on
 * real time, so the node checks the new token for real. That the node then keeps the connection past the
 * first token's expiry is covered with short-lived tokens in sfu-node/test/token-renew.test.ts.
 */
import type { Browser, Page, WebSocket as PageSocket } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, newUserContext } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, openIdentifiedPerson } from "./lib/live-class";
import { type PagePeerConnection, registerPeerConnections } from "./lib/peer-connections";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
const MEDIA_TIMEOUT_MS = 20_000;

interface PageTrack {
  id: string;
}
interface PageWindow {
  RTCPeerConnection: new (configuration?: unknown) => PagePeerConnection;
  document: { querySelector(selector: string): { srcObject: { getTracks(): PageTrack[] } | null } | null };
  __e2ePeerConnections: PagePeerConnection[];
}

interface Watching {
  trackId: string | null;
  framesDecoded: number;
  peerConnections: number;
  openPeerConnections: number;
}

/** What the page shows of `userId`'s camera: which track, how many frames it decoded, and its connections. */
function watching(page: Page, userId: string): Promise<Watching> {
  return page.evaluate(async (userId) => {
    const page = globalThis as unknown as PageWindow;
    const track = page.document.querySelector(`[data-testid="media-tile"][data-user-id="${userId}"][data-source="video"] video`)?.srcObject?.getTracks()[0];
    let framesDecoded = 0;
    for (const connection of page.__e2ePeerConnections) {
      if (connection.connectionState === "closed" || !track) continue;
      (await connection.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp" && report.trackIdentifier === track.id) framesDecoded = Number(report.framesDecoded ?? 0);
      });
    }
    const open = page.__e2ePeerConnections.filter((connection) => connection.connectionState !== "closed").length;
    return { trackId: track?.id ?? null, framesDecoded, peerConnections: page.__e2ePeerConnections.length, openPeerConnections: open };
  }, userId);
}

/** The page's WebSockets to the sfu-node, and every frame sent or received on them. */
function recordMediaSockets(page: Page): { sockets: PageSocket[]; sent: unknown[]; received: unknown[] } {
  const record = { sockets: [] as PageSocket[], sent: [] as unknown[], received: [] as unknown[] };
  page.on("websocket", (socket) => {
    if (!new URL(socket.url()).pathname.startsWith("/media/")) return;
    record.sockets.push(socket);
    socket.on("framesent", ({ payload }) => record.sent.push(JSON.parse(String(payload))));
    socket.on("framereceived", ({ payload }) => record.received.push(JSON.parse(String(payload))));
  });
  return record;
}

describe("media token renewal in the browser", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renews on the open media socket: same connections, same track, frames keep coming", async () => {
    const open = async (person: SsoPerson, options: { ownClock?: boolean } = {}) => {
      const context = await newUserContext(browser, baseUrl);
      if (options.ownClock) await context.clock.install();
      await context.addInitScript(registerPeerConnections);
      return openIdentifiedPerson(browser, baseUrl, person, context);
    };
    const teacher = await open(newPerson("teacher", "Rita Renew"));
    const student = await open(newPerson("student", "Sam Sleeper"), { ownClock: true });
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Long lecture", startsAt: Date.now() + 5 * 60_000 });
    const media = recordMediaSockets(student.page);
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Long lecture");

    await expect
      .poll(async () => (await watching(student.page, teacher.userId)).framesDecoded, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    const before = await watching(student.page, teacher.userId);
    expect(media.sockets).toHaveLength(1);

    // Nine minutes later on the student's clock: the renewal (due a minute before the 10-minute expiry) runs.
    await student.page.clock.fastForward("09:05");
    const renewRequest = () => media.sent.find((frame) => (frame as { method?: string }).method === "token.renew") as { id: number } | undefined;
    await expect.poll(renewRequest, { timeout: MEDIA_TIMEOUT_MS, interval: 100 }).toBeDefined();
    const request = renewRequest()!;
    await expect
      .poll(() => media.received.find((frame) => (frame as { id?: number }).id === request.id), { timeout: MEDIA_TIMEOUT_MS, interval: 100 })
      .toMatchObject({ ok: true, data: { produce: [] } });

    // Nothing was rebuilt: one media socket, the same peer connections open, the same track, still decoding.
    const after = await watching(student.page, teacher.userId);
    expect(media.sockets).toHaveLength(1);
    expect(media.sockets[0]!.isClosed()).toBe(false);
    expect(after.trackId).toBe(before.trackId);
    expect(after.peerConnections).toBe(before.peerConnections);
    expect(after.openPeerConnections).toBe(before.openPeerConnections);
    await expect
      .poll(async () => (await watching(student.page, teacher.userId)).framesDecoded, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(after.framesDecoded + 30);
    expect((await watching(student.page, teacher.userId)).trackId).toBe(before.trackId);
    expect(media.sent.slice(media.sent.indexOf(request)).filter((frame) => (frame as { method?: string }).method === "createWebRtcTransport")).toEqual([]);
  });
});
