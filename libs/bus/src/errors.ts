import { GalaxyError } from "@galaxy/contracts";

/** A message that can never be applied, whatever the retries: it goes to dead letters at once. */
export class TerminalMessageError extends Error {
  constructor(readonly reason: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "TerminalMessageError";
  }
}

/**
 * Postgres refused a value itself (SQLSTATE class 22: a NUL in a string, a lone surrogate in
 * JSON, a year 0): the input is at fault, never the database, so retrying cannot help.
 */
export function isDataException(error: unknown): boolean {
  return error instanceof Error && "code" in error && typeof error.code === "string" && /^22[0-9A-Z]{3}$/.test(error.code);
}

/** Whether a handler's failure is worth retrying (infrastructure) or final (the message itself). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof TerminalMessageError) return false;
  if (isDataException(error)) return false;
  if (error instanceof GalaxyError) return error.retryable;
  return true;
}
