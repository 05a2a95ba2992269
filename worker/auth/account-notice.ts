import type { User } from "../../schema/db";
import type { Db } from "../db";
import type { Env } from "../env";
import { outboxEmail } from "../reminders/outbox";
import type { SendResult } from "../reminders/provider-result";
import { publicUrl, sendGridConfig } from "../reminders/send";
import { sendGridMail } from "../reminders/sendgrid";

/**
 * Security notices to the owner of an account, by e-mail: when an insp identity was linked to it, or when one
 * with the same verified address was refused. They go the way reminders go (SendGrid when configured, else the
 * local outbox) but are not reminders: no notification row, no retries, no SMS. A lost notice changes nothing
 * in the account, so one attempt is enough.
 */
export type AccountNotice = "linked" | "link-refused";

function noticeText(kind: AccountNotice, user: User, siteUrl: string): { subject: string; text: string } {
  if (kind === "linked") {
    return {
      subject: "Your insp live account is now linked to insp",
      text: `Hello ${user.displayName},\n\nYour insp live account (${user.email}) was just linked to an insp account with the same verified e-mail address. From now on, the "Live classes" link on insp signs you in here.\n\nIf this was not you, tell an administrator of ${siteUrl} at once.`,
    };
  }
  return {
    subject: "Someone tried to sign in to insp live through insp with your address",
    text: `Hello ${user.displayName},\n\nSomeone signed in to insp with your verified e-mail address (${user.email}) and followed a link to insp live. Your insp live account has its own password or role, so it was not linked and nothing was changed.\n\nIf it was you: sign in at ${siteUrl} with your password first, then follow the link from insp again; that links the two accounts.\nIf it was not you, tell an administrator.`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Sends one notice to `user`. Never throws: a failure is logged and returned. */
export async function sendAccountNotice(env: Env, db: Db, user: User, kind: AccountNotice): Promise<SendResult> {
  const { subject, text } = noticeText(kind, user, publicUrl(env));
  const html = text
    .split("\n\n")
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, "<br>")}</p>`)
    .join("\n");
  let result: SendResult;
  try {
    const config = sendGridConfig(env);
    if (config === null) result = await outboxEmail(db, { notificationId: null, to: user.email, email: { subject, text, html, attachments: [] } });
    else if (config instanceof Error) result = { ok: false, retryable: false, error: config.message };
    else result = await sendGridMail(config, { to: { email: user.email, name: user.displayName }, subject, text, html, attachments: [] });
  } catch (error) {
    result = { ok: false, retryable: false, error: String(error) };
  }
  if (!result.ok) console.error(JSON.stringify({ event: "account_notice_failed", kind, userId: user.id, error: result.error }));
  return result;
}
