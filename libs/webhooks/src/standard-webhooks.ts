import { createHmac, timingSafeEqual } from "node:crypto";

/** How far `webhook-timestamp` may be from now, either way (docs/webhooks.md: 5 minutes). */
export const WEBHOOK_TOLERANCE_S = 5 * 60;

const SECRET_PREFIX = "whsec_";
const MAX_SIGNATURES = 16;
const WEBHOOK_ID = /^[\x21-\x7e]{1,255}$/;
const TIMESTAMP = /^\d{1,12}$/;

/** The HMAC key of a Standard Webhooks secret: the base64 after `whsec_` (a secret without the prefix is taken as base64 whole). */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) throw new Error("a webhook secret must be whsec_ followed by base64");
  return key;
}

/** The Standard Webhooks signature `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. */
export function signWebhook(secret: string, id: string, timestampS: number | string, body: Buffer | string): string {
  return `v1,${digest(webhookKey(secret), id, String(timestampS), typeof body === "string" ? Buffer.from(body) : body).toString("base64")}`;
}

/** Why a delivery was refused; every reason is a 401 (docs/webhooks.md). */
export type WebhookRefusal = "missing_headers" | "bad_timestamp" | "timestamp_out_of_range" | "bad_signature";

/** How the gateway answers each refusal: a stable code, and what to send instead (docs/errors.md). */
export const WEBHOOK_REFUSALS: Readonly<Record<WebhookRefusal, { code: string; message: string }>> = {
  missing_headers: {
    code: "missing_webhook_signature",
    message: "Send webhook-id (1 to 255 printable ASCII characters, no spaces), webhook-timestamp and webhook-signature (Standard Webhooks)",
  },
  bad_timestamp: { code: "invalid_webhook_timestamp", message: "webhook-timestamp must be Unix seconds" },
  timestamp_out_of_range: { code: "webhook_timestamp_out_of_range", message: "webhook-timestamp is more than 5 minutes from now" },
  bad_signature: { code: "invalid_webhook_signature", message: "No signature in webhook-signature matches the body under the signing secret" },
};

export type WebhookVerdict = { ok: true; id: string; timestampS: number } | { ok: false; reason: WebhookRefusal };

export interface WebhookHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/**
 * Verifies a delivery the Standard Webhooks way: the timestamp within `WEBHOOK_TOLERANCE_S`
 * of `nowS`, and one of the space-separated `v1,…` signatures matching an HMAC under one of
 * `secrets` (several during a rotation), compared in constant time. A pure function.
 */
export function verifyWebhook(secrets: readonly string[], headers: WebhookHeaders, body: Buffer, nowS: number): WebhookVerdict {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !WEBHOOK_ID.test(id)) return { ok: false, reason: "missing_headers" };
  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  const timestampS = Number(timestamp);
  if (Math.abs(nowS - timestampS) > WEBHOOK_TOLERANCE_S) return { ok: false, reason: "timestamp_out_of_range" };
  const presented = signature
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .slice(0, MAX_SIGNATURES)
    .map((part) => Buffer.from(part.slice(3), "base64"));
  for (const secret of secrets) {
    const expected = digest(webhookKey(secret), id, timestamp, body);
    // Every candidate is compared, so the time taken does not say which one came close.
    let matched = false;
    for (const candidate of presented) if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    if (matched) return { ok: true, id, timestampS };
  }
  return { ok: false, reason: "bad_signature" };
}

function digest(key: Buffer, id: string, timestamp: string, body: Buffer): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}
