/**
 * Delivery receipts from the providers. Both routes are exempt from the Origin check (see origin.ts) and are
 * authenticated by the provider's signature instead; an unsigned, forged or stale request changes nothing.
 *
 * - POST /api/webhooks/twilio/status     Twilio status callbacks (form-encoded, X-Twilio-Signature)
 * - POST /api/webhooks/sendgrid/events   SendGrid signed event webhook (JSON array, ECDSA P-256)
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppEnv } from "../app-env";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { publicUrl } from "../reminders/send";
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, verifySendGridSignature } from "../reminders/sendgrid-webhook";
import { verifyTwilioSignature } from "../reminders/twilio";
import { parse, parseJson, readBodyText, requireContentType } from "../validate";

export const webhooksRoutes = new Hono<AppEnv>();

/** Twilio's callbacks are a few hundred bytes; SendGrid batches events but keeps a POST well under this. */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** The path Twilio is told to call (StatusCallback); its signature covers the full URL. */
export const TWILIO_STATUS_PATH = "/api/webhooks/twilio/status";

// Provider payloads carry many fields we do not use and that change over time, so these schemas only require
// what we read (the strict-schema rule is for our own API's request bodies).
const TwilioStatusSchema = v.object({
  MessageSid: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  MessageStatus: v.pipe(v.string(), v.maxLength(32)),
  ErrorCode: v.optional(v.pipe(v.string(), v.maxLength(16))),
});

const SendGridEventSchema = v.object({
  event: v.pipe(v.string(), v.maxLength(32)),
  sg_message_id: v.optional(v.pipe(v.string(), v.maxLength(256))),
  notification_id: v.optional(v.pipe(v.string(), v.maxLength(64))),
  reason: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  type: v.optional(v.pipe(v.string(), v.maxLength(32))),
});
const SendGridEventsSchema = v.pipe(v.array(SendGridEventSchema), v.maxLength(5000));

// Order of refusals: an unsigned request is 401 before anything else, whether or not this deployment has the
// provider's key, so junk posted at the URL never shows up as a server fault. A signed request to a deployment
// without the key stays 503: that one is ours to fix. Then the exact content type the provider sends (415),
// the body read under the byte cap (413), and only then the signature over it.

webhooksRoutes.post(TWILIO_STATUS_PATH, async (c) => {
  const signature = c.req.header("x-twilio-signature");
  if (!signature) throw new ApiError("UNAUTHORIZED", "Missing X-Twilio-Signature");
  const authToken = c.env.TWILIO_AUTH_TOKEN;
  if (!authToken) throw new ApiError("UNAVAILABLE", "Twilio is not configured here");
  requireContentType(c.req.raw, "application/x-www-form-urlencoded");
  const params = new URLSearchParams(await readBodyText(c.req.raw, MAX_WEBHOOK_BYTES));
  // Twilio signs the URL it was given (with our query); behind a proxy that can differ from the URL this request
  // arrived at.
  const candidates = new Set([`${publicUrl(c.env)}${TWILIO_STATUS_PATH}${new URL(c.req.url).search}`, c.req.url]);
  let valid = false;
  for (const url of candidates) if (await verifyTwilioSignature(authToken, url, params, signature)) valid = true;
  if (!valid) throw new ApiError("UNAUTHORIZED", "X-Twilio-Signature does not match");

  const status = parse(TwilioStatusSchema, Object.fromEntries(params));
  const notificationId = new URL(c.req.url).searchParams.get("notification");
  const target: ReceiptTarget =
    notificationId && notificationId.length <= 64
      ? { channel: "sms", notificationId, providerMessageId: status.MessageSid }
      : { channel: "sms", providerMessageId: status.MessageSid };
  if (status.MessageStatus === "delivered") {
    await markReceipt(c.env, target, "delivered", null);
  } else if (status.MessageStatus === "undelivered" || status.MessageStatus === "failed") {
    const error = `Twilio: ${status.MessageStatus}${status.ErrorCode ? ` (error ${status.ErrorCode})` : ""}`;
    await markReceipt(c.env, target, "failed", error);
  } else if (status.MessageStatus === "sent" || status.MessageStatus === "queued" || status.MessageStatus === "accepted") {
    await markReceipt(c.env, target, "sent", null);
  }
  return c.body(null, 204);
});

webhooksRoutes.post("/api/webhooks/sendgrid/events", async (c) => {
  const signature = c.req.header(SENDGRID_SIGNATURE_HEADER);
  const timestamp = c.req.header(SENDGRID_TIMESTAMP_HEADER);
  if (!signature || !timestamp) throw new ApiError("UNAUTHORIZED", "Missing signature headers");
  const publicKey = c.env.SENDGRID_WEBHOOK_PUBLIC_KEY;
  if (!publicKey) throw new ApiError("UNAVAILABLE", "The SendGrid event webhook is not configured here");
  requireContentType(c.req.raw, "application/json");
  const body = await readBodyText(c.req.raw, MAX_WEBHOOK_BYTES);
  const check = await verifySendGridSignature(publicKey, signature, timestamp, body);
  if (!check.ok) throw new ApiError("UNAUTHORIZED", check.reason);
  const events = parse(SendGridEventsSchema, parseJson(body));
  for (const event of events) {
    const target = event.notification_id
      ? { channel: "email" as const, notificationId: event.notification_id }
      : event.sg_message_id
        ? { channel: "email" as const, providerMessageId: event.sg_message_id.split(".")[0]! }
        : null;
    if (!target) continue;
    if (event.event === "delivered") await markReceipt(c.env, target, "delivered", null);
    else if (event.event === "processed") await markReceipt(c.env, target, "sent", null);
    else if (event.event === "bounce" || event.event === "dropped") {
      await markReceipt(c.env, target, "failed", `SendGrid: ${event.type ?? event.event}${event.reason ? `: ${event.reason}` : ""}`.slice(0, 500));
    }
  }
  return c.body(null, 204);
});

type ReceiptTarget = { channel: "email" | "sms"; providerMessageId: string } | { channel: "email" | "sms"; notificationId: string; providerMessageId?: string };

/**
 * Applies a receipt to a notification the provider accepted, or whose outcome was unknown (the provider did not
 * answer in time). Receipts can arrive out of order and twice, so a delivered or failed row keeps its final
 * state, and "sent" only settles an unknown row.
 */
async function markReceipt(env: Env, target: ReceiptTarget, status: "sent" | "delivered" | "failed", error: string | null): Promise<void> {
  const [column, value] = "notificationId" in target ? ["id", target.notificationId] : ["provider_message_id", target.providerMessageId];
  const from = status === "sent" ? "('unknown')" : "('sent', 'unknown')";
  await env.DB.prepare(
    `UPDATE notifications SET status = ?1, error = ?2, updated_at = ?3, provider_message_id = COALESCE(provider_message_id, ?6)
     WHERE ${column} = ?4 AND channel = ?5 AND status IN ${from}`,
  )
    .bind(status, error, Date.now(), value, target.channel, target.providerMessageId ?? null)
    .run();
}
