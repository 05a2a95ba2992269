import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Room } from "../src/Room";
import { AUDIO_LEVEL_URI, OPUS_PAYLOAD_TYPE, SILENCE, speech, startMicrophone } from "./audio-helpers";
import { eventually, recordingConnection, startIssuer, startTestNode, type TestIssuer, type TestNode } from "./helpers";

let issuer: TestIssuer;
let sfu: TestNode;

beforeAll(async () => {
  issuer = await startIssuer(8854);
  sfu = await startTestNode({ httpPort: 8855, rtcBase: 42200, issuerUrl: issuer.url, workers: 1 });
});

afterAll(async () => {
  await sfu?.close();
  await issuer?.close();
});

async function speaker(room: Room, userId: string, ssrc: number, level: () => number) {
  const peer = room.addPeer({ userId, role: "teacher", produce: ["audio"], displayName: userId, connection: recordingConnection() });
  const input = await peer.createPlainTransport("send", { comedia: true });
  const producer = await peer.producePlain(input, "audio", {
    kind: "audio",
    rtpParameters: {
      codecs: [{ mimeType: "audio/opus", payloadType: OPUS_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }],
      headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: 1 }],
      encodings: [{ ssrc }],
    },
  });
  const stop = startMicrophone(input.tuple.localPort, ssrc, level);
  return { peer, producer, stop };
}

describe("active speaker", () => {
  it("tells the room's peers who speaks, and nobody once that microphone is gone", { timeout: 90_000 }, async () => {
    const room = await sfu.node.openRoom("class-speakers");
    const listener = recordingConnection();
    room.addPeer({ userId: "student-1", role: "student", produce: [], displayName: "Student", connection: listener });
    /** Every speaker the listener was told about, in order (null: nobody). */
    const told = () => listener.notifications.flatMap((n) => (n.notification === "activeSpeaker" ? [n.data.userId] : []));
    /** The speaker the listener was told about last (undefined: not told yet). */
    const lastSpeaker = () => told().at(-1);

    let aliceTalks = true;
    const stops: (() => void)[] = [];
    try {
      const alice = await speaker(room, "alice", 1111, () => (aliceTalks ? speech() : SILENCE));
      stops.push(alice.stop);
      // The observer decides over seconds of audio, and a busy machine delays the 20 ms packets it hears: generous
      // waits keep this a test of who is picked, not of how fast a loaded machine sends.
      await eventually(() => lastSpeaker() === "alice", 25_000, "alice speaking");

      // Alice falls silent and Bob starts talking.
      aliceTalks = false;
      const bob = await speaker(room, "bob", 2222, speech);
      stops.push(bob.stop);
      await eventually(() => lastSpeaker() === "bob", 25_000, "bob speaking");

      // Once Bob's microphone is gone, mediasoup's observer names Alice at once (it always names someone), though
      // she is silent: the peers must hear "nobody" and keep hearing it while she stays silent.
      const toldBeforeClose = told().length;
      bob.producer.close();
      await eventually(() => lastSpeaker() === null, 10_000, "nobody speaking");
      // Several observer intervals of Alice's silence (the wrong pick came within milliseconds of the close); a slow
      // machine can only let a wrong pick slip past this wait, never fail a right one.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(told().slice(toldBeforeClose)).toEqual([null]);

      // When Alice speaks again, she is named again.
      aliceTalks = true;
      await eventually(() => lastSpeaker() === "alice", 25_000, "alice speaking again");
      expect(told().slice(toldBeforeClose)).toEqual([null, "alice"]);
    } finally {
      for (const stop of stops) stop();
      room.close("closed-by-server");
    }
  });
});
