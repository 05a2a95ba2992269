/**
 * A small typed client for Twilio's Messages API (POST /2010-04-01/Accounts/{Sid}/Messages.json): Basic auth
 * AccountSid:AuthToken, a form-encoded body, 201 with the message `sid`. Also verifies X-Twilio-Signature on
 * status callbacks.
 */
import { httpFailure, networkFailure, PROVIDER_TIMEOUT_MS, type SendResult } from "./provider-result";

export const TWILIO_DEFAULT_BASE_URL = "https://api.twilio.com";

export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  /** How long a call may take before its outcome counts as unknown (default {@link PROVIDER_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Without a trailing slash; defaults to TWILIO_DEFAULT_BASE_URL. */
  baseUrl: string;
  /** E.164 sender, or a Messaging Service SID (MG…). */
  from: string;
}

export interface TwilioSms {
  to: string;
  body: string;
  /** Where Twilio posts delivery status updates. */
  statusCallback?: string;
}

/** The form fields Twilio expects. */
export function messageForm(config: TwilioConfig, sms: TwilioSms): URLSearchParams {
  const form = new URLSearchParams();
  form.set("To", sms.to);
  form.set(config.from.startsWith("MG") ? "MessagingServiceSid" : "From", config.from);
  form.set("Body", sms.body);
  if (sms.statusCallback) form.set("StatusCallback", sms.statusCallback);
  return form;
}

/** Sends one SMS. Never throws: every outcome is a SendResult. */
export async function sendTwilioSms(config: TwilioConfig, sms: TwilioSms): Promise<SendResult> {
  let response: Response;
  try {
    response = await fetch(`${config.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${config.accountSid}:${config.authToken}`)}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: messageForm(config, sms).toString(),
      signal: AbortSignal.timeout(config.timeoutMs ?? PROVIDER_TIMEOUT_MS),
    });
  } catch (error) {
    return networkFailure("Twilio", error);
  }
  let payload: { sid?: unknown; code?: unknown; message?: unknown } = {};
  try {
    payload = await response.json();
  } catch {
    // An empty or HTML body (a proxy error page); the status alone decides.
  }
  if (response.status === 201 || response.status === 200) {
    if (typeof payload.sid !== "string") return { ok: false, retryable: false, error: "Twilio accepted the message without a sid" };
    return { ok: true, providerMessageId: payload.sid };
  }
  const detail = [typeof payload.code === "number" ? `code ${payload.code}` : "", typeof payload.message === "string" ? payload.message : ""]
    .filter(Boolean)
    .join(" ");
  return httpFailure("Twilio", response, detail);
}

/**
 * Twilio's request signature: base64(HMAC-SHA1(authToken, url + every POST parameter's name and value, sorted
 * by name)). Compared in constant time.
 */
export async function verifyTwilioSignature(authToken: string, url: string, params: URLSearchParams, signature: string): Promise<boolean> {
  const names = [...new Set(params.keys())].sort();
  let data = url;
  for (const name of names) for (const value of params.getAll(name).sort()) data += name + value;
  const expected = await twilioSignature(authToken, data);
  return timingSafeEqualText(expected, signature);
}

async function twilioSignature(authToken: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(authToken), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
  return btoa(String.fromCharCode(...mac));
}

function timingSafeEqualText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.length !== right.length) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}
