/**
 * Tells an engine outage from bad input and from a bug, for errors that are not a
 * `GalaxyError` (docs/errors.md): a Postgres, Redis or NATS connection that fails is a 503 the
 * caller retries; a stack overflow or a value Postgres refuses is the request's fault (400);
 * anything else is a bug (500).
 *
 * Local to the gateway until the bus's shared classification of failures replaces it: it
 * recognises the engines' errors by their codes and names only.
 */
export type FailureKind = "engine" | "input" | "bug";

/** Socket and DNS failures of any client (pg, ioredis, nats) reaching its server. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "ENOTFOUND", "EAI_AGAIN",
  "ERR_SOCKET_CLOSED", "ERR_STREAM_DESTROYED",
]);

/** SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), resources (53), shutting down or starting (57P0x), and conflicts a retry resolves. */
const TRANSIENT_SQLSTATE = /^(08|53)|^57P0[1-5]$|^40001$|^40P01$|^55P03$/;
/** SQLSTATEs of a value Postgres refuses: data exceptions (class 22), a statement too complex or too deep (54). */
const INPUT_SQLSTATE = /^(22|54)/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Connection failures that carry no code: pg and pg-pool, ioredis, the nats client. */
const ENGINE_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error/,
  /the database system is (starting up|shutting down|in recovery mode)/,
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
  /^(LOADING|MASTERDOWN|TRYAGAIN|BUSY|CLUSTERDOWN) /,
];
const ENGINE_NAMES = new Set([
  "MaxRetriesPerRequestError", "ClusterAllFailedError", "ClosedConnectionError", "DrainingConnectionError", "ConnectionError", "TimeoutError", "NoResponders",
]);

const STACK_OVERFLOW = /Maximum call stack size exceeded/;
/** How many errors of a cause chain (and an AggregateError's members) are looked at. */
const MAX_LOOKED_AT = 32;

export function classifyGatewayFailure(error: unknown): FailureKind {
  let engine = false;
  for (const err of causesOf(error)) {
    if (err instanceof RangeError && STACK_OVERFLOW.test(err.message)) return "input";
    const code = codeOf(err);
    if (code !== undefined && SQLSTATE.test(code) && INPUT_SQLSTATE.test(code)) return "input";
    if (isEngineFailure(err, code)) engine = true;
  }
  return engine ? "engine" : "bug";
}

function isEngineFailure(err: Error, code: string | undefined): boolean {
  if (code !== undefined && (NETWORK_CODES.has(code) || (SQLSTATE.test(code) && TRANSIENT_SQLSTATE.test(code)))) return true;
  if (ENGINE_NAMES.has(err.name)) return true;
  return ENGINE_MESSAGES.some((pattern) => pattern.test(err.message));
}

function codeOf(err: Error): string | undefined {
  const code = (err as Error & { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The error, its causes and an AggregateError's members, breadth first and bounded. */
function causesOf(error: unknown): Error[] {
  const found: Error[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && found.length < MAX_LOOKED_AT) {
    const next = queue.shift();
    if (!(next instanceof Error) || found.includes(next)) continue;
    found.push(next);
    if (next.cause !== undefined) queue.push(next.cause);
    if (next instanceof AggregateError) queue.push(...next.errors);
  }
  return found;
}
