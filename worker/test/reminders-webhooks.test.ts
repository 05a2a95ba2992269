import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { type Notification, notifications } from "../../schema/db";
import { createUser, db } from "./helpers";
import { createClass, createOccurrence, HOUR, pendingNotification, rowsById, sendGridSign, twilioSignature, uniquePhone } from "./reminders-helpers";

const TWILIO_URL = "http://localhost/api/webhooks/twilio/status";
const SENDGRID_URL = "http://localhost/api/webhooks/sendgrid/events";

async function sentNotification(channel: "email" | "sms"): Promise<Notification> {
  const teacher = await createUser("teacher");
  const student = await createUser("student", { phone: uniquePhone(), remindBySms: true });
  const occurrence = await createOccurrence(await createClass(teacher), Date.now() + HOUR);
  const row = await pendingNotification(student, occurrence, channel);
  const providerMessageId = channel === "sms" ? `SM${crypto.randomUUID().replace(/-/g, "")}` : crypto.randomUUID().slice(0, 22);
  await db.update(notifications).set({ status: "sent", providerMessageId, sentAt: Date.now() }).where(eq(notifications.id, row.id));
  return { ...row, status: "sent", providerMessageId };
}

function postTwilio(params: Record<string, string>, signature: string) {
  return SELF.fetch(TWILIO_URL, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    body: new URLSearchParams(params).toString(),
  });
}

function postSendGrid(body: string, signature: string, timestamp: string) {
  return SELF.fetch(SENDGRID_URL, {
    method: "POST",
    headers: { "content-type": "application/json", "x-twilio-email-event-webhook-signature": signature, "x-twilio-email-event-webhook-timestamp": timestamp },
    body,
  });
}

const testKey = () => JSON.parse(env.TEST_SENDGRID_WEBHOOK_PRIVATE_JWK) as JsonWebKey;
const nowSeconds = () => String(Math.floor(Date.now() / 1000));

describe("Twilio status callbacks", () => {
  it("accept a valid signature and mark the SMS delivered", async () => {
    const sms = await sentNotification("sms");
    const params = { MessageSid: sms.providerMessageId!, MessageStatus: "delivered", AccountSid: env.TWILIO_ACCOUNT_SID!, To: "+15550000000" };
    const response = await postTwilio(params, await twilioSignature(env.TWILIO_AUTH_TOKEN!, TWILIO_URL, params));
    expect(response.status).toBe(204);
    expect((await rowsById([sms.id]))[0]!.status).toBe("delivered");
  });

  it("record an undelivered SMS as failed with Twilio's error code", async () => {
    const sms = await sentNotification("sms");
    const params = { MessageSid: sms.providerMessageId!, MessageStatus: "undelivered", ErrorCode: "30003" };
    expect((await postTwilio(params, await twilioSignature(env.TWILIO_AUTH_TOKEN!, TWILIO_URL, params))).status).toBe(204);
    const [row] = await rowsById([sms.id]);
    expect(row!.status).toBe("failed");
    expect(row!.error).toBe("Twilio: undelivered (error 30003)");
  });

  it("reject a forged or missing signature and change nothing", async () => {
    const sms = await sentNotification("sms");
    const params = { MessageSid: sms.providerMessageId!, MessageStatus: "delivered" };
    const forged = await postTwilio(params, await twilioSignature("not-the-auth-token", TWILIO_URL, params));
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    // Signed for other parameters than the ones sent.
    const tampered = await postTwilio({ ...params, MessageStatus: "failed" }, await twilioSignature(env.TWILIO_AUTH_TOKEN!, TWILIO_URL, params));
    expect(tampered.status).toBe(401);
    const unsigned = await SELF.fetch(TWILIO_URL, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params).toString(),
    });
    expect(unsigned.status).toBe(401);
    expect((await rowsById([sms.id]))[0]!.status).toBe("sent");
  });
});

describe("SendGrid signed event webhook", () => {
  it("accepts a valid signature and applies delivered and bounce events", async () => {
    const delivered = await sentNotification("email");
    const bounced = await sentNotification("email");
    const body = JSON.stringify([
      { email: "a@example.test", event: "processed", sg_message_id: `${delivered.providerMessageId}.filter0001`, notification_id: delivered.id, timestamp: 1 },
      { email: "a@example.test", event: "delivered", sg_message_id: `${delivered.providerMessageId}.filter0001`, notification_id: delivered.id, timestamp: 2 },
      {
        email: "b@example.test",
        event: "bounce",
        type: "bounce",
        reason: "550 5.1.1 The email account does not exist",
        sg_message_id: `${bounced.providerMessageId}.filter0002`,
        timestamp: 3,
      },
    ]);
    const timestamp = nowSeconds();
    const response = await postSendGrid(body, await sendGridSign(testKey(), timestamp, body), timestamp);
    expect(response.status).toBe(204);
    const rows = await rowsById([delivered.id, bounced.id]);
    expect(rows.find((row) => row.id === delivered.id)!.status).toBe("delivered");
    const bounce = rows.find((row) => row.id === bounced.id)!;
    expect(bounce.status).toBe("failed");
    expect(bounce.error).toBe("SendGrid: bounce: 550 5.1.1 The email account does not exist");
  });

  it("rejects a forged signature, a changed body and a stale timestamp", async () => {
    const email = await sentNotification("email");
    const body = JSON.stringify([{ event: "delivered", notification_id: email.id, sg_message_id: `${email.providerMessageId}.x` }]);
    const timestamp = nowSeconds();

    const otherKey = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const forgedJwk = (await crypto.subtle.exportKey("jwk", otherKey.privateKey)) as JsonWebKey;
    const forged = await postSendGrid(body, await sendGridSign(forgedJwk, timestamp, body), timestamp);
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { message: string } }).error.message).toBe("Signature does not match");

    const signed = await sendGridSign(testKey(), timestamp, body);
    const changed = await postSendGrid(body.replace("delivered", "bounce"), signed, timestamp);
    expect(changed.status).toBe(401);

    const stale = String(Math.floor(Date.now() / 1000) - 3600);
    const staleResponse = await postSendGrid(body, await sendGridSign(testKey(), stale, body), stale);
    expect(staleResponse.status).toBe(401);
    expect(((await staleResponse.json()) as { error: { message: string } }).error.message).toBe("Stale timestamp");

    const missing = await SELF.fetch(SENDGRID_URL, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(missing.status).toBe(401);
    expect((await rowsById([email.id]))[0]!.status).toBe("sent");
  });

  it("refuses a validly signed body that is not an event list", async () => {
    const body = JSON.stringify({ event: "delivered" });
    const timestamp = nowSeconds();
    const response = await postSendGrid(body, await sendGridSign(testKey(), timestamp, body), timestamp);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("INVALID_MESSAGE");
  });
});

describe("webhook bodies", () => {
  const MiB = 1024 * 1024;

  /** `text` from a ReadableStream in 64 KiB chunks: no Content-Length, the Worker only learns the size by reading. */
  function streamOf(text: string): ReadableStream<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + 65_536));
        offset += 65_536;
      },
    });
  }

  async function expectRefused(response: Response, status: number, code: string): Promise<void> {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    expect(JSON.parse(text)).toEqual({ error: { code, message: expect.any(String) } });
  }

  it("Twilio: only form-encoded bodies, at most 1 MiB counted in bytes while streaming; the SMS stays as it was", async () => {
    const sms = await sentNotification("sms");
    const params = { MessageSid: sms.providerMessageId!, MessageStatus: "delivered" };
    const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN!, TWILIO_URL, params);
    const asJson = await SELF.fetch(TWILIO_URL, {
      method: "POST",
      headers: { "content-type": "application/json", "x-twilio-signature": signature },
      body: JSON.stringify(params),
    });
    await expectRefused(asJson, 415, "INVALID_MESSAGE");
    // Under 1 Mi UTF-16 units but 1.5 MiB of UTF-8.
    const padding = "é".repeat(0.75 * MiB);
    const huge = new URLSearchParams({ ...params, Body: padding }).toString();
    const streamed = await SELF.fetch(TWILIO_URL, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
      body: streamOf(huge),
    });
    await expectRefused(streamed, 413, "INVALID_MESSAGE");
    expect((await rowsById([sms.id]))[0]!.status).toBe("sent");

    const charset = await SELF.fetch(TWILIO_URL, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8", "x-twilio-signature": signature },
      body: new URLSearchParams(params).toString(),
    });
    expect(charset.status, "Twilio's own charset parameter is accepted").toBe(204);
    expect((await rowsById([sms.id]))[0]!.status).toBe("delivered");
  });

  it("SendGrid: only JSON, at most 1 MiB counted in bytes while streaming; the e-mail stays as it was", async () => {
    const email = await sentNotification("email");
    const events = [{ event: "delivered", notification_id: email.id }];
    const timestamp = nowSeconds();
    const body = JSON.stringify(events);
    const headers = (type: string, signed: string) => ({
      "content-type": type,
      "x-twilio-email-event-webhook-signature": signed,
      "x-twilio-email-event-webhook-timestamp": timestamp,
    });
    const signature = await sendGridSign(testKey(), timestamp, body);
    await expectRefused(await SELF.fetch(SENDGRID_URL, { method: "POST", headers: headers("text/plain", signature), body }), 415, "INVALID_MESSAGE");

    const large = JSON.stringify([...events, { event: "processed", reason: "ü".repeat(0.6 * MiB) }]);
    expect(large.length, "fewer UTF-16 units than the cap").toBeLessThan(MiB);
    const largeSignature = await sendGridSign(testKey(), timestamp, large);
    await expectRefused(
      await SELF.fetch(SENDGRID_URL, { method: "POST", headers: headers("application/json", largeSignature), body: streamOf(large) }),
      413,
      "INVALID_MESSAGE",
    );
    expect((await rowsById([email.id]))[0]!.status).toBe("sent");
  });

  it("unsigned posts are 401 whatever their body or type, never a server error", async () => {
    for (const [url, type, body] of [
      [TWILIO_URL, "text/plain", "hello"],
      [TWILIO_URL, "application/x-www-form-urlencoded", streamOf("x=".padEnd(2 * MiB, "y"))],
      [SENDGRID_URL, "application/json", "{not json"],
      [SENDGRID_URL, "application/octet-stream", streamOf("z".repeat(2 * MiB))],
    ] as const) {
      await expectRefused(await SELF.fetch(url, { method: "POST", headers: { "content-type": type }, body }), 401, "UNAUTHORIZED");
    }
  });
});
