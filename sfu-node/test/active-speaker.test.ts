import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Room } from "../src/Room";
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

const AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const OPUS_PAYLOAD_TYPE = 111;

/**
 * A microphone as RTP: Opus-sized packets every 20 ms carrying the audio level extension (RFC 6464), which is
 * what the observer listens to. `level` is -dBov: 0 is loudest, 127 silence.
 */
function startMicrophone(port: number, ssrc: number, level: () => number): () => void {
  const socket = dgram.createSocket("udp4");
  let sequence = 0;
  const timer = setInterval(() => {
    const packet = Buffer.alloc(12 + 8 + 40);
    packet[0] = 0x90; // version 2, extension bit
    packet[1] = OPUS_PAYLOAD_TYPE;
    packet.writeUInt16BE(sequence++ & 0xffff, 2);
    packet.writeUInt32BE((sequence * 960) >>> 0, 4);
    packet.writeUInt32BE(ssrc, 8);
    packet.writeUInt16BE(0xbede, 12); // one-byte header extensions
    packet.writeUInt16BE(1, 14); // one 32-bit word
    packet[16] = (1 << 4) | 0; // id 1, one byte of data
    const dBov = level();
    packet[17] = (dBov < 127 ? 0x80 : 0) | dBov; // voice activity flag + level
    packet.fill(0x55, 20);
    socket.send(packet, port, "127.0.0.1");
  }, 20);
  return () => {
    clearInterval(timer);
    socket.close();
  };
}

const SILENCE = 127;

/**
 * Levels like speech: loud syllables with short pauses. The observer measures activity above each speaker's
 * own noise floor, so a constant level would count as background noise.
 */
function speech(): number {
  return Math.random() < 0.25 ? SILENCE : 5 + Math.floor(Math.random() * 25);
}

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
  it("tells the room's peers who speaks, and nobody once that microphone is gone", async () => {
    const room = await sfu.node.openRoom("class-speakers");
    const listener = recordingConnection();
    room.addPeer({ userId: "student-1", role: "student", produce: [], displayName: "Student", connection: listener });
    /** The speaker the listener was told about last (undefined: not told yet). */
    const lastSpeaker = () => {
      const told = listener.notifications.filter((n) => n.notification === "activeSpeaker").at(-1);
      return told?.notification === "activeSpeaker" ? told.data.userId : undefined;
    };

    let aliceTalks = true;
    let bobTalks = false;
    const alice = await speaker(room, "alice", 1111, () => (aliceTalks ? speech() : SILENCE));
    const bob = await speaker(room, "bob", 2222, () => (bobTalks ? speech() : SILENCE));
    try {
      await eventually(() => lastSpeaker() === "alice", 10_000, "alice speaking");

      aliceTalks = false;
      bobTalks = true;
      await eventually(() => lastSpeaker() === "bob", 10_000, "bob speaking");

      bob.producer.close();
      await eventually(() => lastSpeaker() === null, 5_000, "nobody speaking");
    } finally {
      alice.stop();
      bob.stop();
      room.close("closed-by-server");
    }
  });
});
