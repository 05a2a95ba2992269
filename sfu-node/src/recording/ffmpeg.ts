import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The FFmpeg and ffprobe binaries (Debian's by default; FFMPEG_PATH / FFPROBE_PATH override). */
export const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";
export const FFPROBE = process.env.FFPROBE_PATH || "ffprobe";

/** A running FFmpeg with the tail of its stderr kept for the log when it fails. */
export interface FfmpegProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(): string;
}

export function spawnFfmpeg(args: string[]): FfmpegProcess {
  const child = spawn(FFMPEG, ["-hide_banner", "-nostdin", "-loglevel", "warning", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (error) => {
      tail += `\n${error.message}`;
      resolve({ code: -1, signal: null });
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, stderrTail: () => tail.trim() };
}

/**
 * Asks FFmpeg to finish (SIGINT: it closes its files properly), and kills it if it has not exited after
 * `graceMs`. FFmpeg only notices the signal when its input delivers a packet, so a capture whose RTP has
 * already stopped (producer or room closed, mute) would take seconds; captures flush every cluster, so
 * killing it loses at most the last half second.
 */
export async function stopFfmpeg(ffmpeg: FfmpegProcess, graceMs = 1500): Promise<void> {
  if (ffmpeg.child.exitCode !== null || ffmpeg.child.signalCode !== null) return;
  ffmpeg.child.kill("SIGINT");
  const timer = setTimeout(() => ffmpeg.child.kill("SIGKILL"), graceMs);
  await ffmpeg.exited;
  clearTimeout(timer);
}

/** Runs FFmpeg to completion; rejects with the end of its stderr when it fails. */
export async function runFfmpeg(args: string[]): Promise<void> {
  const ffmpeg = spawnFfmpeg(args);
  const { code, signal } = await ffmpeg.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${signal ?? code}): ${ffmpeg.stderrTail()}`);
}

/** `format` fields of a media file, or undefined when ffprobe cannot read it (an empty last segment). */
export async function probeFormat(file: string): Promise<{ startTime: number; duration: number } | undefined> {
  try {
    const { stdout } = await run(FFPROBE, ["-v", "error", "-show_entries", "format=start_time,duration", "-of", "json", file]);
    const format = (JSON.parse(stdout) as { format?: { start_time?: string; duration?: string } }).format;
    const startTime = Number(format?.start_time);
    const duration = Number(format?.duration);
    if (!Number.isFinite(startTime)) return undefined;
    if (Number.isFinite(duration) && duration > 0) return { startTime, duration };
    // A segment whose FFmpeg was killed has no duration in its header: its last packet says how far it goes.
    return { startTime, duration: Math.max(0, ((await lastPacketEnd(file)) ?? startTime) - startTime) };
  } catch {
    return undefined;
  }
}

/** Media time (seconds) where a file's last packet ends, read packet by packet (for files never finalized). */
async function lastPacketEnd(file: string): Promise<number | undefined> {
  const { stdout } = await run(FFPROBE, ["-v", "error", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", file], {
    maxBuffer: 64 * 1024 * 1024,
  });
  let end: number | undefined;
  for (const line of stdout.split("\n")) {
    const [pts, duration] = line.split(",").map(Number);
    if (pts !== undefined && Number.isFinite(pts)) end = Math.max(end ?? pts, pts + (Number.isFinite(duration) ? duration! : 0));
  }
  return end;
}

/** Whether some process on this machine has a UDP socket bound to `port` (read from /proc, no side effects). */
export async function udpPortBound(port: number): Promise<boolean> {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local?.endsWith(suffix)) return true;
    }
  }
  return false;
}
