/** Structured logging: one JSON object per line on stdout/stderr, so log shippers can index the fields. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = LEVELS[(process.env.SFU_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? LEVELS.info;

/** Writes one event; `fields` must not carry tokens or other secrets. */
export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  if (LEVELS[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  if (LEVELS[level] >= LEVELS.warn) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}
