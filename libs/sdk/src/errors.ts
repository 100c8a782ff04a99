import type { ErrorBody } from "./types.js";

/**
 * Galaxy answered with an error (docs/errors.md): `status`, the stable `code` to branch on,
 * a `message` for people and, for a 400, `details` naming each bad field.
 */
export class GalaxyApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, string> | undefined;
  /** The `x-request-id` of the answer: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Seconds the answer asked to wait (`Retry-After`), for a 429 or 503. */
  readonly retryAfterS: number | undefined;

  constructor(status: number, body: ErrorBody, headers: Headers) {
    super(body.message);
    this.name = "GalaxyApiError";
    this.status = status;
    this.code = body.code;
    this.details = body.details;
    this.requestId = headers.get("x-request-id") ?? undefined;
    this.retryAfterS = retryAfterSeconds(headers);
  }

  /**
   * Worth sending again (with the same `Idempotency-Key`), as the client's own retries judge it:
   * a limit that passes, or a 503 that asks for a wait (`Retry-After`) or is not Galaxy's (a
   * proxy's). A 503 of Galaxy's without `Retry-After` is a configuration to fix.
   */
  get retryable(): boolean {
    return this.status === 429 || (this.status === 503 && (this.retryAfterS !== undefined || this.code === UNEXPECTED_RESPONSE));
  }
}

/** `Retry-After` in seconds (delta-seconds or an HTTP date), when the answer has one. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The `code` of an answer that is not Galaxy's error shape (a proxy's page, say). */
export const UNEXPECTED_RESPONSE = "unexpected_response";

export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null) return false;
  const { code, message, error } = value as Record<string, unknown>;
  return typeof code === "string" && typeof message === "string" && typeof error === "string";
}

/** The typed error of a non-2xx answer; a body off the documented shape becomes `code: "unexpected_response"`. */
export async function errorOf(response: Response): Promise<GalaxyApiError> {
  const text = await response.clone().text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const errorBody: ErrorBody = isErrorBody(body) ? body : { error: response.statusText, code: UNEXPECTED_RESPONSE, message: text.slice(0, 500) || `HTTP ${response.status}` };
  return new GalaxyApiError(response.status, errorBody, response.headers);
}
