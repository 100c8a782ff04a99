import { UnavailableError } from "@galaxy/contracts";
import type { MsgHdrs } from "@nats-io/transport-node";

/** Longest header value the bus writes: what a client sent (IP, user agent) and error texts are cut to it. */
const HEADER_VALUE_LIMIT = 1024;

/** One header's value, or undefined when absent or empty. */
export function header(h: MsgHdrs | undefined, key: string): string | undefined {
  const value = h?.get(key);
  return value ? value : undefined;
}

export function clip(value: string): string {
  return value.length > HEADER_VALUE_LIMIT ? value.slice(0, HEADER_VALUE_LIMIT) : value;
}

/** A JetStream API answer that the stream, consumer or message does not exist. */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
