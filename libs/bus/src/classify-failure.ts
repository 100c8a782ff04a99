import { GalaxyError } from "@galaxy/contracts";
import { TerminalMessageError } from "./errors";

/**
 * What a failure says about trying again (docs/bus.md, "Retry policy"):
 * - `transient`: an engine is unreachable or momentarily unable; the same work succeeds once
 *   it is back, so it is retried for as long as that lasts;
 * - `terminal`: the work itself can never succeed (bad input, a forged claim, a typed refusal);
 * - `unknown`: anything else, most likely a bug: retried a few times, then given up.
 */
export type FailureKind = "transient" | "terminal" | "unknown";

/**
 * SQLSTATEs of a database that is unreachable or momentarily unable: connection exceptions
 * (class 08), shutdown and restart (57P01-57P03), a query or lock timeout (57014, 55P03),
 * serialization failure and deadlock (40001, 40P01), insufficient resources (class 53), and a
 * read-only server after a fail-over (25006).
 */
const TRANSIENT_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|57014|55P03|40001|40P01|53[0-9A-Z]{3}|25006)$/;
/** SQLSTATE class 22, data exception: Postgres refused a value itself (a NUL, a lone surrogate, a year 0). */
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Node's codes for a peer that cannot be reached or went away. */
const TRANSIENT_SYSTEM_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "ENETRESET", "EAI_AGAIN",
  "ENOTFOUND", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET",
]);
/**
 * Error names of clients that lost their engine: NATS (timeouts, no responders, a connection
 * closed or draining, JetStream not there yet), ioredis (`MaxRetriesPerRequestError` while
 * Redis is down), and `AbortSignal.timeout`.
 */
const TRANSIENT_NAMES = new Set([
  "TimeoutError", "NoResponders", "NoRespondersError", "ConnectionError", "ClosedConnectionError", "DrainingConnectionError", "JetStreamNotEnabled",
  "MaxRetriesPerRequestError",
]);
/**
 * Messages of the same, for errors that carry no code: pg's pool and client ("Connection
 * terminated unexpectedly", "timeout exceeded when trying to connect"), ioredis ("Connection
 * is closed.") and Redis replies that say to come back (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN,
 * MASTERDOWN, READONLY).
 */
const TRANSIENT_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Connection is closed|(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY) )/;
/** How deep a chain of `cause`s is followed. */
const MAX_CAUSES = 5;

/**
 * Decides once, for every consumer and responder, whether a failure is worth retrying. Pure:
 * it reads only the error's class, name, `code` and message (and those of its causes), so a
 * pipeline step or the gateway can ask the same question.
 */
export function classifyFailure(error: unknown): FailureKind {
  return classifyAt(error, 0);
}

function classifyAt(error: unknown, depth: number): FailureKind {
  if (!(error instanceof Error)) return "unknown";
  if (error instanceof TerminalMessageError || error.name === "ClaimError") return "terminal";
  if (error instanceof GalaxyError) {
    if (error.retryable) return "transient";
    return error.status === 500 ? "unknown" : "terminal";
  }
  const code = "code" in error ? error.code : undefined;
  if (typeof code === "string") {
    if (TRANSIENT_SYSTEM_CODES.has(code)) return "transient";
    if (SQLSTATE.test(code)) {
      if (TRANSIENT_SQLSTATE.test(code)) return "transient";
      if (DATA_EXCEPTION.test(code)) return "terminal";
      // Any other SQLSTATE is a statement the database refused on its merits: a bug of ours.
      return "unknown";
    }
  }
  if (TRANSIENT_NAMES.has(error.name) || isJetStreamUnavailable(error)) return "transient";
  // Input nested deep enough to exhaust the stack (or too big to hold): the same input fails again.
  if (error instanceof RangeError && /call stack size|Invalid string length/i.test(error.message)) return "terminal";
  if (TRANSIENT_MESSAGE.test(error.message)) return "transient";
  if (error instanceof AggregateError && error.errors.length > 0 && error.errors.every((inner) => classifyAt(inner, depth + 1) === "transient")) return "transient";
  if (depth < MAX_CAUSES && error.cause !== undefined) return classifyAt(error.cause, depth + 1);
  return "unknown";
}

/** JetStream answered 503 (no quorum, a leader being elected) or timed out (408). */
function isJetStreamUnavailable(error: Error): boolean {
  if (error.name !== "JetStreamApiError" && error.name !== "JetStreamStatusError") return false;
  const status = "status" in error ? error.status : "code" in error ? error.code : undefined;
  return status === 503 || status === 408;
}

/** An engine is unreachable or momentarily unable (see {@link classifyFailure}). */
export function isTransient(error: unknown): boolean {
  return classifyFailure(error) === "transient";
}

/**
 * Postgres refused a value itself (SQLSTATE class 22: a NUL in a string, a lone surrogate in
 * JSON, a year 0): the input is at fault, never the database, so retrying cannot help.
 */
export function isDataException(error: unknown): boolean {
  return error instanceof Error && "code" in error && typeof error.code === "string" && DATA_EXCEPTION.test(error.code);
}

/** Whether trying again may help: anything but a terminal failure. */
export function isRetryable(error: unknown): boolean {
  return classifyFailure(error) !== "terminal";
}

/** Input that exhausts the stack when it is serialized or walked (thousands of nested levels). */
export function isTooDeep(error: unknown): boolean {
  return error instanceof RangeError && /call stack size/i.test(error.message);
}
