/**
 * kill -9 of the mediasoup worker under a live class: how long until its students see video again (prints
 * figures; not a test).
 *
 *   npx tsx bench/worker-kill.ts              # 10 rounds, a class of 50 students
 *   npx tsx bench/worker-kill.ts 20 200       # rounds, students
 *
 * One MediaNode with two real mediasoup workers, in this process. A teacher's camera is one FFmpeg VP8 sender
 * (320×240, 15 fps, a key frame every 3 frames: FFmpeg ignores PLI, where a browser answers the new
 * consumers' PLI at once) that runs through the whole benchmark behind a UDP relay, as a browser's track
 * outlives its transports. Each round: the class joins (teacher producing, every student consuming on a plain
 * transport into a counting socket), video reaches every student, the worker under the class is killed with
 * SIGKILL, and every participant rejoins the moment the node closes its connection with the reconnect code
 * (what the web app does on `reconnect`, minus its round trips to the class object and ICE/DTLS: those are
 * the browser's part and are not measured here).
 *
 * Figures per round, from the kill: every participant told; the first and the last student receiving RTP
 * again; the worker replaced in its slot. Then the median and the worst over the rounds.
 * Ports: RTC 43600-43799.
 */
import "./lib/quiet-sfu-log";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { MediaNode } from "../sfu-node/src/Node";
import type { PeerConnection } from "../sfu-node/src/Peer";
import type { Room } from "../sfu-node/src/Room";

const rounds = Number(process.argv[2] ?? 10);
const students = Number(process.argv[3] ?? 50);
const RTC_BASE = 43_600;
const PAYLOAD_TYPE = 101;
const SSRC = 22_222_222;

async function udpSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return socket;
}

/** The teacher's camera: FFmpeg into a relay that each rejoin points at the new send transport. */
async function camera() {
  const rtp = await udpSocket();
  const rtcp = await udpSocket();
  let target: { rtp: number; rtcp: number } | undefined;
  rtp.on("message", (packet) => target && rtp.send(packet, target.rtp, "127.0.0.1"));
  rtcp.on("message", (packet) => target && rtcp.send(packet, target.rtcp, "127.0.0.1"));
  const ffmpeg = spawn(
    "ffmpeg",
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-re",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=15",
      "-c:v",
      "libvpx",
      "-deadline",
      "realtime",
      "-cpu-used",
      "8",
      "-b:v",
      "300k",
      "-g",
      "3",
      "-an",
      "-payload_type",
      String(PAYLOAD_TYPE),
      "-ssrc",
      String(SSRC),
      "-f",
      "rtp",
      `rtp://127.0.0.1:${rtp.address().port}?rtcpport=${rtcp.address().port}&pkt_size=1200`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  return {
    pointAt: (rtpPort: number, rtcpPort: number) => (target = { rtp: rtpPort, rtcp: rtcpPort }),
    close: () => {
      ffmpeg.kill("SIGKILL");
      rtp.close();
      rtcp.close();
    },
  };
}

/** A connection that resolves `closed` when the node closes it (with the reconnect code after a worker death). */
function connection(): { connection: PeerConnection; closed: Promise<number> } {
  let settle!: (at: number) => void;
  const closed = new Promise<number>((resolve) => (settle = resolve));
  return { closed, connection: { notify: () => undefined, close: () => settle(performance.now()) } };
}

type Camera = Awaited<ReturnType<typeof camera>>;

/** The class joins `room`; resolves with when each student's first RTP packet arrives, and everyone's closes. */
async function joinClass(room: Room, cam: Camera, sockets: dgram.Socket[]) {
  const teacherSocket = connection();
  const teacher = room.addPeer({ userId: "teacher", role: "teacher", produce: ["video"], displayName: "Teacher", connection: teacherSocket.connection });
  const input = await teacher.createPlainTransport("send", { comedia: true, rtcpMux: false });
  const producer = await teacher.producePlain(input, "video", {
    kind: "video",
    rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: PAYLOAD_TYPE, clockRate: 90000 }], encodings: [{ ssrc: SSRC }] },
  });
  cam.pointAt(input.tuple.localPort, input.rtcpTuple!.localPort);
  const closes = [teacherSocket.closed];
  const firstPackets = await Promise.all(
    sockets.map(async (socket, index) => {
      const studentSocket = connection();
      closes.push(studentSocket.closed);
      const student = room.addPeer({
        userId: `student-${index}`,
        role: "student",
        produce: [],
        displayName: `S${index}`,
        connection: studentSocket.connection,
      });
      const output = await student.createPlainTransport("recv");
      await student.consume({
        transportId: output.id,
        producerId: producer.id,
        rtpCapabilities: room.routers.values().next().value!.router.rtpCapabilities,
        paused: false,
      });
      const first = new Promise<number>((resolve) => {
        socket.removeAllListeners("message");
        socket.once("message", () => resolve(performance.now()));
      });
      await output.connect({ ip: "127.0.0.1", port: socket.address().port });
      return first;
    }),
  );
  return { firstPackets, closes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const node = await MediaNode.create(
    {
      nodeId: "bench-node",
      listenHost: "127.0.0.1",
      announcedAddress: undefined,
      webRtcServerPortBase: RTC_BASE,
      rtcPortMin: RTC_BASE + 10,
      rtcPortMax: RTC_BASE + 199,
      workers: 2,
      consumersPerRouter: 10_000,
    },
    { logLevel: "error" },
  );
  const cam = await camera();
  const sockets = await Promise.all(Array.from({ length: students }, () => udpSocket()));
  const results: { toldMs: number; firstMs: number; allMs: number; replacedMs: number }[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const room = await node.openRoom("class-bench");
      const before = await joinClass(room, cam, sockets);
      await Promise.all(before.firstPackets);
      // A moment of steady video, as in a class.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const slot = node.slots[room.routers.keys().next().value!]!;
      const replaced = new Promise<number>((resolve) => node.once("workerReplaced", () => resolve(performance.now())));
      const killedAt = performance.now();
      process.kill(slot.worker.pid, "SIGKILL");
      // Each participant rejoins when its connection closes; the whole class is back when every socket closed.
      const told = Math.max(...(await Promise.all(before.closes)));
      const after = await joinClass(await node.openRoom("class-bench"), cam, sockets);
      const firsts = await Promise.all(after.firstPackets);
      const result = {
        toldMs: told - killedAt,
        firstMs: Math.min(...firsts) - killedAt,
        allMs: Math.max(...firsts) - killedAt,
        replacedMs: (await replaced) - killedAt,
      };
      results.push(result);
      console.log(
        `round ${round}: told ${result.toldMs.toFixed(0)} ms, first student's video ${result.firstMs.toFixed(0)} ms, last ${result.allMs.toFixed(0)} ms, worker replaced ${result.replacedMs.toFixed(0)} ms`,
      );
      node.rooms.get("class-bench")?.close("closed-by-server");
    }
  } finally {
    cam.close();
    for (const socket of sockets) socket.close();
    node.close();
  }
  const line = (name: string, values: number[]) =>
    console.log(
      `${name.padEnd(28)} median ${median(values).toFixed(0).padStart(5)} ms   worst ${Math.max(...values)
        .toFixed(0)
        .padStart(5)} ms`,
    );
  console.log(`\n${rounds} kills, a class of 1 teacher + ${students} students (load average ${(await import("node:os")).loadavg()[0]!.toFixed(1)})`);
  line(
    "everyone told",
    results.map((r) => r.toldMs),
  );
  line(
    "first student's video",
    results.map((r) => r.firstMs),
  );
  line(
    "every student's video",
    results.map((r) => r.allMs),
  );
  line(
    "worker replaced",
    results.map((r) => r.replacedMs),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
