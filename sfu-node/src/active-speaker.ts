import type { types } from "mediasoup";
import { log } from "./log";
import type { Room } from "./Room";

/** How often the observer decides who speaks (mediasoup's default is 300 ms as well). */
const SPEAKING_INTERVAL_MS = 300;

/**
 * Follows who speaks in a room: one ActiveSpeakerObserver on the room's sending router (where browsers'
 * microphones arrive), fed with every audio producer; each change goes to the room's peers as
 * `activeSpeaker { userId }`, and `null` once the speaker's microphone is gone.
 */
export function followActiveSpeaker(room: Room): void {
  let observer: { router: types.Router; observer: Promise<types.ActiveSpeakerObserver> } | undefined;
  let speaker: { userId: string; producerId: string } | null = null;

  const observerFor = (router: types.Router): Promise<types.ActiveSpeakerObserver> => {
    if (observer?.router === router && !router.closed) return observer.observer;
    const created = router.createActiveSpeakerObserver({ interval: SPEAKING_INTERVAL_MS });
    observer = { router, observer: created };
    void created.then((aso) =>
      aso.on("dominantspeaker", ({ producer }) => {
        const userId = typeof producer.appData.userId === "string" ? producer.appData.userId : null;
        if (!userId || speaker?.producerId === producer.id) return;
        speaker = { userId, producerId: producer.id };
        room.broadcast({ notification: "activeSpeaker", data: { userId } });
      }),
    );
    return created;
  };

  room.on("producer", (producer, _peer, source) => {
    if (source !== "audio") return;
    producer.observer.once("close", () => {
      if (speaker?.producerId !== producer.id) return;
      speaker = null;
      room.broadcast({ notification: "activeSpeaker", data: { userId: null } });
    });
    void (async () => {
      try {
        const { router } = await room.routerForSending();
        await (await observerFor(router)).addProducer({ producerId: producer.id });
      } catch (error) {
        // A producer on another router (a plain transport of a receive router) is not followed.
        log("debug", "active_speaker_skipped", { classId: room.classId, producerId: producer.id, error: String(error) });
      }
    })();
  });
}
