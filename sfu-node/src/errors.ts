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
