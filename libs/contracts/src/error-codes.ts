import type { ErrorStatus } from "./errors";

/**
 * Every `code` an HTTP caller can receive, with its status: the list `docs/errors.md` explains
 * and `/openapi.json` publishes (a test keeps the three in step). A new code belongs here.
 */
export const HTTP_ERROR_CODES = {
  validation_failed: 400, malformed_json: 400, invalid_value: 400, payload_too_deep: 400, bad_url: 400, bad_content_length: 400,
  malformed_request: 400, bad_request: 400, input_schema_unusable: 400, invalid_json_schema: 400, input_invalid: 400, invalid_schedule: 400,
  unknown_consumer: 400, invalid_cursor: 400,
  missing_credentials: 401, invalid_token: 401, token_expired: 401, token_stale: 401, invalid_api_key: 401, invalid_credentials: 401,
  invalid_external_token: 401, invalid_authorization_code: 401, missing_webhook_signature: 401, invalid_webhook_timestamp: 401, webhook_timestamp_out_of_range: 401,
  invalid_webhook_signature: 401, claim_missing: 401, claim_bad_signature: 401, claim_expired: 401, claim_unknown_key: 401, claim_wrong_type: 401,
  claim_malformed: 401, claim_workspace_mismatch: 401,
  forbidden: 403, api_key_role_too_high: 403, system_admin_required: 403, replay_runner_required: 403,
  route_not_found: 404, console_not_built: 404, api_key_not_found: 404, agent_not_found: 404, execution_not_found: 404, workspace_not_found: 404, member_not_found: 404,
  oidc_not_configured: 404, signing_key_not_found: 404, replay_not_found: 404, dead_letter_not_found: 404, user_not_found: 404, trigger_not_found: 404,
  knowledge_base_not_found: 404, notify_secret_not_found: 404, credential_not_found: 404,
  replay_in_progress: 409, dead_letter_redriven: 409, audit_chain_pruned: 409, email_taken: 409, audit_chain_broken: 409, signing_key_active: 409,
  slug_taken: 409, already_member: 409, last_owner: 409, agent_not_active: 409, trigger_has_no_secret: 409, execution_terminal: 409,
  idempotency_key_reused: 409, idempotency_in_progress: 409, embedding_dimension_mismatch: 409,
  request_timeout: 408,
  payload_too_large: 413, document_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429, webhook_rate_limited: 429, quota_exceeded: 429, login_throttled: 429,
  internal_error: 500,
  service_unavailable: 503, embedding_unavailable: 503, vector_store_unavailable: 503, embedding_failed: 503, embedding_credential_missing: 503,
  vector_store_not_allowed: 503, vector_store_not_configured: 503, webhook_tools_not_configured: 503, reply_too_large: 503, message_too_large: 503,
} as const satisfies Record<string, ErrorStatus>;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/**
 * The 503s that retrying cannot cure: a configuration only an operator can change. They carry
 * no `Retry-After`, which every other 503 and 429 does (docs/errors.md).
 */
export const UNRETRYABLE_UNAVAILABLE_CODES: ReadonlySet<string> = new Set<HttpErrorCode>([
  "embedding_failed", "embedding_credential_missing", "vector_store_not_allowed", "vector_store_not_configured", "webhook_tools_not_configured", "reply_too_large", "message_too_large",
]);
