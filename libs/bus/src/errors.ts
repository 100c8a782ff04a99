import { GalaxyError } from "@galaxy/contracts";

/** A message that can never be applied, whatever the retries: it goes to dead letters at once. */
export class TerminalMessageError extends Error {
  constructor(readonly reason: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "TerminalMessageError";
  }
}

/** Whether a handler's failure is worth retrying (infrastructure) or final (the message itself). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof TerminalMessageError) return false;
  if (error instanceof GalaxyError) return error.retryable;
  return true;
}
