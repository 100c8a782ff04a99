import { sql, type Kysely, type QueryExecutorProvider, type Transaction } from "kysely";
import { EVENT_CATALOG, type EventActor, type EventData, type EventEnvelope, type EventType, uuidv7 } from "@galaxy/contracts";
import { outboxBacklog, type Gauge, type Logger, type Registry } from "@galaxy/observability";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "./migrations";
import type { ServiceName } from "./connection";

/** What travels beside an event into its headers: who asked, from where, in which trace. */
export interface EventContext {
  /** The signed workspace claim to publish with (docs/bus.md). */
  claim: string;
  /** The span that wrote the event, which its publish continues (docs/bus.md, "Headers"); absent outside any trace. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  correlationId: string;
  causationId: string;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
}

/** An outbox row as the relay reads it. */
export interface OutboxRow {
  id: string;
  workspaceId: string;
  type: string;
  schemaVersion: number;
  payload: EventEnvelope;
  context: EventContext;
}

export interface OutboxTable {
  id: string;
  workspace_id: string;
  type: string;
  schema_version: number;
  payload: unknown;
  context: unknown;
  created_at: Date;
  published_at: Date | null;
}

export interface NewEvent<T extends EventType> {
  type: T;
  workspaceId: string;
  actor: EventActor;
  data: EventData<T>;
  context: EventContext;
  /** Defaults to now; replays and derived events may keep the original time. */
  occurredAt?: Date;
}

/**
 * The outbox row of an event, not written yet: its id, fixed here, becomes `Nats-Msg-Id`. The
 * data is checked against the catalog so no malformed event can ever be published.
 */
export function outboxRow<T extends EventType>(event: NewEvent<T>): OutboxRow {
  const entry = EVENT_CATALOG[event.type];
  const data = entry.data.parse(event.data);
  const payload: EventEnvelope = {
    id: uuidv7(),
    type: event.type,
    occurredAt: (event.occurredAt ?? new Date()).toISOString(),
    workspaceId: event.workspaceId,
    actor: event.actor,
    data,
  };
  return { id: payload.id, workspaceId: event.workspaceId, type: event.type, schemaVersion: entry.schemaVersion, payload, context: event.context };
}

/**
 * Writes events into the outbox inside the caller's transaction, so they exist exactly when the
 * change does: one multi-row insert, in the order given (the order the relay publishes them).
 */
export async function insertOutboxRows<DB>(tx: Transaction<DB>, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map((row) => sql`(${row.id}::uuid, ${row.workspaceId}::uuid, ${row.type}, ${row.schemaVersion}::int, ${JSON.stringify(row.payload)}::jsonb, ${JSON.stringify(row.context)}::jsonb)`);
  await sql`insert into outbox (id, workspace_id, type, schema_version, payload, context) values ${sql.join(values)}`.execute(tx);
}

/** Writes one event into the outbox inside the caller's transaction (see `outboxRow`); publish the returned row after the commit. */
export async function appendEvent<DB, T extends EventType>(tx: Transaction<DB>, event: NewEvent<T>): Promise<OutboxRow> {
  const row = outboxRow(event);
  await insertOutboxRows(tx, [row]);
  return row;
}

/** Creates the outbox table and its two relay functions; call from a service's first migration. */
export async function createOutbox(db: Kysely<unknown>, service: ServiceName): Promise<void> {
  await sql`create table outbox (
      id uuid primary key,
      workspace_id uuid not null,
      type text not null,
      schema_version int not null,
      payload jsonb not null,
      context jsonb not null,
      created_at timestamptz not null default now(),
      published_at timestamptz
    )`.execute(db);
  await sql`create index outbox_unpublished on outbox (created_at) where published_at is null`.execute(db);
  await enableWorkspaceRls(db, "outbox");
  await createSecurityDefinerFunction(db, service, {
    name: "outbox_pending",
    args: "p_older_than_ms int, p_limit int",
    returns: "table (id uuid, workspace_id uuid, type text, schema_version int, payload jsonb, context jsonb)",
    body: `select id, workspace_id, type, schema_version, payload, context from outbox
           where published_at is null and created_at < now() - make_interval(secs => p_older_than_ms / 1000.0)
           order by created_at, id limit p_limit`,
    reason: "The outbox relay's safety-net sweep reads unpublished events of every workspace.",
  });
  await createSecurityDefinerFunction(db, service, {
    name: "outbox_mark_published",
    args: "p_ids uuid[]",
    returns: "void",
    volatility: "volatile",
    body: "update outbox set published_at = now() where id = any(p_ids) and published_at is null",
    reason: "The outbox relay marks events of any workspace published after JetStream acknowledged them.",
  });
}

export type PublishStored = (row: OutboxRow) => Promise<void>;

export interface OutboxRelayOptions {
  /** Any Kysely instance of the service (the relay only calls the outbox functions). */
  db: QueryExecutorProvider;
  publish: PublishStored;
  logger: Logger;
  /** How often the safety net looks for events left unpublished (default 2 s). */
  sweepIntervalMs?: number;
  /** How old an unpublished event must be before the sweep takes it (default 1 s). */
  sweepAgeMs?: number;
  /**
   * How long events published by `publishNow` wait to be marked published together, in one
   * statement (default 100 ms; well below `sweepAgeMs`, so the sweep does not take them again).
   */
  markDelayMs?: number;
  /**
   * How long a published event stays in the outbox before the sweep deletes it (default 10
   * minutes, `OUTBOX_RETENTION_MS`): long enough to look at what a service just published;
   * the events themselves stay in JetStream's `EVENTS`.
   */
  retainPublishedMs?: number;
  /** Where `galaxy_outbox_backlog` goes (the service's registry); none, no gauge. */
  metrics?: Registry;
}

/** How long published events stay in the outbox by default. */
export const OUTBOX_RETENTION_MS = 10 * 60_000;
/** Rows one call of `outbox_prune` deletes, and calls one sweep makes at most. */
const PRUNE_BATCH = 1_000;
const PRUNE_CALLS = 10;

/** Marked at once past this many ids waiting. */
const MARK_BATCH = 500;

/** How long the sweep keeps quiet about a failure it has just warned of. */
const SWEEP_FAILURE_REPEAT_MS = 60_000;

/**
 * Publishes outbox events right after their transaction commits (`publishNow`), and sweeps for
 * any left behind by a crash or a bus outage. Publishing twice is harmless: the event id is the
 * `Nats-Msg-Id` and every consumer is idempotent.
 *
 * What `publishNow` published is marked in batches: the ids acknowledged within `markDelayMs`
 * share one statement. An id whose mark is lost (a crash, the database away) is only published
 * again by the sweep, which JetStream then drops as a duplicate.
 */
export class OutboxRelay {
  /** The last failure the sweep warned of, and when: the same one again soon is not repeated. */
  private lastSweepFailure: { message: string; at: number } | undefined;

  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Published by `publishNow`, not marked yet. */
  private unmarked: string[] = [];
  private markTimer: NodeJS.Timeout | undefined;

  /** Exported from the start (0 until a sweep finds a backlog), so an alert on it has a series. */
  private readonly backlog: Gauge | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.backlog = options.metrics ? outboxBacklog(options.metrics) : undefined;
  }

  start(): void {
    const interval = this.options.sweepIntervalMs ?? 2_000;
    this.timer = setInterval(() => {
      if (!this.sweeping) this.sweeping = this.sweep().finally(() => (this.sweeping = undefined));
    }, interval);
    this.timer.unref();
  }

  /** Hands committed events to the bus without making the caller wait for it. */
  publishNow(rows: readonly OutboxRow[]): void {
    if (rows.length === 0) return;
    const work = this.publishAll(rows, (ids) => this.markLater(ids)).catch((error: unknown) => {
      this.options.logger.warn({ err: error, events: rows.length }, "outbox publish deferred to the sweep");
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Publishes every unpublished event older than the sweep age, then deletes published events older than the retention. */
  async sweep(ageMs = this.options.sweepAgeMs ?? 1_000): Promise<void> {
    await this.publishPending(ageMs);
    await this.prune();
  }

  /**
   * Deletes published events older than the retention, a batch at a time, at most
   * `PRUNE_CALLS` batches per sweep; answers how many. A failure is logged: the next sweep
   * tries again.
   */
  async prune(): Promise<number> {
    const retention = this.options.retainPublishedMs ?? OUTBOX_RETENTION_MS;
    let pruned = 0;
    try {
      for (let call = 0; call < PRUNE_CALLS; call++) {
        const result = await sql<{ pruned: number }>`select outbox_prune(${retention}, ${PRUNE_BATCH}) as pruned`.execute(this.options.db);
        const count = result.rows[0]?.pruned ?? 0;
        pruned += count;
        if (count < PRUNE_BATCH) break;
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, "outbox prune failed; will retry");
    }
    return pruned;
  }

  private async publishPending(ageMs: number): Promise<void> {
    const backlog = this.backlog;
    let found = 0;
    try {
      for (;;) {
        const result = await sql<{ id: string; workspace_id: string; type: string; schema_version: number; payload: EventEnvelope; context: EventContext }>`
          select * from outbox_pending(${ageMs}, 200)`.execute(this.options.db);
        found += result.rows.length;
        backlog?.set(found);
        if (result.rows.length === 0) return;
        await this.publishAll(
          result.rows.map((r) => ({ id: r.id, workspaceId: r.workspace_id, type: r.type, schemaVersion: r.schema_version, payload: r.payload, context: r.context })),
        );
        if (result.rows.length < 200) return;
      }
      this.lastSweepFailure = undefined;
    } catch (error) {
      this.reportSweepFailure(error);
    }
  }

  /**
   * Warns of a failed sweep; the same failure again within a minute (an event the server keeps
   * refusing, an outage that lasts) only at debug, so one cause is not a stack trace every 2 s.
   * `galaxy_outbox_backlog` and its alert keep counting meanwhile (docs/operations.md).
   */
  private reportSweepFailure(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    const last = this.lastSweepFailure;
    if (last?.message === message && now - last.at < SWEEP_FAILURE_REPEAT_MS) {
      this.options.logger.debug({ err: error }, "outbox sweep failed again; will retry");
      return;
    }
    this.lastSweepFailure = { message, at: now };
    this.options.logger.warn({ err: error }, "outbox sweep failed; will retry");
  }

  /** Stops the sweep, waits for events being published now, and marks them. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight, this.sweeping]);
    await this.markUnmarked();
  }

  private async publishAll(rows: readonly OutboxRow[], mark: (ids: string[]) => Promise<void> = (ids) => this.markPublished(ids)): Promise<void> {
    // Every publish goes out on the connection synchronously, in commit order; only the
    // acknowledgements are awaited together. Each row stands alone: one that cannot be
    // published (a bus outage, a message the server refuses) holds back no other.
    const results = await Promise.allSettled(rows.map((row) => this.options.publish(row)));
    const published = rows.filter((_, i) => results[i]?.status === "fulfilled").map((row) => row.id);
    if (published.length > 0) await mark(published);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async markPublished(ids: readonly string[]): Promise<void> {
    await sql`select outbox_mark_published(${sql.val(ids)}::uuid[])`.execute(this.options.db);
  }

  private async markLater(ids: readonly string[]): Promise<void> {
    this.unmarked.push(...ids);
    if (this.unmarked.length >= MARK_BATCH) {
      await this.markUnmarked();
      return;
    }
    if (this.markTimer) return;
    this.markTimer = setTimeout(() => void this.markUnmarked(), this.options.markDelayMs ?? 100);
    this.markTimer.unref();
  }

  private async markUnmarked(): Promise<void> {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const ids = this.unmarked;
    if (ids.length === 0) return;
    this.unmarked = [];
    try {
      await this.markPublished(ids);
    } catch (error) {
      this.options.logger.warn({ err: error, events: ids.length }, "outbox events published but not marked; the sweep publishes them again");
    }
  }
}
