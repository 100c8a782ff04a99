import type { ServerResponse } from "node:http";
import type { Bus, RequestOptions } from "@galaxy/bus";
import { EventEnvelope, ExecutionDelta, ExecutionEventBase, TERMINAL_EVENT_TYPES, TERMINAL_STATUSES, type ExecutionEventsReply, type StoredExecutionEvent } from "@galaxy/contracts";
import type { FastifyBaseLogger } from "fastify";

/** How often an idle stream sends a comment, so proxies keep the connection open. */
export const HEARTBEAT_MS = 15_000;
/**
 * How often the stream reads the stored events as well: core NATS delivers at most once, so an
 * event missed live is picked up from the store within this time.
 */
export const RESYNC_MS = 5_000;
const PAGE = 200;

export interface ExecutionStreamOptions {
  bus: Bus;
  workspaceId: string;
  executionId: string;
  /** The `Last-Event-ID` the client resumes after (0: from the start). */
  afterSeq: number;
  /** The caller's bus options (claim, trace) for `execution.events.list`. */
  requestOptions: RequestOptions;
  logger: FastifyBaseLogger;
  heartbeatMs?: number;
  resyncMs?: number;
}

/**
 * One client's `GET /api/executions/{id}/events` (docs/api.md). It subscribes to the
 * execution's events (core `evt.<ws>.execution.>`, filtered by id) and token deltas
 * (`live.<ws>.execution.<id>`) before it reads the stored events, so nothing falls between the
 * two; every event is written once, in seq order (`id:` is the seq), whichever way it came;
 * a gap in the live events is filled from the store. Deltas carry no `id:` and are written
 * only once the stored events are out. The stream ends after the terminal event.
 */
export class ExecutionStream {
  private lastSeq: number;
  private replaying = true;
  private ended = false;
  /** Live events ahead of `lastSeq + 1`, waiting for the ones before them. */
  private readonly pending = new Map<number, StoredExecutionEvent>();
  private readonly subscriptions: Array<{ unsubscribe(): void }> = [];
  private filling: Promise<void> = Promise.resolve();
  private fillQueued = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private out: ServerResponse | undefined;
  private readonly finished: Promise<void>;
  private finish!: () => void;

  constructor(private readonly options: ExecutionStreamOptions) {
    this.lastSeq = options.afterSeq;
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  /**
   * Subscribes and reads the first page of stored events. Throws what the worker answered (a
   * 404, a 403) before anything is written, so the caller answers it as JSON.
   */
  async open(): Promise<ExecutionEventsReply> {
    const { bus, workspaceId, executionId } = this.options;
    this.subscriptions.push(
      bus.subscribeCore(`evt.${workspaceId}.execution.>`, (data) => this.onLiveEvent(data)),
      bus.subscribeCore(`live.${workspaceId}.execution.${executionId}`, (data) => this.onDelta(data)),
    );
    try {
      // The server has the subscriptions before the store is read: an event committed after
      // the read is delivered live.
      await bus.flush();
      return await this.read();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Writes the stored events, then live ones, until the terminal event or the client leaves. */
  async run(out: ServerResponse, first: ExecutionEventsReply): Promise<void> {
    this.out = out;
    out.on("close", () => this.close());
    let page = first;
    for (;;) {
      for (const item of page.items) this.write(item);
      if (this.ended) return this.finished;
      if (page.items.length < PAGE) break;
      page = await this.read();
    }
    this.replaying = false;
    this.drainPending();
    // Everything stored is out and the execution had already ended: nothing more will come.
    if (!this.ended && TERMINAL_STATUSES.has(page.status)) this.fill();
    this.heartbeat = setInterval(() => this.comment("keep-alive"), this.options.heartbeatMs ?? HEARTBEAT_MS);
    this.resync = setInterval(() => this.fill(), this.options.resyncMs ?? RESYNC_MS);
    return this.finished;
  }

  /** Ends the stream and drops the subscriptions and timers; safe to call more than once. */
  close(): void {
    if (this.ended && this.subscriptions.length === 0) return;
    this.ended = true;
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    clearInterval(this.heartbeat);
    clearInterval(this.resync);
    if (this.out && !this.out.writableEnded) this.out.end();
    this.finish();
  }

  private async read(): Promise<ExecutionEventsReply> {
    return this.options.bus.request("execution.events.list", { id: this.options.executionId, afterSeq: this.lastSeq, limit: PAGE }, this.options.requestOptions);
  }

  private onLiveEvent(data: unknown): void {
    if (this.ended) return;
    const envelope = EventEnvelope.safeParse(data);
    if (!envelope.success || envelope.data.workspaceId !== this.options.workspaceId) return;
    const base = ExecutionEventBase.safeParse(envelope.data.data);
    if (!base.success || base.data.executionId !== this.options.executionId) return;
    const item: StoredExecutionEvent = { seq: base.data.seq, type: envelope.data.type, event: envelope.data };
    if (this.replaying || item.seq > this.lastSeq + 1) {
      if (item.seq > this.lastSeq) this.pending.set(item.seq, item);
      // A gap after the replay: the events between are in the store.
      if (!this.replaying) this.fill();
      return;
    }
    this.write(item);
    this.drainPending();
  }

  private onDelta(data: unknown): void {
    if (this.ended || this.replaying || !this.out) return;
    const delta = ExecutionDelta.safeParse(data);
    if (!delta.success || delta.data.executionId !== this.options.executionId) return;
    this.out.write(`event: execution.delta\ndata: ${JSON.stringify(delta.data)}\n\n`);
  }

  /** Writes one event if it is the next; an older one (already written) is dropped. */
  private write(item: StoredExecutionEvent): void {
    if (this.ended || !this.out || item.seq !== this.lastSeq + 1) return;
    this.out.write(`id: ${item.seq}\nevent: ${item.type}\ndata: ${JSON.stringify(item.event)}\n\n`);
    this.lastSeq = item.seq;
    if (TERMINAL_EVENT_TYPES.has(item.type)) this.close();
  }

  private drainPending(): void {
    for (;;) {
      const next = this.pending.get(this.lastSeq + 1);
      for (const seq of this.pending.keys()) if (seq <= this.lastSeq) this.pending.delete(seq);
      if (!next || this.ended) return;
      this.write(next);
    }
  }

  /** Reads the store after the last written seq (one read at a time; a call during one runs once after it). */
  private fill(): void {
    if (this.ended || this.fillQueued) return;
    this.fillQueued = true;
    this.filling = this.filling.then(async () => {
      this.fillQueued = false;
      if (this.ended) return;
      try {
        for (;;) {
          const page = await this.read();
          for (const item of page.items) this.write(item);
          this.drainPending();
          if (this.ended) return;
          if (page.items.length < PAGE) {
            // Stored up to its end and the execution is over, yet no terminal event: never
            // expected (the end and its event are one transaction); do not hang the client.
            if (TERMINAL_STATUSES.has(page.status) && page.items.length === 0 && this.pending.size === 0) this.close();
            return;
          }
        }
      } catch (error) {
        // The claim this stream runs with expired, or the worker is away: the client reconnects with Last-Event-ID.
        this.options.logger.warn({ err: error, executionId: this.options.executionId }, "could not read stored execution events; ending the stream");
        this.close();
      }
    });
  }

  private comment(text: string): void {
    if (!this.ended && this.out) this.out.write(`: ${text}\n\n`);
  }
}
