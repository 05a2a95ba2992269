/** The outcome of handing one message to a provider (or to the local outbox). */
export type SendResult =
  | { ok: true; providerMessageId: string }
  | {
      ok: false;
      /** 429, 5xx and network failures are worth another try; other refusals (bad address, bad number) are not. */
      retryable: boolean;
      error: string;
      /** The provider's Retry-After, in seconds, when it sent one. */
      retryAfterSeconds?: number;
    }
  /** The request went out but no answer came in time: the provider may or may not have taken the message. */
  | { ok: "unknown"; error: string };

/** How long one provider call may take before it counts as a network failure. */
export const PROVIDER_TIMEOUT_MS = 15_000;

/** Maps a provider HTTP failure to a SendResult: 429 and 5xx are retryable, other statuses are permanent. */
export function httpFailure(provider: string, response: Response, detail: string): SendResult {
  const retryable = response.status === 429 || response.status >= 500;
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    ok: false,
    retryable,
    error: `${provider} answered ${response.status}${detail ? `: ${detail}` : ""}`.slice(0, 500),
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
  };
}

/**
 * A network failure. A timeout comes after the request was sent, so the provider may have taken it: the outcome
 * is unknown and retrying could duplicate the message. A refused or reset connection is retried: the request
 * did not get through as far as the provider can tell us.
 */
export function networkFailure(provider: string, error: unknown): SendResult {
  if (error instanceof Error && error.name === "TimeoutError")
    return { ok: "unknown", error: `${provider} did not answer in time; waiting for its delivery report` };
  const reason = error instanceof Error ? error.message : String(error);
  return { ok: false, retryable: true, error: `${provider} unreachable: ${reason}`.slice(0, 500) };
}
