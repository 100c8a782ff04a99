import { classifyFailure, isDataException, isTooDeep } from "@galaxy/bus";

/**
 * Tells an engine outage from bad input and from a bug, for errors that are not a
 * `GalaxyError` (docs/errors.md): what the bus's one classification of failures calls
 * transient (a Postgres, Redis or NATS connection that fails) is a 503 the caller retries; a
 * stack overflow or a value Postgres refuses, anywhere in the cause chain, is the request's
 * fault (400); anything else is a bug (500).
 */
export type FailureKind = "engine" | "input" | "bug";

/** SQLSTATE class 54: a statement too complex or nested too deep for Postgres, from the caller's input. */
const PROGRAM_LIMIT = /^54[0-9A-Z]{3}$/;
/** How many errors of a cause chain (and an AggregateError's members) are looked at. */
const MAX_LOOKED_AT = 32;

export function classifyGatewayFailure(error: unknown): FailureKind {
  for (const err of causesOf(error)) {
    if (isTooDeep(err) || isDataException(err) || PROGRAM_LIMIT.test(codeOf(err) ?? "")) return "input";
  }
  return classifyFailure(error) === "transient" ? "engine" : "bug";
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
