/**
 * A small typed client of Galaxy's public HTTP API: the only way the console reaches Galaxy.
 * Its shape (one `request` with a path, a body and a typed answer) is what `@galaxy/sdk` offers,
 * so the pages can move to the SDK without changing.
 */

import { GalaxyApiError } from "@galaxy/sdk";

export { GalaxyApiError };

/** The API's error body (docs/errors.md): a stable code, a message, and per-field messages. */
export interface ErrorBody {
  error: string;
  code: string;
  message: string;
  details?: Record<string, string>;
}

/**
 * An error the console raises itself, shaped as the API's (`@galaxy/sdk`'s `GalaxyApiError`):
 * a form's own checks before it asks, or an answer off the documented shape.
 */
export class ApiError extends GalaxyApiError {
  constructor(status: number, code: string, message: string, details: Record<string, string> = {}) {
    super(status, { error: "Error", code, message, details }, new Headers());
    this.name = "ApiError";
  }
}

/** Whether the API answered 4xx: the same request would get the same answer, so it is not asked again. */
export function isClientError(error: unknown): boolean {
  return error instanceof GalaxyApiError && error.status >= 400 && error.status < 500;
}

/**
 * The message for one form field: `details` names it `body.email`, `email` or
 * `body.tools.0.url`, and a schedule's `trigger.cron` or `trigger.timezone` (docs/errors.md,
 * `invalid_schedule`).
 */
export function fieldMessage(error: unknown, field: string): string | undefined {
  if (!(error instanceof GalaxyApiError)) return undefined;
  for (const [path, message] of Object.entries(error.details ?? {})) {
    const bare = path.replace(/^(body|trigger)\./, "");
    if (bare === field || bare.startsWith(`${field}.`)) return message;
  }
  return undefined;
}

export interface Page<T> {
  data: T[];
  /** `total` and `offset` in the offset form, `nextCursor` on lists that page by cursor (docs/api.md, Pagination). */
  pagination: { limit: number; hasMore: boolean; total?: number; offset?: number; nextCursor?: string | null };
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Send an `Idempotency-Key` so a repeated submit does the work once. */
  idempotent?: boolean;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface ClientConfig {
  baseUrl: string;
  /** The current access token, or null when signed out. */
  token(): string | null;
  /** Told when the API answers 401 to a signed-in call: the session is over. */
  onUnauthorized(): void;
}

export function queryString(query: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === "object" && value !== null && typeof (value as ErrorBody).code === "string" && typeof (value as ErrorBody).message === "string";
}

export class GalaxyClient {
  constructor(private readonly config: ClientConfig) {}

  /** The raw answer of a call (for streams and downloads); errors are thrown as `GalaxyApiError`. */
  async fetch(path: string, options: RequestOptions & { accept?: string } = {}): Promise<Response> {
    const token = this.config.token();
    const headers: Record<string, string> = { accept: options.accept ?? "application/json", ...options.headers };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.idempotent) headers["idempotency-key"] = crypto.randomUUID();
    let response: Response;
    try {
      response = await fetch(`${this.config.baseUrl}${path}${queryString(options.query)}`, {
        method: options.method ?? "GET",
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", "Galaxy cannot be reached; check your connection and try again");
    }
    if (response.ok) return response;
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (response.status === 401 && token) this.config.onUnauthorized();
    if (isErrorBody(body)) throw new GalaxyApiError(response.status, body, response.headers);
    throw new ApiError(response.status, "unexpected_answer", `Galaxy answered ${response.status}`);
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetch(path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** `{data}` of a JSON answer. */
  async data<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.request<{ data: T }>(path, options)).data;
  }

  page<T>(path: string, query: RequestOptions["query"] = {}, signal?: AbortSignal): Promise<Page<T>> {
    return this.request<Page<T>>(path, { query, ...(signal ? { signal } : {}) });
  }
}
