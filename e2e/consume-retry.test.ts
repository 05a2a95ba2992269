/**
 * A `consume` the media server refuses once (a stream still being piped from another node, a node briefly busy)
 * must not leave a tile dark for the rest of the connection: the student's page tries again and shows the teacher's
 * camera. Between the student's page and the sfu-node, the first `consume` of each producer is answered
 * `UNAVAILABLE` (as a node answers while a pipe is not ready) instead of reaching the node; everything else passes.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, newUserContext } from "./lib/browser";
import { createClassWithStudents, enterLiveClass, type IdentifiedPerson, openIdentifiedPerson } from "./lib/live-class";
import { cameraAt } from "./lib/media-faults";
import { registerPeerConnections } from "./lib/peer-connections";
import { newPerson, type SsoPerson } from "./lib/sso";

const baseUrl = inject("baseUrl");
/** Media may take a few seconds to flow on a busy 2-core machine; a user would wait that long too. */
const MEDIA_TIMEOUT_MS = 30_000;

describe("a consume refused once", () => {
  let browser: Browser;
  /** `consume` requests of the student's page, by producer id: how many were sent, and how many were refused. */
  const consumes = new Map<string, { sent: number; refused: number }>();

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const open = async (person: SsoPerson, refuseFirstConsumes: boolean): Promise<IdentifiedPerson> => {
    const context = await newUserContext(browser, baseUrl);
    await context.addInitScript(registerPeerConnections);
    if (refuseFirstConsumes) {
      await context.routeWebSocket(/\/media\//, (socket) => {
        const server = socket.connectToServer();
        socket.onMessage((message) => {
          const frame = typeof message === "string" ? (JSON.parse(message) as { id?: number; method?: string; data?: { producerId?: string } }) : null;
          const producerId = frame?.method === "consume" ? frame.data?.producerId : undefined;
          if (producerId === undefined) return server.send(message);
          const seen = consumes.get(producerId) ?? { sent: 0, refused: 0 };
          seen.sent += 1;
          consumes.set(producerId, seen);
          if (seen.refused > 0) return server.send(message);
          seen.refused += 1;
          socket.send(
            JSON.stringify({
              id: frame!.id,
              ok: false,
              error: { code: "UNAVAILABLE", message: "That stream is on another media server and did not reach this one in time; try again" },
            }),
          );
        });
      });
    }
    return openIdentifiedPerson(browser, baseUrl, person, context);
  };

  it("the student's page tries again and shows the teacher's camera", { timeout: 120_000 }, async () => {
    const teacher = await open(newPerson("teacher", "Rhea Retry"), false);
    const student = await open(newPerson("student", "Omar Retry"), true);
    const classId = await createClassWithStudents(baseUrl, teacher, [student], { title: "Second tries", startsAt: Date.now() + 5 * 60_000 });
    for (const who of [teacher, student]) await enterLiveClass(who, classId, "Second tries");

    await expect
      .poll(async () => (await cameraAt(student.page, teacher.userId))?.framesDecoded ?? 0, { timeout: MEDIA_TIMEOUT_MS, interval: 250 })
      .toBeGreaterThan(0);
    // Every producer the page wanted was refused once and asked for again (camera and microphone at least).
    expect(consumes.size).toBeGreaterThanOrEqual(2);
    for (const seen of consumes.values()) expect(seen).toEqual({ sent: 2, refused: 1 });
    await teacher.context.close();
    await student.context.close();
  });
});
