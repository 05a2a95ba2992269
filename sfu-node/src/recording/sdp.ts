import type { types } from "mediasoup";

/**
 * The SDP FFmpeg reads to receive one consumer's RTP: one media section with the consumer's single codec
 * (RTX and FEC are never negotiated for the recorder), on `ports.rtp` with RTCP on `ports.rtcp`.
 */
export function recorderSdp(options: { kind: types.MediaKind; rtpParameters: types.RtpParameters; rtpPort: number; rtcpPort: number }): string {
  const codec = options.rtpParameters.codecs[0];
  if (!codec) throw new Error("The consumer has no codec");
  const [, name] = codec.mimeType.split("/");
  const encoding = `${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ""}`;
  const fmtp = Object.entries(codec.parameters ?? {})
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(";");
  const lines = [
    "v=0",
    "o=- 0 0 IN IP4 127.0.0.1",
    "s=insp-live recorder",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=${options.kind} ${options.rtpPort} RTP/AVP ${codec.payloadType}`,
    `a=rtpmap:${codec.payloadType} ${encoding}`,
    ...(fmtp ? [`a=fmtp:${codec.payloadType} ${fmtp}`] : []),
    `a=rtcp:${options.rtcpPort}`,
    "a=recvonly",
  ];
  return `${lines.join("\n")}\n`;
}
