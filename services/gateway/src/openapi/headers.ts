import type { Json } from "./finish";

const integer = { type: "integer", minimum: 0 };

/** The response headers `/openapi.json` names (docs/api.md). */
export const API_HEADERS: Json = {
  "RateLimit-Limit": { description: "Requests allowed in the current window for the narrowest limit that applies (the API key's or the workspace's).", schema: integer },
  "RateLimit-Remaining": { description: "Requests left in the current window.", schema: integer },
  "RateLimit-Reset": { description: "Seconds until the current window ends.", schema: integer },
  "Retry-After": { description: "Seconds to wait before trying again. Absent from a 503 that retrying cannot cure, such as a configuration to fix (docs/errors.md).", schema: integer },
  "Idempotent-Replayed": { description: "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.", schema: { type: "string", enum: ["true"] } },
};

const headerParameter = (name: string, description: string, schema: Json, required = false): Json => ({ name, in: "header", required, description, schema });

/** The request headers `/openapi.json` names. */
export const API_PARAMETERS: Json = {
  "Idempotency-Key": headerParameter(
    "Idempotency-Key",
    "Any unique string (a UUID): the first answer below 500 (but a 429) is kept for 24 h per caller and key and returned again for the same request; the same key with another request is a 409 `idempotency_key_reused`.",
    { type: "string", minLength: 1, maxLength: 255 },
  ),
  "Last-Event-ID": headerParameter("Last-Event-ID", "The `id:` (seq) of the last event received: the stream resumes after it.", { type: "string", pattern: "^\\d{1,9}$" }),
  "webhook-id": headerParameter("webhook-id", "The delivery's unique id (Standard Webhooks); the same id again is the same delivery.", { type: "string", minLength: 1 }, true),
  "webhook-timestamp": headerParameter("webhook-timestamp", "Unix seconds when the delivery was signed; refused more than 5 minutes off.", { type: "string", pattern: "^\\d+$" }, true),
  "webhook-signature": headerParameter(
    "webhook-signature",
    "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` under the secret; several, space-separated, during a rotation.",
    { type: "string", minLength: 1 },
    true,
  ),
};

/**
 * `webhooks.executionFinished`: what Galaxy POSTs to an agent's `notifyUrl` when one of its
 * executions ends, signed the Standard Webhooks way with the agent's `notifySecret`.
 */
export function completionCallbackWebhook(): Json {
  return {
    post: {
      operationId: "executionFinishedCallback",
      summary: "Completion callback: an execution of the agent ended (completed, failed, timed out or cancelled)",
      description:
        "Sent to the agent version's `notifyUrl`, signed with its `notifySecret` (`whsec_…`): verify `webhook-signature` over `{webhook-id}.{webhook-timestamp}.{body}` before trusting it. `webhook-id` is the terminal event's id: the same callback may arrive more than once. Any 2xx ends the delivery; anything else, or no answer within the timeout, is retried with backoff (`GET /api/executions/{id}/deliveries` lists the attempts).",
      security: [],
      parameters: [{ $ref: "#/components/parameters/webhook-id" }, { $ref: "#/components/parameters/webhook-timestamp" }, { $ref: "#/components/parameters/webhook-signature" }],
      requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/CompletionCallback" } } } },
      responses: { "200": { description: "Received; any 2xx will do" } },
    },
  };
}
