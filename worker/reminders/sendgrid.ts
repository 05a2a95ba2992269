/**
 * A small typed client for SendGrid's v3 Mail Send API (POST /v3/mail/send): Bearer key, JSON body, 202 with
 * the message id in X-Message-Id. No SDK: the request is a few lines and this keeps the Worker bundle small.
 */
import type { EmailAttachment } from "./messages";
import { httpFailure, networkFailure, PROVIDER_TIMEOUT_MS, type SendResult } from "./provider-result";

export const SENDGRID_DEFAULT_BASE_URL = "https://api.sendgrid.com";

export interface EmailAddress {
  email: string;
  name?: string;
}

export interface SendGridConfig {
  apiKey: string;
  /** How long a call may take before its outcome counts as unknown (default {@link PROVIDER_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Without a trailing slash; defaults to SENDGRID_DEFAULT_BASE_URL. */
  baseUrl: string;
  from: EmailAddress;
}

export interface SendGridMail {
  to: EmailAddress;
  subject: string;
  text: string;
  html: string;
  attachments: EmailAttachment[];
  /** Echoed back in event webhooks, so receipts find their notification. */
  customArgs?: Record<string, string>;
}

/** Parses `Name <address>` or a bare address (the SENDGRID_FROM setting). */
export function parseAddress(value: string): EmailAddress {
  const match = /^\s*(.*?)\s*<([^<>\s]+)>\s*$/.exec(value);
  if (match) return match[1] ? { name: match[1].replace(/^"|"$/g, ""), email: match[2]! } : { email: match[2]! };
  return { email: value.trim() };
}

/** The JSON body SendGrid expects: text/plain must come before text/html. */
export function mailSendBody(config: SendGridConfig, mail: SendGridMail) {
  return {
    personalizations: [{ to: [mail.to], ...(mail.customArgs ? { custom_args: mail.customArgs } : {}) }],
    from: config.from,
    subject: mail.subject,
    content: [
      { type: "text/plain", value: mail.text },
      { type: "text/html", value: mail.html },
    ],
    attachments: mail.attachments.map((attachment) => ({
      content: attachment.content,
      filename: attachment.filename,
      type: attachment.type,
      disposition: "attachment",
    })),
  };
}

/** Sends one e-mail. Never throws: every outcome is a SendResult. */
export async function sendGridMail(config: SendGridConfig, mail: SendGridMail): Promise<SendResult> {
  let response: Response;
  try {
    response = await fetch(`${config.baseUrl}/v3/mail/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${config.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(mailSendBody(config, mail)),
      signal: AbortSignal.timeout(config.timeoutMs ?? PROVIDER_TIMEOUT_MS),
    });
  } catch (error) {
    return networkFailure("SendGrid", error);
  }
  if (response.status === 202 || response.status === 200) {
    await response.body?.cancel();
    const id = response.headers.get("x-message-id");
    if (!id) return { ok: false, retryable: false, error: "SendGrid accepted the mail without an X-Message-Id" };
    return { ok: true, providerMessageId: id };
  }
  return httpFailure("SendGrid", response, await sendGridErrorDetail(response));
}

async function sendGridErrorDetail(response: Response): Promise<string> {
  try {
    const payload = (await response.json()) as { errors?: { message?: unknown; field?: unknown }[] };
    return (payload.errors ?? []).map((error) => [error.field, error.message].filter((part) => typeof part === "string" && part).join(": ")).join("; ");
  } catch {
    return "";
  }
}
