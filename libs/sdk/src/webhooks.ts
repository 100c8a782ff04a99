import { Webhook } from "standardwebhooks";
import type { CompletionCallback } from "./types.js";

/** The Standard Webhooks headers of a signed delivery. */
export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * Signs `body` (the exact bytes to send) with a trigger's secret (`whsec_…`), the Standard
 * Webhooks way. The same `id` again is the same delivery: Galaxy runs it once.
 */
export function signWebhook(secret: string, body: string, options: { id?: string; timestamp?: Date } = {}): WebhookHeaders {
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, timestamp, body),
  };
}

function header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

function isCompletionCallback(value: unknown): value is CompletionCallback {
  if (typeof value !== "object" || value === null) return false;
  const { type, data } = value as Record<string, unknown>;
  return typeof type === "string" && type.startsWith("execution.") && typeof data === "object" && data !== null && "execution" in data;
}

/**
 * Checks a completion callback Galaxy sent to an agent's `notifyUrl`: the signature over the raw
 * body under the agent's `notifySecret`, and a timestamp within 5 minutes (through the
 * `standardwebhooks` library). Throws `WebhookVerificationError` when it does not verify; answers
 * the callback's terminal event otherwise. Its `id` (also `webhook-id`) names it: a callback
 * may arrive more than once.
 */
export function verifyCompletionCallback(secret: string, rawBody: string, headers: Headers | Record<string, string | string[] | undefined>): CompletionCallback {
  const payload = new Webhook(secret).verify(rawBody, {
    "webhook-id": header(headers, "webhook-id"),
    "webhook-timestamp": header(headers, "webhook-timestamp"),
    "webhook-signature": header(headers, "webhook-signature"),
  });
  if (!isCompletionCallback(payload)) throw new Error("the callback verified, but its body is not an execution's terminal event");
  return payload;
}

export { WebhookVerificationError } from "standardwebhooks";
