import { Device, type types } from "mediasoup-client";
import type { MediaSource } from "../../../../schema/tokens/media-token";
import type { Connection } from "./types";

/**
 * Camera simulcast: three layers of the 1280×720 capture. Receivers pick one with `setPreferredLayers`
 * according to the size of the tile that shows it.
 */
const CAMERA_ENCODINGS: RTCRtpEncodingParameters[] = [
  { rid: "r0", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "r1", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "r2", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
/** Without a start bitrate Chromium holds the top simulcast layer back for seconds after joining. */
const VIDEO_CODEC_OPTIONS: types.ProducerCodecOptions = { videoGoogleStartBitrate: 1000 };
/** DTX: nothing is sent while the speaker is silent; FEC: a lost packet is rebuilt from the next one. */
const AUDIO_CODEC_OPTIONS: types.ProducerCodecOptions = { opusDtx: true, opusFec: true };

/** Follows the ICE connection state of a transport (the ladder restarts ICE or rejoins). */
export type WatchTransport = (connection: Connection, transport: types.Transport) => void;

/**
 * The mediasoup-client side of one connection, on its open socket: loads the device with the router's
 * capabilities and creates the receive transport (the send transport waits for the first producer).
 */
export async function createRecvTransport(connection: Connection, watch: WatchTransport, isCurrent: () => boolean): Promise<void> {
  const socket = connection.socket!;
  // The three requests are independent: send them together to save round trips on the way to first frame.
  const device = Device.factory();
  const [capabilities, recvParameters] = await Promise.all([
    socket.request("getRouterRtpCapabilities", {}),
    socket.request("createWebRtcTransport", { direction: "recv" }),
  ]);
  connection.device = await device;
  await connection.device.load({ routerRtpCapabilities: capabilities.rtpCapabilities as types.RtpCapabilities });
  if (!isCurrent()) return;
  const recv = connection.device.createRecvTransport({
    id: recvParameters.transportId,
    iceParameters: recvParameters.iceParameters as types.IceParameters,
    iceCandidates: recvParameters.iceCandidates as types.IceCandidate[],
    dtlsParameters: recvParameters.dtlsParameters as types.DtlsParameters,
  });
  wireTransport(connection, recv);
  watch(connection, recv);
  connection.recv = recv;
}

/** The send transport, created once per connection on first use (a failed try is forgotten, so the next retries). */
export function sendTransport(connection: Connection, watch: WatchTransport): Promise<types.Transport> {
  connection.send ??= (async () => {
    const socket = connection.socket!;
    const parameters = await socket.request("createWebRtcTransport", { direction: "send" });
    const send = connection.device!.createSendTransport({
      id: parameters.transportId,
      iceParameters: parameters.iceParameters as types.IceParameters,
      iceCandidates: parameters.iceCandidates as types.IceCandidate[],
      dtlsParameters: parameters.dtlsParameters as types.DtlsParameters,
    });
    wireTransport(connection, send);
    send.on("produce", ({ kind, rtpParameters, appData }, callback, errback) => {
      socket
        .request("produce", { transportId: send.id, kind, source: appData.source as MediaSource, rtpParameters: rtpParameters as never })
        .then(({ producerId }) => callback({ id: producerId }), errback);
    });
    watch(connection, send);
    return send;
  })();
  connection.send.catch(() => {
    connection.send = null;
  });
  return connection.send;
}

/** Sends `track` as `source` with the encodings that source needs. */
export async function createProducer(connection: Connection, watch: WatchTransport, source: MediaSource, track: MediaStreamTrack): Promise<types.Producer> {
  const send = await sendTransport(connection, watch);
  const options: types.ProducerOptions =
    source === "audio"
      ? { codecOptions: AUDIO_CODEC_OPTIONS }
      : source === "video"
        ? { encodings: CAMERA_ENCODINGS, codecOptions: VIDEO_CODEC_OPTIONS }
        : source === "board"
          ? // One layer: only the recorder receives it. The cap is the board's drawing rate; idle it sends far less.
            { encodings: [{ maxBitrate: 1_500_000, maxFramerate: 15 }], codecOptions: VIDEO_CODEC_OPTIONS }
          : { encodings: [{ maxBitrate: 2_500_000 }], codecOptions: VIDEO_CODEC_OPTIONS };
  return send.produce({ track, stopTracks: false, appData: { source }, ...options });
}

/** Closes the connection's socket and transports (consumers and producers close with their transport). */
export function closeTransports(connection: Connection): void {
  connection.socket?.close();
  connection.recv?.close();
  void connection.send?.then(
    (send) => send.close(),
    () => undefined,
  );
}

/** DTLS: hand our fingerprints to the node the first time the transport carries media. */
function wireTransport(connection: Connection, transport: types.Transport): void {
  transport.on("connect", ({ dtlsParameters }, callback, errback) => {
    connection.socket?.request("connectTransport", { transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => callback(), errback);
  });
}
