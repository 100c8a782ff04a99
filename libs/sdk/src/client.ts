import createClient, { type Client, type Middleware } from "openapi-fetch";
import { errorOf } from "./errors.js";
import { executionEvents, type StreamItem, type StreamOptions } from "./events.js";
import type { paths } from "./generated/openapi.js";
import { DEFAULT_RETRY, fetchWithRetries, type RetryPolicy } from "./retry.js";
import { TERMINAL_STATUSES, type Execution, type Pagination } from "./types.js";
import { signWebhook } from "./webhooks.js";

export interface GalaxyOptions {
  /** Where the gateway answers, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** An access token (sign-up, login) or an API key `gxk_…`; without one, only public operations work. */
  token?: string;
  retry?: Partial<RetryPolicy>;
  /** The fetch to use (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

/** What a page of a list is asked with: `cursor` for the next page of a list that pages by cursor, `offset` otherwise. */
export interface PageParams {
  limit?: number;
  cursor?: string;
  offset?: number;
}

type PageCall<T> = (page: PageParams) => Promise<{ data?: { data: T[]; pagination: Pagination } }>;

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Unwraps a call of `galaxy.api` whose errors the client throws: its body, typed. */
export async function ok<T>(call: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data, response } = await call;
  if (data === undefined && response.status !== 204) throw new Error(`HTTP ${response.status} answered no body`);
  return data as T;
}

/**
 * A Galaxy client. `api` is the typed client of every operation of `/openapi.json`
 * (`openapi-fetch`): it throws a `GalaxyApiError` for any error answer, gives every mutation an
 * `Idempotency-Key` (a retry sends the same one), and retries 429 and 503 as `Retry-After`
 * asks, a bounded number of times. The methods add what is more than one request.
 */
export class Galaxy {
  readonly api: Client<paths>;
  private readonly fetchImpl: (request: Request) => Promise<Response>;

  constructor(private readonly options: GalaxyOptions) {
    const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    const base = options.fetch ?? ((request: Request) => fetch(request));
    this.fetchImpl = (request) => fetchWithRetries(request, policy, base);
    this.api = createClient<paths>({ baseUrl: options.baseUrl, fetch: this.fetchImpl });
    this.api.use(this.conventions());
  }

  /** The same client with another credential (e.g. the token sign-up answered, or an API key). */
  withToken(token: string): Galaxy {
    return new Galaxy({ ...this.options, token });
  }

  private conventions(): Middleware {
    const token = this.options.token;
    return {
      onRequest({ request }) {
        if (token && !request.headers.has("authorization")) request.headers.set("authorization", `Bearer ${token}`);
        if (MUTATIONS.has(request.method) && !request.headers.has("idempotency-key")) request.headers.set("idempotency-key", crypto.randomUUID());
        return request;
      },
      async onResponse({ response }) {
        if (!response.ok) throw await errorOf(response);
        return undefined;
      },
    };
  }

  /**
   * Every item of a list, page after page, as an async iterator: by cursor where the list
   * pages by cursor (from the first page on, so no total is counted), by offset otherwise.
   *
   * ```ts
   * for await (const execution of galaxy.paginate((page) => galaxy.api.GET("/api/executions", { params: { query: { ...page, status: "completed" } } }))) …
   * ```
   */
  async *paginate<T>(call: PageCall<T>, options: { limit?: number; maxPages?: number } = {}): AsyncGenerator<T> {
    let page: PageParams = { limit: options.limit ?? 100, cursor: "" };
    for (let pages = 0; pages < (options.maxPages ?? Number.POSITIVE_INFINITY); pages++) {
      const body = (await call(page)).data;
      if (!body) return;
      yield* body.data;
      const { nextCursor, hasMore, offset, limit } = body.pagination;
      if (nextCursor) page = { limit: page.limit, cursor: nextCursor };
      else if (hasMore && nextCursor === undefined && offset !== undefined) page = { limit: page.limit, offset: offset + limit };
      else return;
    }
  }

  /**
   * An execution's events (`GET /api/executions/{id}/events`) as an async iterator, until its
   * terminal event; a dropped connection is resumed with `Last-Event-ID`.
   */
  events(executionId: string, options: StreamOptions = {}): AsyncGenerator<StreamItem> {
    const url = `${this.options.baseUrl}/api/executions/${encodeURIComponent(executionId)}/events`;
    return executionEvents(async (lastEventId, signal) => {
      const headers = new Headers({ accept: "text/event-stream" });
      if (this.options.token) headers.set("authorization", `Bearer ${this.options.token}`);
      if (lastEventId > 0) headers.set("last-event-id", String(lastEventId));
      return this.fetchImpl(new Request(url, { headers, ...(signal ? { signal } : {}) }));
    }, options);
  }

  /** Waits until the execution ends (following its event stream) and answers it as it ended. */
  async waitForCompletion(executionId: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Execution> {
    const read = async () => (await ok(this.api.GET("/api/executions/{id}", { params: { path: { id: executionId } } }))).data;
    const current = await read();
    if (TERMINAL_STATUSES.has(current.status)) return current;
    const signals = [AbortSignal.timeout(options.timeoutMs ?? 300_000), ...(options.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    for await (const item of this.events(executionId, { signal })) {
      if (item.kind === "event") signal.throwIfAborted();
    }
    return read();
  }

  /**
   * Delivers `payload` to a webhook trigger as its sender would: signed with the trigger's
   * `secret`, the Standard Webhooks way. `id` names the delivery (default: a fresh one); the same
   * id again answers the same execution and starts no second one.
   */
  async deliverWebhook(triggerId: string, secret: string, payload: unknown, options: { id?: string } = {}): Promise<{ executionId: string }> {
    const body = JSON.stringify(payload);
    const headers = new Headers({ "content-type": "application/json", ...signWebhook(secret, body, options) });
    const response = await this.fetchImpl(new Request(`${this.options.baseUrl}/hooks/${encodeURIComponent(triggerId)}`, { method: "POST", headers, body }));
    if (!response.ok) throw await errorOf(response);
    const answer = (await response.json()) as { data: { executionId: string } };
    return answer.data;
  }
}
