import dgram from "node:dgram";

/** Audio over plain RTP for tests: a microphone whose packets carry the audio level extension. */

export const AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
export const OPUS_PAYLOAD_TYPE = 111;

/**
 * A microphone as RTP: Opus-sized packets every 20 ms carrying the audio level extension (RFC 6464), which is
 * what the observer listens to. `level` is -dBov: 0 is loudest, 127 silence.
 */
export function startMicrophone(port: number, ssrc: number, level: () => number): () => void {
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

export const SILENCE = 127;

/**
 * Levels like speech: loud syllables with short pauses. The observer measures activity above each speaker's
 * own noise floor, so a constant level would count as background noise.
 */
export function speech(): number {
  return Math.random() < 0.25 ? SILENCE : 5 + Math.floor(Math.random() * 25);
}
