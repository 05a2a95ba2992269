/**
 * A child process that holds a share of a benchmark class's sockets and chats through them, so no single Node
 * process carries every socket of a large class: one process holding 1,000 sockets spends enough of its own event
 * loop on them to inflate every figure it measures, the bare room's too.
 *
 * The parent forks several (see {@link forkChatHerd}), gives each its socket URLs, tells one to send a chat
 * message from one of its sockets, and at the end collects what every socket received. Times are wall-clock
 * milliseconds with sub-millisecond precision (`performance.timeOrigin + performance.now()`), so a send stamped
 * in one process and a receipt stamped in another compare directly (same machine, same clock).
 */
import { fork } from "node:child_process";
import WebSocket from "ws";

const PING_INTERVAL_MS = 20_000;
const SNAPSHOT_TIMEOUT_MS = 120_000;

type ToHerd =
  | { type: "open"; urls: string[]; concurrency: number }
  | { type: "send"; socket: number; body: string; requestId: number }
  | { type: "collect" }
  | { type: "close" };

type FromHerd =
  | { type: "ready"; snapshotAts: number[]; traffic: JoinTraffic }
  | { type: "collected"; sent: Record<string, number>; received: Record<string, number[]>; replyMs: number[]; cpuSeconds: number }
  | { type: "error"; message: string };

/** What this herd's sockets received while they were joining (until the last of them had its snapshot). */
export interface JoinTraffic {
  /** Each socket's snapshot frame, in bytes (index = socket). */
  snapshotBytes: number[];
  /** Frames other than the snapshots, and all bytes, snapshots included. */
  otherFrames: number;
  bytes: number;
}

export interface ChatHerd {
  /** Opens the sockets (at most `concurrency` at once); resolves with when each got its snapshot and what came meanwhile. */
  open(urls: string[], concurrency: number): Promise<{ snapshotAts: number[]; traffic: JoinTraffic }>;
  /** Sends one chat message from this herd's socket `socket` (stamped when it leaves). */
  send(socket: number, body: string, requestId: number): void;
  /** What was sent from and received by this herd's sockets since they opened (and clears it), with its CPU so far. */
  collect(): Promise<Extract<FromHerd, { type: "collected" }>>;
  close(): void;
}

/** Wall-clock ms, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Forks a herd process (this file, run by tsx). */
export function forkChatHerd(): ChatHerd {
  const child = fork(import.meta.filename, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = <T extends FromHerd["type"]>(type: T) =>
    new Promise<Extract<FromHerd, { type: T }>>((resolve, reject) => {
      const onMessage = (message: FromHerd) => {
        if (message.type === "error") reject(new Error(`chat herd: ${message.message}`));
        else if (message.type === type) resolve(message as Extract<FromHerd, { type: T }>);
        else return;
        child.off("message", onMessage);
      };
      child.on("message", onMessage);
    });
  const send = (message: ToHerd) => child.send(message);
  return {
    async open(urls, concurrency) {
      const ready = next("ready");
      send({ type: "open", urls, concurrency });
      const { snapshotAts, traffic } = await ready;
      return { snapshotAts, traffic };
    },
    send(socket, body, requestId) {
      send({ type: "send", socket, body, requestId });
    },
    async collect() {
      const collected = next("collected");
      send({ type: "collect" });
      return collected;
    },
    close() {
      if (child.connected) send({ type: "close" });
      setTimeout(() => child.kill(), 5_000).unref();
    },
  };
}

const REPLY_ID = /^\{"id":(\d+),/;
const CHAT_BODY = /"type":"chat\.message".*?"body":"(bench-[^"]+)"/g;

async function runHerd(): Promise<void> {
  const sockets: WebSocket[] = [];
  let sent = new Map<string, number>();
  let received = new Map<string, number[]>();
  /** When each request left, by request id; a reply's delay is how long the object took to answer the sender. */
  let requestSentAt = new Map<number, number>();
  let replyMs: number[] = [];
  /** Counted while the herd's sockets join (reset by the next open). */
  let joining = false;
  let traffic: JoinTraffic = { snapshotBytes: [], otherFrames: 0, bytes: 0 };
  const reply = (message: FromHerd) => process.send!(message);
  const ping = setInterval(() => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send("ping");
  }, PING_INTERVAL_MS);

  const connect = (url: string, index: number, snapshotAts: number[]) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(url);
      sockets[index] = socket;
      const timer = setTimeout(() => reject(new Error(`no snapshot within ${SNAPSHOT_TIMEOUT_MS / 1000} s`)), SNAPSHOT_TIMEOUT_MS);
      socket.on("message", (data) => {
        const at = wallNow();
        const text = data.toString();
        if (joining) traffic.bytes += (data as Buffer).byteLength;
        if (snapshotAts[index] === undefined) {
          if (text.startsWith('{"notification":"snapshot"')) {
            traffic.snapshotBytes[index] = (data as Buffer).byteLength;
            snapshotAts[index] = at;
            clearTimeout(timer);
            resolve();
          }
          return;
        }
        if (joining) traffic.otherFrames += 1;
        const reply = REPLY_ID.exec(text);
        if (reply) {
          const leftAt = requestSentAt.get(Number(reply[1]));
          if (leftAt !== undefined) replyMs.push(at - leftAt);
          return;
        }
        if (!text.startsWith('{"notification":"events"')) return;
        // Bench bodies are plain tags, so a pattern finds them without parsing every frame.
        for (const match of text.matchAll(CHAT_BODY)) {
          const body = match[1]!;
          let times = received.get(body);
          if (!times) received.set(body, (times = []));
          times.push(at);
        }
      });
      socket.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });

  process.on("message", async (message: ToHerd) => {
    try {
      switch (message.type) {
        case "open": {
          const snapshotAts: number[] = [];
          traffic = { snapshotBytes: [], otherFrames: 0, bytes: 0 };
          joining = true;
          let next = 0;
          const opener = async () => {
            while (next < message.urls.length) {
              const index = next++;
              await connect(message.urls[index]!, index, snapshotAts);
            }
          };
          await Promise.all(Array.from({ length: message.concurrency }, opener));
          joining = false;
          reply({ type: "ready", snapshotAts, traffic });
          break;
        }
        case "send":
          sent.set(message.body, wallNow());
          requestSentAt.set(message.requestId, wallNow());
          sockets[message.socket]!.send(
            JSON.stringify({ id: message.requestId, method: "chat.send", data: { clientMessageId: message.body, body: message.body } }),
          );
          break;
        case "collect": {
          const usage = process.cpuUsage();
          reply({
            type: "collected",
            sent: Object.fromEntries(sent),
            received: Object.fromEntries(received),
            replyMs,
            cpuSeconds: (usage.user + usage.system) / 1e6,
          });
          sent = new Map();
          received = new Map();
          requestSentAt = new Map();
          replyMs = [];
          break;
        }
        case "close":
          clearInterval(ping);
          for (const socket of sockets) socket?.close(1000, "bench done");
          setTimeout(() => process.exit(0), 1_000);
          break;
      }
    } catch (error) {
      reply({ type: "error", message: String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.send && process.argv[1] === import.meta.filename) await runHerd();
