import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { checkOutboundUrl, outboundRefusalIn, pinnedLookup, type OutboundPolicy } from "@galaxy/webhooks";
import { ModelCallError } from "../../errors";
import { backoffMs, readCapped, retryAfterMs } from "./retry";
import { EventTooLongError, serverSentEvents } from "./server-sent-events";
import { shortMessage } from "./shared";

/**
 * An OpenAI-compatible chat endpoint: the environment's (trusted, its connections kept alive)
 * or a workspace's own base URL (`policy` set: each request checked against the outbound
 * policy and sent to the checked address, on a connection of its own).
 */
export interface OpenAIEndpoint {
  baseUrl: string;
  apiKey: string;
  maxRetries: number;
  policy: OutboundPolicy | null;
}

/** The longest server-sent event accepted; a longer one is a malformed stream, not memory to fill. */
export const MAX_EVENT_CHARS = 1024 * 1024;

/** The longest wait a provider may ask for that is waited; a longer (or zero) one gets the backoff instead, as OpenAI's SDK does. */
const MAX_HINT_MS = 60_000;

// Idle connections are closed after 30 s, sooner when the server's `keep-alive` header says so.
const keptAlive = { "http:": new http.Agent({ keepAlive: true, timeout: 30_000 }), "https:": new https.Agent({ keepAlive: true, timeout: 30_000 }) };

/** A kept-alive connection that turned out closed when a request was sent on it; the next try takes a new one at once. */
class StaleConnectionError extends Error {
  constructor(cause: unknown) {
    super("the kept-alive connection had been closed", { cause });
    this.name = "StaleConnectionError";
  }
}

/**
 * Asks `POST {baseUrl}/chat/completions` for `body` (which must ask for `stream: true`) and
 * yields each event of the answer's stream as parsed JSON, until `[DONE]` or the end. Speaks
 * the protocol itself, over Node's http: the OpenAI SDK cost the worker about a millisecond of
 * CPU per call (docs/decisions/0032-openai-calls-without-the-sdk.md). Retries are the SDK's:
 * a call that failed before its answer began (a connection error, 408, 409, 429 or any 5xx,
 * unless the provider's `x-should-retry` says otherwise) is tried again up to `maxRetries`
 * times, waiting what the provider asks (`retry-after-ms`, `retry-after`) when it is under a
 * minute, else 0.5 s, 1 s, … up to 8 s with jitter. Every failure is a `ModelCallError`
 * (`provider_error`) with the provider's message, or a plain one that names no address; an
 * abort of `signal` rejects as an error that is no `ModelCallError`.
 */
export async function* chatCompletionStream(endpoint: OpenAIEndpoint, body: unknown, signal: AbortSignal): AsyncGenerator<unknown> {
  const response = await answer(endpoint, JSON.stringify(body), signal);
  response.setEncoding("utf8");
  let done = false;
  try {
    for await (const { event, data } of serverSentEvents(response as AsyncIterable<string>, MAX_EVENT_CHARS)) {
      // After `[DONE]` the rest is read to its end, unparsed: the connection then serves the next call.
      if (data === "[DONE]") done = true;
      else if (!done) yield parsedEvent(event, data);
    }
  } catch (error) {
    if (signal.aborted || error instanceof ModelCallError) throw error;
    if (error instanceof EventTooLongError) throw new ModelCallError("provider_error", `The provider's stream sent an event over ${error.maxChars} characters`);
    throw new ModelCallError("provider_error", "The provider's answer was cut off", { cause: error });
  } finally {
    // Ended early (a throw, or the caller stopped reading): the connection is closed.
    if (!response.complete) response.destroy();
  }
}

async function answer(endpoint: OpenAIEndpoint, payload: string, signal: AbortSignal): Promise<IncomingMessage> {
  const url = `${endpoint.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  let fresh = false;
  for (let attempt = 0; ; attempt += 1) {
    let response: IncomingMessage;
    try {
      response = await post(url, payload, endpoint, signal, fresh);
    } catch (error) {
      if (signal.aborted || outboundRefusalIn(error)) throw error;
      if (attempt >= endpoint.maxRetries) throw new ModelCallError("provider_error", "Could not connect to the provider", { cause: error });
      // A closed kept-alive connection is tried again at once, on a new one; other failures wait.
      fresh = error instanceof StaleConnectionError;
      if (!fresh) await sleep(backoffMs(attempt), undefined, { signal });
      continue;
    }
    fresh = false;
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const text = await readCapped(response);
    if (attempt < endpoint.maxRetries && shouldRetry(status, response.headers)) {
      const hinted = hintMs(response.headers);
      await sleep(hinted ?? backoffMs(attempt), undefined, { signal });
      continue;
    }
    throw new ModelCallError("provider_error", shortMessage(`${status} ${errorMessage(text)}`));
  }
}

/** OpenAI's rules: the provider's `x-should-retry` first; else 408, 409, 429 and any 5xx. */
function shouldRetry(status: number, headers: IncomingHttpHeaders): boolean {
  const told = headers["x-should-retry"];
  if (told === "true") return true;
  if (told === "false") return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The wait the provider asks for (`retryAfterMs`), when it is above zero and under a minute. */
function hintMs(headers: IncomingHttpHeaders): number | null {
  const wait = retryAfterMs((name) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  });
  return wait !== null && wait > 0 && wait < MAX_HINT_MS ? wait : null;
}

/** Sends the request; resolves with the response once its status and headers are in. */
async function post(url: string, payload: string, endpoint: OpenAIEndpoint, signal: AbortSignal, fresh: boolean): Promise<IncomingMessage> {
  // A workspace's own base URL: checked, and reached at the very address that was checked.
  const target = endpoint.policy ? await checkOutboundUrl(url, endpoint.policy, signal) : null;
  const destination = target?.url ?? new URL(url);
  const secure = destination.protocol === "https:";
  const connection = target ? { lookup: pinnedLookup(target), agent: false as const } : { agent: fresh ? (false as const) : keptAlive[secure ? "https:" : "http:"] };
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(payload)),
    accept: "text/event-stream",
    authorization: `Bearer ${endpoint.apiKey}`,
    "user-agent": "galaxy-execution-worker",
  };
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = (secure ? https : http).request(destination, { method: "POST", headers, signal, ...connection }, resolve);
    request.on("error", (error: NodeJS.ErrnoException) => {
      const stale = request.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE");
      reject(stale ? new StaleConnectionError(error) : error);
    });
    request.end(payload);
  });
}

// What a failure says, in OpenAI's shape: `{error: {message}}`, in an error body or a streamed event.
const Failure = z.object({ error: z.unknown() });
const Described = z.object({ message: z.string().min(1) });

function parsedEvent(event: string, data: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (error) {
    throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: error });
  }
  // Most events carry no `error`: they are not parsed as a failure (which zod would refuse, and
  // build an error to say so, for every event of every answer).
  if (event !== "error" && !namesError(json)) return json;
  const failure = Failure.safeParse(json);
  throw new ModelCallError("provider_error", shortMessage(messageOf(failure.success ? failure.data.error : null) ?? "The provider's stream reported an error"));
}

/** Whether `json` is an object with an `error` that says something (not null, false or empty). */
function namesError(json: unknown): boolean {
  return typeof json === "object" && json !== null && "error" in json && Boolean(json.error);
}

/** The provider's own words from an error body: `error.message` of OpenAI's shape, else the body, else the status alone. */
function errorMessage(text: string): string {
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: the body as it is.
  }
  const failure = Failure.safeParse(json);
  const message = failure.success ? messageOf(failure.data.error) : null;
  if (message !== null) return message;
  return text.trim() === "" ? "status code (no body)" : text;
}

function messageOf(error: unknown): string | null {
  const described = Described.safeParse(error);
  return described.success ? described.data.message : null;
}
