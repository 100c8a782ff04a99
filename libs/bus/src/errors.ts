import { GalaxyError } from "@galaxy/contracts";

/** A message that can never be applied, whatever the retries: it goes to dead letters at once. */
export class TerminalMessageError extends Error {
  constructor(readonly reason: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "TerminalMessageError";
  }
}

/** A consumer asked to bind only to an existing durable (`existingOnly`) that does not exist. */
export class ConsumerNotFoundError extends Error {
  constructor(readonly durable: string) {
    super(`the durable consumer ${durable} does not exist`);
    this.name = "ConsumerNotFoundError";
  }
}

/**
 * The 400 for input nested so deep that serializing or walking it exhausts the stack
 * (thousands of levels): the caller's fault, and the same input fails every time.
 */
export function payloadTooDeep(cause?: unknown): GalaxyError {
  return new GalaxyError(400, "payload_too_deep", "The request is nested too deeply to be processed", { cause });
}
