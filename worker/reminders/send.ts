/**
 * One notification → one message out: SendGrid or Twilio when their settings are present, the local outbox when
 * they are not. The same message is built either way, so the embedded setup runs the production code path up to
 * the provider call.
 */
import type { Db } from "../db";
import type { Env } from "../env";
import { buildEmail, buildSms, type MessageContext } from "./messages";
import { outboxEmail, outboxSms } from "./outbox";
import { PROVIDER_TIMEOUT_MS, type SendResult } from "./provider-result";
import { parseAddress, SENDGRID_DEFAULT_BASE_URL, type SendGridConfig, sendGridMail } from "./sendgrid";
import { sendTwilioSms, TWILIO_DEFAULT_BASE_URL, type TwilioConfig } from "./twilio";

/** Used for join links when PUBLIC_URL is not set (the local `npm start` address). */
export const DEFAULT_PUBLIC_URL = "http://127.0.0.1:8787";

export interface Delivery {
  notificationId: string;
  channel: "email" | "sms";
  /** E-mail address or E.164 number. */
  destination: string;
  context: MessageContext;
}

/** The site origin for links in messages and webhook URLs, without a trailing slash. */
export function publicUrl(env: Env): string {
  return (env.PUBLIC_URL || DEFAULT_PUBLIC_URL).replace(/\/+$/, "");
}

/** SendGrid settings, or null (→ outbox) when no API key is set. */
export function sendGridConfig(env: Env): SendGridConfig | Error | null {
  if (!env.SENDGRID_API_KEY) return null;
  if (!env.SENDGRID_FROM) return new Error("SENDGRID_FROM is not set (the sender address SendGrid sends from)");
  return {
    apiKey: env.SENDGRID_API_KEY,
    baseUrl: (env.SENDGRID_BASE_URL || SENDGRID_DEFAULT_BASE_URL).replace(/\/+$/, ""),
    from: parseAddress(env.SENDGRID_FROM),
    timeoutMs: providerTimeoutMs(env),
  };
}

/** Twilio settings, or null (→ outbox) when the account SID or auth token is missing. */
export function twilioConfig(env: Env): TwilioConfig | Error | null {
  if (!env.TWILIO_ACCOUNT_SID || !env.TWILIO_AUTH_TOKEN) return null;
  if (!env.TWILIO_FROM) return new Error("TWILIO_FROM is not set (the number or messaging service SMS come from)");
  return {
    accountSid: env.TWILIO_ACCOUNT_SID,
    authToken: env.TWILIO_AUTH_TOKEN,
    baseUrl: (env.TWILIO_BASE_URL || TWILIO_DEFAULT_BASE_URL).replace(/\/+$/, ""),
    from: env.TWILIO_FROM,
    timeoutMs: providerTimeoutMs(env),
  };
}

/** PROVIDER_TIMEOUT_MS when it is a sensible number of milliseconds (1 s … 60 s), else the default. */
function providerTimeoutMs(env: Env): number {
  const value = Number(env.PROVIDER_TIMEOUT_MS);
  return Number.isInteger(value) && value >= 1000 && value <= 60_000 ? value : PROVIDER_TIMEOUT_MS;
}

/** Builds the message for `delivery` and hands it to the provider (or the outbox). Never throws for provider trouble. */
export async function deliver(env: Env, db: Db, delivery: Delivery): Promise<SendResult> {
  if (delivery.channel === "email") {
    const email = buildEmail(delivery.context);
    const config = sendGridConfig(env);
    if (config === null) return outboxEmail(db, { notificationId: delivery.notificationId, to: delivery.destination, email });
    if (config instanceof Error) return { ok: false, retryable: false, error: config.message };
    return sendGridMail(config, {
      to: { email: delivery.destination, name: delivery.context.recipientName },
      ...email,
      customArgs: { notification_id: delivery.notificationId },
    });
  }
  const body = buildSms(delivery.context);
  const config = twilioConfig(env);
  if (config === null) return outboxSms(db, { notificationId: delivery.notificationId, to: delivery.destination, body });
  if (config instanceof Error) return { ok: false, retryable: false, error: config.message };
  // Our id travels in the callback URL, so a report settles the row even when Twilio's answer (with its sid)
  // never reached us.
  const statusCallback = `${publicUrl(env)}/api/webhooks/twilio/status?notification=${encodeURIComponent(delivery.notificationId)}`;
  return sendTwilioSms(config, { to: delivery.destination, body, statusCallback });
}
