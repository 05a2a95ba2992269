import type { ErrorCode } from "../../schema/errors";

/** An error meant for the peer: its code and message go into the `{ ok: false, error }` response as they are. */
export class MediaError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "MediaError";
  }
}

/** A short human-readable summary of valibot issues: `data.transportId: Invalid type…; …`. */
export function describeIssues(issues: readonly { message: string; path?: readonly { key: unknown }[] }[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((p) => String(p.key)).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
