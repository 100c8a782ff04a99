import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { isLinkLocalAddress, isPrivateAddress } from "./addresses";
import { signWebhook } from "./standard-webhooks";

/**
 * Galaxy's outbound policy (docs/pipeline.md, docs/operations.md): webhook tools and completion callbacks go
 * only to hosts on `OUTBOUND_HOST_ALLOWLIST`; with the list empty, to public hosts only.
 * A private, loopback, unique-local, multicast, unspecified or IPv4-mapped address is refused
 * unless the list names that exact host or address (a `*.suffix` entry never opens private
 * addresses: a wildcard and a DNS answer together could otherwise reach anything). Link-local
 * addresses (169.254.0.0/16, where cloud metadata lives, and fe80::/10) are refused unless the
 * list names that very IP. The call then connects to the very address that was checked (no
 * second DNS answer can swap it), and never follows a redirect.
 */
export interface OutboundPolicy {
  /** Lowercased entries: `host`, `host:port`, `[v6]`, `[v6]:port` or `*.suffix`. Empty: public hosts only. */
  readonly allowlist: readonly AllowEntry[];
  /** Resolves a hostname to its addresses; the system resolver unless a test supplies one. */
  readonly resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** How long the DNS look-up may take (default 5 s); past it the destination is `unresolvable`. */
  readonly resolveTimeoutMs?: number;
}

export interface AllowEntry {
  readonly host: string;
  readonly port: number | undefined;
  readonly wildcard: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** The checked destination: connect to `address`, speak to `url` (its hostname stays the TLS name and Host header). */
export interface OutboundTarget {
  url: URL;
  hostname: string;
  address: string;
  family: 4 | 6;
  /** True when the allowlist names the host, exactly or through a wildcard. */
  listed: boolean;
}

export type OutboundRefusalReason = "invalid_url" | "scheme_not_allowed" | "host_not_allowed" | "private_address" | "unresolvable";

/** A destination the policy refuses; nothing was sent. Stable code `outbound_refused`. */
export class OutboundRefusedError extends Error {
  readonly code = "outbound_refused";
  constructor(
    readonly reason: OutboundRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = "OutboundRefusedError";
  }
}

export type OutboundFailureCode = "outbound_timeout" | "outbound_aborted" | "outbound_failed";

/** The call was allowed but did not complete: timed out, aborted by the caller, or a connection error. */
export class OutboundFailedError extends Error {
  constructor(
    readonly code: OutboundFailureCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "OutboundFailedError";
  }
}

/** Parses `OUTBOUND_HOST_ALLOWLIST`: entries separated by commas or whitespace. */
export function parseAllowlist(value: string | undefined): OutboundPolicy {
  const entries = (value ?? "")
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry.length > 0)
    .map(parseEntry);
  return { allowlist: entries };
}

/** The policy the environment configures. */
export function outboundPolicyFromEnv(env: Record<string, string | undefined> = process.env): OutboundPolicy {
  return parseAllowlist(env.OUTBOUND_HOST_ALLOWLIST);
}

function parseEntry(entry: string): AllowEntry {
  const wildcard = entry.startsWith("*.");
  const rest = wildcard ? entry.slice(2) : entry;
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(rest);
  if (bracketed) return { host: bracketed[1] ?? "", port: bracketed[2] ? Number(bracketed[2]) : undefined, wildcard: false };
  if (isIP(rest) === 6) return { host: rest, port: undefined, wildcard: false };
  const withPort = /^([^:]+):(\d{1,5})$/.exec(rest);
  if (withPort) return { host: withPort[1] ?? "", port: Number(withPort[2]), wildcard };
  return { host: rest, port: undefined, wildcard };
}

function effectivePort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** Whether the allowlist names this host (and port, when the entry has one), exactly or through a wildcard. */
export function isListed(policy: OutboundPolicy, hostname: string, port: number): boolean {
  return listing(policy, hostname, port) !== "none";
}

/** How the allowlist names a host: by its exact name or address, only through a `*.suffix` entry, or not at all. */
function listing(policy: OutboundPolicy, hostname: string, port: number): "exact" | "wildcard" | "none" {
  const host = hostname.toLowerCase();
  let found: "wildcard" | "none" = "none";
  for (const entry of policy.allowlist) {
    if (entry.port !== undefined && entry.port !== port) continue;
    if (!entry.wildcard && host === entry.host) return "exact";
    if (entry.wildcard && host.endsWith(`.${entry.host}`)) found = "wildcard";
  }
  return found;
}

/** Whether the allowlist names this very IP address (not a name, not a wildcard), on any port or this one. */
function listsAddress(policy: OutboundPolicy, address: string, port: number): boolean {
  const normalized = address.toLowerCase();
  return policy.allowlist.some((entry) => !entry.wildcard && entry.host === normalized && (entry.port === undefined || entry.port === port));
}

async function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
}

/** Resolves a name within the policy's timeout, and as soon as `signal` aborts, gives up. */
async function resolveWithin(hostname: string, policy: OutboundPolicy, signal: AbortSignal | undefined): Promise<ResolvedAddress[]> {
  const timeoutMs = policy.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      (policy.resolve ?? systemResolve)(hostname),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no DNS answer within ${timeoutMs} ms`)), timeoutMs);
        if (signal) {
          onAbort = () => reject(new Error("the look-up was aborted"));
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener("abort", onAbort);
  }
}

const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/**
 * Checks a destination against the policy and resolves it (within `resolveTimeoutMs`, and no
 * longer than `signal` allows). With a non-empty allowlist the host must be on it. Every
 * address the host resolves to is checked, so a mixed answer cannot slip a private one in: a
 * private address passes only when the list names this exact host or address, a link-local
 * one only when the list names that very IP.
 */
export async function checkOutboundUrl(raw: string, policy: OutboundPolicy, signal?: AbortSignal): Promise<OutboundTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefusedError("invalid_url", "The URL is not a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OutboundRefusedError("scheme_not_allowed", `Only http and https URLs may be called, not ${url.protocol.replace(/:$/, "")}`);
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (hostname.length === 0) throw new OutboundRefusedError("invalid_url", "The URL has no host");
  const port = effectivePort(url);
  const listed = listing(policy, hostname, port);
  if (policy.allowlist.length > 0 && listed === "none") {
    throw new OutboundRefusedError("host_not_allowed", `${hostname} is not on OUTBOUND_HOST_ALLOWLIST`);
  }
  let addresses: ResolvedAddress[];
  const literal = isIP(hostname);
  if (literal !== 0) {
    addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await resolveWithin(hostname, policy, signal);
    } catch (error) {
      throw new OutboundRefusedError("unresolvable", `${hostname} could not be resolved: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const first = addresses[0];
  if (!first) throw new OutboundRefusedError("unresolvable", `${hostname} has no addresses`);
  for (const candidate of addresses) {
    const exactIp = listsAddress(policy, candidate.address, port);
    if (isLinkLocalAddress(candidate.address)) {
      if (!exactIp) {
        throw new OutboundRefusedError(
          "private_address",
          `${hostname} resolves to ${candidate.address}, a link-local address (cloud metadata lives there); only an OUTBOUND_HOST_ALLOWLIST entry naming that very IP allows it`,
        );
      }
    } else if (isPrivateAddress(candidate.address) && listed !== "exact" && !exactIp) {
      throw new OutboundRefusedError(
        "private_address",
        `${hostname} resolves to ${candidate.address}, a private or reserved address; name the exact host on OUTBOUND_HOST_ALLOWLIST to allow it (a wildcard entry does not)`,
      );
    }
  }
  return { url, hostname, address: first.address, family: first.family, listed: listed !== "none" };
}

/** A lookup that answers only the checked address, so the connection goes where the check looked. */
export function pinnedLookup(target: OutboundTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

export interface PostSignedRequest {
  url: string;
  /** A Standard Webhooks secret (`whsec_…`). */
  secret: string;
  webhookId: string;
  /** Sent as is when a string, else as JSON. */
  body: unknown;
  timeoutMs: number;
  policy: OutboundPolicy;
  signal?: AbortSignal;
  /** How much of the response body to keep (default 64 KiB). */
  maxResponseBytes?: number;
  /** For tests: the clock, in seconds. */
  nowS?: () => number;
  /** The W3C trace context to send on (`traceparent`), so the receiver can continue the trace. */
  traceparent?: string | undefined;
}

export interface PostSignedResponse {
  status: number;
  body: string;
  truncated: boolean;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs a Standard Webhooks-signed JSON body to a destination the policy allows, connecting
 * to the checked address, with a timeout over the whole exchange and no redirects (a 3xx is
 * returned as it is). Throws `OutboundRefusedError` before sending anything, or
 * `OutboundFailedError` when the call does not complete.
 */
export async function postSigned(request: PostSignedRequest): Promise<PostSignedResponse> {
  // The timeout covers the whole exchange, DNS look-up included.
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  if (request.signal?.aborted) throw new OutboundFailedError("outbound_aborted", "The call was aborted before it was sent");
  let target: OutboundTarget;
  try {
    target = await checkOutboundUrl(request.url, request.policy, signal);
  } catch (error) {
    if (timeout.aborted) throw new OutboundFailedError("outbound_timeout", `No answer within ${request.timeoutMs} ms (the DNS look-up did not finish)`, { cause: error });
    if (request.signal?.aborted) throw new OutboundFailedError("outbound_aborted", "The call was aborted before it was sent", { cause: error });
    throw error;
  }
  const payload = typeof request.body === "string" ? request.body : JSON.stringify(request.body ?? null);
  const timestampS = Math.floor(request.nowS ? request.nowS() : Date.now() / 1000);
  const signature = signWebhook(request.secret, request.webhookId, timestampS, payload);
  const maxBytes = request.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  const transport = target.url.protocol === "https:" ? https : http;
  return new Promise<PostSignedResponse>((resolve, reject) => {
    const fail = (error: unknown) => {
      if (timeout.aborted) reject(new OutboundFailedError("outbound_timeout", `No answer from ${target.hostname} within ${request.timeoutMs} ms`, { cause: error }));
      else if (request.signal?.aborted) reject(new OutboundFailedError("outbound_aborted", "The call was aborted", { cause: error }));
      else reject(new OutboundFailedError("outbound_failed", `The call to ${target.hostname} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    };
    const req = transport.request(
      target.url,
      {
        method: "POST",
        lookup: pinnedLookup(target),
        signal,
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
          "user-agent": "Galaxy-Webhooks/1",
          "webhook-id": request.webhookId,
          "webhook-timestamp": String(timestampS),
          "webhook-signature": signature,
          ...(request.traceparent ? { traceparent: request.traceparent } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let truncated = false;
        res.on("data", (chunk: Buffer) => {
          if (kept >= maxBytes) {
            truncated = true;
            return;
          }
          const room = maxBytes - kept;
          if (chunk.length > room) truncated = true;
          const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
          chunks.push(piece);
          kept += piece.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), truncated }));
        res.on("error", fail);
        res.on("close", () => {
          if (!res.complete) fail(new Error("the response was cut off"));
        });
      },
    );
    req.on("error", fail);
    req.end(payload);
  });
}

/** The `fetch` signature the OpenAI, Anthropic and Pinecone clients accept. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A `fetch` for a destination someone other than the operator chose (a workspace's provider
 * base URL): every request is checked with `checkOutboundUrl` against the policy and sent to
 * the very address that was checked, over Node's http/https with no connection reuse and no
 * redirects followed (a 3xx comes back as it is). A refused destination rejects with
 * `OutboundRefusedError` before anything is sent. The response body streams (server-sent
 * events work); the caller's `signal` aborts the exchange.
 */
export function guardedFetch(policy: OutboundPolicy): FetchFunction {
  return async (input, init) => {
    const request = new Request(input, init);
    const target = await checkOutboundUrl(request.url, policy, request.signal);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body) headers["content-length"] = String(body.length);
    const transport = target.url.protocol === "https:" ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = transport.request(
        target.url,
        { method: request.method, headers, lookup: pinnedLookup(target), agent: false, signal: request.signal },
        (res) => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one);
          }
          const status = res.statusCode ?? 502;
          const empty = request.method === "HEAD" || status === 204 || status === 205 || status === 304;
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? "",
              headers: responseHeaders,
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  };
}

/**
 * The `OutboundRefusedError` behind an SDK's error, if that is what it was: the OpenAI,
 * Anthropic and Pinecone clients wrap what their `fetch` threw as a connection error's cause.
 */
export function outboundRefusalIn(error: unknown): OutboundRefusedError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth += 1) {
    if (current instanceof OutboundRefusedError) return current;
    current = current.cause;
  }
  return null;
}
