import { uuidv7 } from "@galaxy/contracts";

/**
 * A completion callback to schedule in the transaction that records an execution's terminal
 * event (docs/decisions/0031): the first attempt, due at once, of delivering that event to the
 * agent version's `notifyUrl`.
 */
export interface CallbackOrder {
  /** The attempt's id. */
  id: string;
  /** The terminal event the callback delivers, as stored with its seq. */
  eventId: string;
  url: string;
  /** When the retries stop (the retry window after the end). */
  giveUpAt: string;
  traceparent: string | null;
}

/**
 * Makes the callback orders of terminal events, and wakes the dispatcher once one is committed.
 * An execution's end and its callback are one transaction, so an end recorded always has its
 * callback, and nothing has to hear the event back from the bus to schedule it. The URL is the
 * pinned version's `notifyUrl`, which the run (or the cancel) has read already.
 */
export class CallbackOrders {
  constructor(
    private readonly deps: {
      retryWindowMs: number;
      /** Tells the dispatcher an attempt is due. */
      wake: () => void;
    },
  ) {}

  /** The order for `eventId`, a terminal event, or null when the version has no `notifyUrl`. */
  orderFor(notifyUrl: string | null | undefined, eventId: string, traceparent: string | undefined, now: Date = new Date()): CallbackOrder | null {
    if (!notifyUrl) return null;
    return { id: uuidv7(), eventId, url: notifyUrl, giveUpAt: new Date(now.getTime() + this.deps.retryWindowMs).toISOString(), traceparent: traceparent ?? null };
  }

  /** An order was committed: its attempt is due now. */
  committed(): void {
    this.deps.wake();
  }
}
