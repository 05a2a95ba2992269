import type { types } from "mediasoup";
import { log } from "./log";
import type { Room } from "./Room";

/** How often the observers decide who speaks and who is heard (mediasoup's default for the first is 300 ms as well). */
const SPEAKING_INTERVAL_MS = 300;

/**
 * The average level (dBov) above which a microphone counts as heard: well under soft speech, well over what a
 * browser sends from a quiet room once its noise suppression has run (silence is -127).
 */
const HEARD_THRESHOLD_DBOV = -65;

/** Microphones in one level report; a class rarely has more open at once, and a pick beyond them waits a report. */
const HEARD_MAX_ENTRIES = 16;

interface Speaker {
  userId: string;
  producerId: string;
}

interface Observers {
  /** Picks the dominant speaker by comparing speech activity. */
  speaker: types.ActiveSpeakerObserver;
  /** Reports which microphones are above {@link HEARD_THRESHOLD_DBOV}. */
  levels: types.AudioLevelObserver;
}

/**
 * Follows who speaks in a room: observers on the room's sending router (where browsers' microphones arrive), fed
 * with every audio producer; each change goes to the room's peers as `activeSpeaker { userId }`, and `null` once
 * the speaker's microphone is gone.
 *
 * mediasoup's ActiveSpeakerObserver always names someone: when the dominant speaker's producer closes, it picks
 * one of the others at once, and a lone producer is dominant whether it carries speech or silence. So a pick is
 * told to the peers only once the AudioLevelObserver has heard that microphone; until then the peers keep
 * hearing "nobody" rather than seeing a silent participant lit up as the speaker.
 */
export function followActiveSpeaker(room: Room): void {
  let current: { router: types.Router; observers: Promise<Observers> } | undefined;
  /** The speaker the peers were told about last. */
  let announced: Speaker | null = null;
  /** mediasoup's latest pick, not told yet because that microphone has not been heard since. */
  let pending: Speaker | null = null;
  /** Producer ids of the microphones above the threshold in the latest level report. */
  let heard = new Set<string>();

  const announce = (speaker: Speaker | null) => {
    announced = speaker;
    // A pick still waiting to be heard stays pending when the speaker's microphone goes: mediasoup will not name
    // it a second time.
    if (speaker) pending = null;
    room.broadcast({ notification: "activeSpeaker", data: { userId: speaker?.userId ?? null } });
  };

  const onDominantSpeaker = (producer: types.Producer) => {
    const userId = typeof producer.appData.userId === "string" ? producer.appData.userId : null;
    if (!userId) return;
    if (announced?.producerId === producer.id) {
      pending = null;
      return;
    }
    const pick = { userId, producerId: producer.id };
    if (heard.has(producer.id)) announce(pick);
    else pending = pick;
  };

  const onLevels = (volumes: types.AudioLevelObserverVolume[]) => {
    heard = new Set(volumes.map(({ producer }) => producer.id));
    if (pending && heard.has(pending.producerId)) announce(pending);
  };

  const observersFor = (router: types.Router): Promise<Observers> => {
    if (current?.router === router && !router.closed) return current.observers;
    const observers = Promise.all([
      router.createActiveSpeakerObserver({ interval: SPEAKING_INTERVAL_MS }),
      router.createAudioLevelObserver({ interval: SPEAKING_INTERVAL_MS, threshold: HEARD_THRESHOLD_DBOV, maxEntries: HEARD_MAX_ENTRIES }),
    ]).then(([speaker, levels]) => {
      speaker.on("dominantspeaker", ({ producer }) => onDominantSpeaker(producer));
      levels.on("volumes", onLevels);
      levels.on("silence", () => onLevels([]));
      return { speaker, levels };
    });
    current = { router, observers };
    return observers;
  };

  room.on("producer", (producer, _peer, source) => {
    if (source !== "audio") return;
    producer.observer.once("close", () => {
      heard.delete(producer.id);
      if (pending?.producerId === producer.id) pending = null;
      if (announced?.producerId === producer.id) announce(null);
    });
    void (async () => {
      try {
        const { router } = await room.routerForSending();
        const { speaker, levels } = await observersFor(router);
        await Promise.all([speaker.addProducer({ producerId: producer.id }), levels.addProducer({ producerId: producer.id })]);
      } catch (error) {
        // A producer on another router (a plain transport of a receive router) is not followed.
        log("debug", "active_speaker_skipped", { classId: room.classId, producerId: producer.id, error: String(error) });
      }
    })();
  });
}
