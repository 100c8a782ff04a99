import { uuidv7 } from "@galaxy/contracts";
import type { NotifyUrls } from "./notify-urls";

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

/** The execution a terminal event ends, as far as its callback needs it. */
export interface EndingExecution {
  workspaceId: string;
  agentId: string;
  agentVersion: number;
}

/**
 * Makes the callback orders of terminal events, and wakes the dispatcher once one is committed.
 * An execution's end and its callback are one transaction, so an end recorded always has its
 * callback, and nothing has to hear the event back from the bus to schedule it.
 */
export class CallbackOrders {
  constructor(
    private readonly deps: {
      notifyUrls: NotifyUrls;
      retryWindowMs: number;
      /** Tells the dispatcher an attempt is due. */
      wake: () => void;
    },
  ) {}

  /**
   * The order for `eventId`, the terminal event of `execution`, or null when its agent version
   * has no `notifyUrl`. The version is in the worker's projection: its execution was pinned to it.
   */
  async orderFor(execution: EndingExecution, eventId: string, traceparent: string | undefined, now: Date = new Date()): Promise<CallbackOrder | null> {
    const url = await this.deps.notifyUrls.of(execution.workspaceId, execution.agentId, execution.agentVersion);
    if (url === undefined) throw new Error(`agent ${execution.agentId} version ${execution.agentVersion} is not in the projection`);
    if (url === null) return null;
    return { id: uuidv7(), eventId, url, giveUpAt: new Date(now.getTime() + this.deps.retryWindowMs).toISOString(), traceparent: traceparent ?? null };
  }

  /** An order was committed: its attempt is due now. */
  committed(): void {
    this.deps.wake();
  }
}
