/**
 * Board capture benchmark (prints figures; not a test).
 *
 *   npx tsx bench/board-capture.ts
 *
 * How the board's canvas track costs on the wire, in Debian's Chromium: a 1280×720 canvas showing a slide is
 * sent over a loopback RTCPeerConnection pair (VP8, one encoding, 1.5 Mbit/s cap, as the board producer sends)
 * for 10 s with nothing changing, then 5 s with a stroke growing every 66 ms. Three ways to feed the encoder:
 *   - requestFrame: `captureStream(0)` + `requestFrame()` after each change, and once a second (what
 *     web/src/live/board/BoardCapture.ts does);
 *   - captureStream(15), drawn on change: Chromium's own 15 fps capture, the canvas painted only on change;
 *   - captureStream(15), drawn every tick: the canvas repainted 15 times a second whether or not it changed.
 * Printed per phase: frames encoded a second and kbit/s sent (outbound-rtp stats).
 */
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../e2e/lib/browser";

type Mode = "requestFrame" | "capture15-on-change" | "capture15-every-tick";
const MODES: Mode[] = ["requestFrame", "capture15-on-change", "capture15-every-tick"];

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  // tsx compiles with esbuild's keepNames, whose `__name` helper the page does not have: give it a no-op one.
  await page.evaluate("globalThis.__name = (fn) => fn");
  console.log("mode | idle fps | idle kbit/s | drawing fps | drawing kbit/s");
  for (const mode of MODES) {
    const result = await page.evaluate(async (mode: string) => {
      /* eslint-disable */
      const g = globalThis as any;
      const canvas = g.document.createElement("canvas");
      canvas.width = 1280;
      canvas.height = 720;
      const context = canvas.getContext("2d");
      const stream = canvas.captureStream(mode === "requestFrame" ? 0 : 15);
      const track = stream.getVideoTracks()[0];
      track.contentHint = "detail";
      let strokeLength = 0;
      const paint = () => {
        context.fillStyle = "#000";
        context.fillRect(0, 0, 1280, 720);
        context.fillStyle = "#1a9933";
        context.fillRect(160, 0, 960, 720);
        context.fillStyle = "#fff";
        context.font = "48px sans-serif";
        context.fillText("Photosynthesis: light reactions", 200, 120);
        context.strokeStyle = "#d32f2f";
        context.lineWidth = 12;
        context.beginPath();
        context.moveTo(300, 400);
        context.lineTo(300 + strokeLength, 400 + Math.sin(strokeLength / 40) * 60);
        context.stroke();
        if (mode === "requestFrame") track.requestFrame();
      };
      const sender = new g.RTCPeerConnection();
      const receiver = new g.RTCPeerConnection();
      sender.onicecandidate = (event: any) => event.candidate && receiver.addIceCandidate(event.candidate);
      receiver.onicecandidate = (event: any) => event.candidate && sender.addIceCandidate(event.candidate);
      const transceiver = sender.addTransceiver(track, { direction: "sendonly", sendEncodings: [{ maxBitrate: 1_500_000, maxFramerate: 15 }] });
      const vp8 = g.RTCRtpSender.getCapabilities("video").codecs.filter((codec: any) => codec.mimeType === "video/VP8");
      transceiver.setCodecPreferences(vp8);
      await sender.setLocalDescription();
      await receiver.setRemoteDescription(sender.localDescription);
      await receiver.setLocalDescription();
      await sender.setRemoteDescription(receiver.localDescription);
      let dirty = true;
      let lastFrameAt = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        if (mode === "capture15-every-tick" || dirty || now - lastFrameAt >= 1000) {
          dirty = false;
          lastFrameAt = now;
          paint();
        }
      }, 1000 / 15);
      const outbound = async () => {
        const stats = await sender.getStats();
        for (const report of stats.values())
          if (report.type === "outbound-rtp") return { frames: report.framesEncoded ?? 0, bytes: report.bytesSent ?? 0, at: performance.now() };
        return { frames: 0, bytes: 0, at: performance.now() };
      };
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      // Warm-up: connection, first key frame, bandwidth estimate.
      await sleep(4000);
      const idleStart = await outbound();
      await sleep(10_000);
      const idleEnd = await outbound();
      const drawing = setInterval(() => {
        strokeLength += 10;
        dirty = true;
      }, 66);
      await sleep(5000);
      const drawEnd = await outbound();
      clearInterval(drawing);
      clearInterval(timer);
      sender.close();
      receiver.close();
      track.stop();
      const rate = (a: any, b: any) => ({ fps: ((b.frames - a.frames) * 1000) / (b.at - a.at), kbps: ((b.bytes - a.bytes) * 8) / (b.at - a.at) });
      return { idle: rate(idleStart, idleEnd), drawing: rate(idleEnd, drawEnd) };
    }, mode);
    console.log(
      `${mode} | ${result.idle.fps.toFixed(1)} | ${result.idle.kbps.toFixed(0)} | ${result.drawing.fps.toFixed(1)} | ${result.drawing.kbps.toFixed(0)}`,
    );
  }
} finally {
  await browser.close();
}
