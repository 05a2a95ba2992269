/**
 * A child process that holds class-channel sockets for a benchmark, so one Node process does not carry every
 * socket of a large class (its own event loop would then be part of every figure). The parent forks it (see
 * {@link forkSocketHerd}), sends the socket URLs, and gets back "ready" once every socket has its snapshot and,
 * on request, how many frames of each notification the sockets received. Sockets only count what arrives (a
 * prefix test, no JSON parsing) and keep the heartbeat.
 */
import { fork } from "node:child_process";
import WebSocket from "ws";

const OPEN_CONCURRENCY = 50;
const PING_INTERVAL_MS = 25_000;

type ToHerd = { type: "open"; urls: string[] } | { type: "count" } | { type: "close" };
type FromHerd = { type: "ready"; seconds: number } | { type: "counts"; counts: Record<string, number> } | { type: "error"; message: string };

export interface SocketHerd {
  /** Opens the sockets; resolves when every one has its snapshot. */
  open(urls: string[]): Promise<number>;
  /** Frames received so far by all sockets together, by notification (`board.ink`, `events`, …). */
  counts(): Promise<Record<string, number>>;
  close(): void;
}

/** Forks a herd process (this file, run by tsx). */
export function forkSocketHerd(): SocketHerd {
  const child = fork(import.meta.filename, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = <T extends FromHerd["type"]>(type: T) =>
    new Promise<Extract<FromHerd, { type: T }>>((resolve, reject) => {
      const onMessage = (message: FromHerd) => {
        if (message.type === "error") reject(new Error(`socket herd: ${message.message}`));
        else if (message.type === type) resolve(message as Extract<FromHerd, { type: T }>);
        else return;
        child.off("message", onMessage);
      };
      child.on("message", onMessage);
    });
  const send = (message: ToHerd) => child.send(message);
  return {
    async open(urls) {
      const ready = next("ready");
      send({ type: "open", urls });
      return (await ready).seconds;
    },
    async counts() {
      const counts = next("counts");
      send({ type: "count" });
      return (await counts).counts;
    },
    close() {
      if (child.connected) send({ type: "close" });
      setTimeout(() => child.kill(), 5_000).unref();
    },
  };
}

function connect(url: string, counts: Map<string, number>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    let snapshot = false;
    const timer = setTimeout(() => reject(new Error("no snapshot within 120 s")), 120_000);
    socket.on("message", (data) => {
      const text = data.toString();
      const name = /^\{"notification":"([^"]+)"/.exec(text)?.[1];
      if (!name) return;
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (!snapshot && name === "snapshot") {
        snapshot = true;
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function runHerd(): Promise<void> {
  const sockets: WebSocket[] = [];
  const counts = new Map<string, number>();
  const reply = (message: FromHerd) => process.send!(message);
  const ping = setInterval(() => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send("ping");
  }, PING_INTERVAL_MS);
  process.on("message", async (message: ToHerd) => {
    try {
      if (message.type === "open") {
        const started = performance.now();
        let next = 0;
        const opener = async () => {
          while (next < message.urls.length) sockets.push(await connect(message.urls[next++]!, counts));
        };
        await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, opener));
        reply({ type: "ready", seconds: (performance.now() - started) / 1000 });
      } else if (message.type === "count") reply({ type: "counts", counts: Object.fromEntries(counts) });
      else {
        clearInterval(ping);
        for (const socket of sockets) socket.close(1000, "bench done");
        setTimeout(() => process.exit(0), 1_000);
      }
    } catch (error) {
      reply({ type: "error", message: String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.send && process.argv[1] === import.meta.filename) await runHerd();
