import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { checkOutboundUrl, outboundRefusalIn, pinnedLookup, type OutboundPolicy } from "@galaxy/webhooks";
import { ModelCallError } from "../../errors";
import { shortMessage } from "./shared";
import { backoffMs, MAX_ERROR_BODY_BYTES, MAX_RETRY_DELAY_MS, RETRYABLE_STATUSES, retryHintMs } from "./retry";

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

// Idle connections are closed after 30 s, sooner when the server's `keep-alive` header says so.
const keptAlive = { "http:": new http.Agent({ keepAlive: true, timeout: 30_000 }), "https:": new https.Agent({ keepAlive: true, timeout: 30_000 }) };

/** A kept-alive connection the server had closed, found out by the request sent on it: nothing reached the provider. */
class StaleConnectionError extends Error {
  constructor(cause: unknown) {
    super("the kept-alive connection had been closed", { cause });
    this.name = "StaleConnectionError";
  }
}

const ErrorBody = z.object({ error: z.object({ message: z.string() }) });

/**
 * Asks `POST {baseUrl}/chat/completions` for `body` (which must ask for `stream: true`) and
 * yields each event of the answer's stream as parsed JSON, until `[DONE]` or the end. Speaks
 * the protocol itself, over Node's http: the OpenAI SDK cost the worker about a millisecond of
 * CPU per call (docs/decisions/0032-openai-calls-without-the-sdk.md). A call that failed
 * before its answer began (a connection error, or a status in `RETRYABLE_STATUSES`) is tried
 * again up to `maxRetries` times, waiting what the provider asks (`retry-after-ms`,
 * `retry-after`), else a backoff with jitter; a hint longer than `MAX_RETRY_DELAY_MS` is not
 * waited out. Any other status throws `ModelCallError` (`provider_error`) with the provider's
 * message; so does an error event in the stream. An abort of `signal` rejects as the abort.
 */
export async function* chatCompletionStream(endpoint: OpenAIEndpoint, body: unknown, signal: AbortSignal): AsyncGenerator<unknown> {
  const response = await answer(endpoint, JSON.stringify(body), signal);
  yield* serverSentEvents(response);
}

async function answer(endpoint: OpenAIEndpoint, payload: string, signal: AbortSignal): Promise<IncomingMessage> {
  const url = `${endpoint.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  let fresh = false;
  for (let attempt = 0; ; attempt += 1) {
    let response: IncomingMessage;
    try {
      response = await post(url, payload, endpoint, signal, fresh);
    } catch (error) {
      if (error instanceof StaleConnectionError && !fresh && !signal.aborted) {
        // At once, uncounted, on a connection of its own: the request never reached the provider.
        fresh = true;
        attempt -= 1;
        continue;
      }
      if (signal.aborted || outboundRefusalIn(error) || attempt >= endpoint.maxRetries) throw error;
      await sleep(backoffMs(attempt), undefined, { signal });
      continue;
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const text = await readCapped(response);
    if (RETRYABLE_STATUSES.has(status) && attempt < endpoint.maxRetries) {
      const hinted = retryHintMs(text, headersOf(response));
      if (hinted === null || hinted <= MAX_RETRY_DELAY_MS) {
        await sleep(hinted ?? backoffMs(attempt), undefined, { signal });
        continue;
      }
    }
    throw new ModelCallError("provider_error", shortMessage(`${status} ${errorMessage(text)}`));
  }
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

/** The events of a `text/event-stream` answer, their `data` parsed as JSON; `[DONE]` ends them. */
async function* serverSentEvents(response: IncomingMessage): AsyncGenerator<unknown> {
  response.setEncoding("utf8");
  let pending = "";
  let data: string[] = [];
  let event = "";
  let done = false;
  try {
    for await (const chunk of response as AsyncIterable<string>) {
      pending += chunk;
      let end: number;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.charCodeAt(end - 1) === 13 ? pending.slice(0, end - 1) : pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line === "") {
          // A blank line ends an event.
          if (data.length > 0) {
            const payload = data.join("\n");
            // After `[DONE]` the rest is read to its end, unparsed: the connection then serves the next call.
            if (payload === "[DONE]") done = true;
            else if (!done) yield parsedEvent(event, payload);
          }
          data = [];
          event = "";
        } else if (line.startsWith("data:")) {
          data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
        } else if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        }
        // Comments (`:`), `id:` and `retry:` lines say nothing a chat answer needs.
      }
      if (pending.length + data.reduce((sum, piece) => sum + piece.length, 0) > MAX_EVENT_CHARS) {
        throw new ModelCallError("provider_error", `The provider's stream sent an event over ${MAX_EVENT_CHARS} characters`);
      }
    }
  } finally {
    // Ended early (a throw, or the caller stopped reading): the connection is closed.
    if (!response.complete) response.destroy();
  }
}

function parsedEvent(event: string, payload: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch (error) {
    throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: error });
  }
  const failure = ErrorBody.safeParse(json);
  if (event === "error" || failure.success) throw new ModelCallError("provider_error", shortMessage(failure.success ? failure.data.error.message : "The provider's stream reported an error"));
  return json;
}

/** The provider's own words from an error body: `error.message` of OpenAI's shape, else the body, else the status alone. */
function errorMessage(text: string): string {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.error.message;
  } catch {
    // Not JSON: the body as it is.
  }
  return text.trim() === "" ? "status code (no body)" : text;
}

async function readCapped(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_ERROR_BODY_BYTES) break;
    }
  } finally {
    if (!response.complete) response.destroy();
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY_BYTES);
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
