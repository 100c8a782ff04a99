import type { ConsumerHandle } from "@galaxy/bus";
import { sql, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { AuditDb } from "../db";
import { AUDIT_LOCK_SPACE } from "./audit-log.repository";

/**
 * The key, in audit's advisory-lock space, of the lock the consuming instance holds. Chain
 * locks in the same space use `hashtext(workspace id)`; a workspace whose hash were 0 would
 * only make its chain wait on the consumer lock's holder, never share the lock.
 */
const INGEST_LOCK_KEY = 0;

export interface IngestLockOptions {
  db: Kysely<AuditDb>;
  logger: Logger;
  /** Starts consuming `evt.>`; called once this instance holds the lock. */
  consume: () => Promise<ConsumerHandle>;
  /** How often a standby instance tries to take the lock, and the holder checks it still has it (default 5 s). */
  retryMs?: number;
}

/**
 * Only one audit instance consumes `evt.>` at a time. Instances sharing the durable consumer
 * would take different batches at once and whichever committed first would get the lower
 * `seq`: a chain out of stream order, which a replay with reset rebuilds differently. The
 * instance that holds a session-level advisory lock, on a connection of its own, consumes;
 * the others stand by and try to take the lock every `retryMs`. The lock goes with its
 * session: when the holder dies (or its connection does) another instance takes over.
 * A holder that finds its connection gone stops consuming and stands by again.
 */
export class IngestLock {
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private leading = false;

  constructor(private readonly options: IngestLockOptions) {}

  /** True while this instance holds the lock and consumes. */
  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops consuming (if it does) and releases the lock. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const retryMs = this.options.retryMs ?? 5_000;
    while (!this.stopped) {
      try {
        // The connection stays this instance's until the callback returns: the session, and so the lock, live as long as it does.
        await this.options.db.connection().execute(async (conn) => {
          const { rows } = await sql<{ taken: boolean }>`select pg_try_advisory_lock(${AUDIT_LOCK_SPACE}::int, ${INGEST_LOCK_KEY}::int) as taken`.execute(conn);
          if (!rows[0]?.taken) return;
          await this.lead(conn, retryMs);
        });
      } catch (error) {
        this.options.logger.warn({ err: error }, "audit's consumer lock is lost or cannot be taken; standing by");
      }
      await this.sleep(retryMs);
    }
  }

  /** Consumes until stopped or until the lock's connection fails, then stops consuming; the caller's session ends the lock. */
  private async lead(conn: Kysely<AuditDb>, retryMs: number): Promise<void> {
    this.options.logger.info("this audit instance holds the consumer lock; consuming events");
    let consumer: ConsumerHandle | null = null;
    this.leading = true;
    try {
      consumer = await this.options.consume();
      while (!this.stopped) {
        await this.sleep(retryMs);
        // A connection that fails here took the lock with its session.
        await sql`select 1`.execute(conn);
      }
    } finally {
      this.leading = false;
      await consumer?.stop();
      // Released before the connection goes back to the pool (a failed one is not reused).
      await sql`select pg_advisory_unlock(${AUDIT_LOCK_SPACE}::int, ${INGEST_LOCK_KEY}::int)`.execute(conn).catch(() => undefined);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
