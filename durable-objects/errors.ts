import type { ErrorCode } from "../schema/errors";

/** A refusal meant for the client: answered as `{ id, ok: false, error: { code, message } }`, socket kept. */
export class ChannelError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ChannelError";
  }
}
