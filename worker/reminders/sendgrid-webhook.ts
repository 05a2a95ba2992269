/**
 * SendGrid's signed event webhook: an ECDSA P-256 / SHA-256 signature (base64 DER) over timestamp + raw body,
 * in X-Twilio-Email-Event-Webhook-Signature and -Timestamp, checked against the account's public key
 * (base64 DER SPKI, SENDGRID_WEBHOOK_PUBLIC_KEY).
 */

export const SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
export const SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
/** Older (or further in the future) signed timestamps are refused, so a captured request cannot be replayed later. */
export const SENDGRID_MAX_SKEW_SECONDS = 5 * 60;

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text.trim());
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → the 64-byte r‖s form WebCrypto verifies; null if malformed. */
export function derToRawSignature(der: Uint8Array): Uint8Array | null {
  let offset = 0;
  const readLength = (): number | null => {
    const first = der[offset++];
    if (first === undefined) return null;
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) return null;
    let length = 0;
    for (let i = 0; i < count; i += 1) {
      const byte = der[offset++];
      if (byte === undefined) return null;
      length = (length << 8) | byte;
    }
    return length;
  };
  if (der[offset++] !== 0x30) return null;
  const sequenceLength = readLength();
  if (sequenceLength === null || offset + sequenceLength !== der.length) return null;
  const raw = new Uint8Array(64);
  for (const position of [0, 32]) {
    if (der[offset++] !== 0x02) return null;
    const length = readLength();
    if (length === null || length < 1 || offset + length > der.length) return null;
    let integer = der.subarray(offset, offset + length);
    offset += length;
    while (integer.length > 32 && integer[0] === 0) integer = integer.subarray(1);
    if (integer.length > 32) return null;
    raw.set(integer, position + 32 - integer.length);
  }
  return offset === der.length ? raw : null;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Checks one webhook request: signature present, timestamp fresh, ECDSA signature valid over timestamp + body. */
export async function verifySendGridSignature(
  publicKeyBase64: string,
  signature: string | undefined,
  timestamp: string | undefined,
  body: string,
  nowMs = Date.now(),
): Promise<SignatureCheck> {
  if (!signature || !timestamp) return { ok: false, reason: "Missing signature headers" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "Malformed timestamp" };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SENDGRID_MAX_SKEW_SECONDS) return { ok: false, reason: "Stale timestamp" };
  let key: CryptoKey;
  let raw: Uint8Array | null;
  try {
    key = await crypto.subtle.importKey("spki", base64Bytes(publicKeyBase64), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch {
    return { ok: false, reason: "SENDGRID_WEBHOOK_PUBLIC_KEY is not a P-256 public key" };
  }
  try {
    raw = derToRawSignature(base64Bytes(signature));
  } catch {
    raw = null;
  }
  if (!raw) return { ok: false, reason: "Malformed signature" };
  const valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, new TextEncoder().encode(timestamp + body));
  return valid ? { ok: true } : { ok: false, reason: "Signature does not match" };
}
