import { sql, type Kysely, type Transaction } from "kysely";
import { RawBusMessage } from "@galaxy/contracts";
import { enableWorkspaceRls } from "./migrations";

/**
 * While a replay with `reset` rebuilds one workspace's part of a projection, live events for
 * that workspace wait (docs/replay.md): the consumer stores them here and acks, and the replay
 * applies them after the rebuild, in stream order, before it lets live events through again.
 *
 * Tables (in the service's schema, under row-level security): `replay_holds` (which workspace
 * is held for which consumer, by which replay) and `replay_deferred` (the messages that waited).
 * A per-consumer-and-workspace advisory lock orders the three parties: a live delivery holds it
 * shared while it checks the hold and applies; `hold` and `release` take it exclusively, so a
 * hold starts only after every live delivery already past its check has finished, and a
 * release hands over the waiting messages before any newer live one is applied.
 */

// Advisory locks share one namespace per database: the two-int form with a key of our own.
const HOLD_LOCK_SPACE = 0x72706c68; // "rplh"

/** Creates `replay_holds` and `replay_deferred`; call from the service's migration. */
export async function createReplayHoldTables(db: Kysely<unknown>): Promise<void> {
  await sql`create table replay_holds (
      workspace_id uuid not null,
      consumer text not null,
      replay_id uuid not null,
      created_at timestamptz not null default now(),
      primary key (workspace_id, consumer)
    )`.execute(db);
  await enableWorkspaceRls(db, "replay_holds");
  await sql`create table replay_deferred (
      workspace_id uuid not null,
      consumer text not null,
      stream_seq bigint not null,
      message jsonb not null,
      created_at timestamptz not null default now(),
      primary key (workspace_id, consumer, stream_seq)
    )`.execute(db);
  await enableWorkspaceRls(db, "replay_deferred");
}

export async function dropReplayHoldTables(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists replay_deferred`.execute(db);
  await sql`drop table if exists replay_holds`.execute(db);
}

/** What a live message must tell the holds: its workspace, place in the stream, and raw form. */
export interface HoldableMessage {
  event: { workspaceId: string };
  streamSeq: number;
  replayId: string | undefined;
  raw(): RawBusMessage;
}

/** The holds of one durable consumer. */
export class ReplayHolds<DB> {
  constructor(
    private readonly db: Kysely<DB>,
    readonly consumer: string,
  ) {}

  /**
   * The live path: applies the messages whose workspace is not held (all of them, in order, in
   * one `apply` call) and stores the others for the replay to apply later. Replayed messages
   * (`replayId`) are the rebuild itself and always go through.
   */
  async live<M extends HoldableMessage>(messages: readonly M[], apply: (messages: M[]) => Promise<unknown>): Promise<{ deferred: number }> {
    const workspaces = [...new Set(messages.filter((m) => m.replayId === undefined).map((m) => m.event.workspaceId))].sort();
    if (workspaces.length === 0) {
      await apply([...messages]);
      return { deferred: 0 };
    }
    return this.db.transaction().execute(async (tx) => {
      const held = new Set<string>();
      for (const ws of workspaces) {
        await this.lock(tx, ws, "shared");
        if (await this.isHeld(tx, ws)) held.add(ws);
      }
      const waiting = messages.filter((m) => m.replayId === undefined && held.has(m.event.workspaceId));
      for (const message of waiting) {
        await setWorkspace(tx, message.event.workspaceId);
        await sql`insert into replay_deferred (workspace_id, consumer, stream_seq, message)
                  values (${message.event.workspaceId}, ${this.consumer}, ${message.streamSeq}, ${JSON.stringify(message.raw())}::jsonb)
                  on conflict do nothing`.execute(tx);
      }
      const now = messages.filter((m) => !waiting.includes(m));
      // Applied while this transaction keeps the shared locks: a hold waits for it.
      if (now.length > 0) await apply(now);
      return { deferred: waiting.length };
    });
  }

  /** Holds live events of `workspaceId` from now on; returns once no live delivery that missed the hold is still running. */
  async hold(workspaceId: string, replayId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await this.lock(tx, workspaceId, "exclusive");
      await setWorkspace(tx, workspaceId);
      await sql`insert into replay_holds (workspace_id, consumer, replay_id) values (${workspaceId}, ${this.consumer}, ${replayId})
                on conflict (workspace_id, consumer) do update set replay_id = excluded.replay_id`.execute(tx);
    });
  }

  /** The replay holding `workspaceId`, or null. */
  async holder(workspaceId: string): Promise<string | null> {
    return this.db.transaction().execute(async (tx) => {
      await setWorkspace(tx, workspaceId);
      const row = await sql<{ replay_id: string }>`select replay_id from replay_holds where workspace_id = ${workspaceId} and consumer = ${this.consumer}`.execute(tx);
      return row.rows[0]?.replay_id ?? null;
    });
  }

  /**
   * Applies what waited, in stream order, through `deliver` (the consumer's own handler, as a
   * replayed message), then lifts the hold; live deliveries for the workspace wait meanwhile.
   * A failure keeps the hold and what has not been applied yet, for a second release.
   */
  async release(workspaceId: string, deliver: (raw: RawBusMessage) => Promise<void>): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      await this.lock(tx, workspaceId, "exclusive");
      await setWorkspace(tx, workspaceId);
      const rows = await sql<{ stream_seq: string; message: unknown }>`select stream_seq, message from replay_deferred
                  where workspace_id = ${workspaceId} and consumer = ${this.consumer} order by stream_seq`.execute(tx);
      for (const row of rows.rows) await deliver(RawBusMessage.parse(row.message));
      await sql`delete from replay_deferred where workspace_id = ${workspaceId} and consumer = ${this.consumer}`.execute(tx);
      await sql`delete from replay_holds where workspace_id = ${workspaceId} and consumer = ${this.consumer}`.execute(tx);
      return rows.rows.length;
    });
  }

  private async lock<T>(tx: Transaction<T>, workspaceId: string, mode: "shared" | "exclusive"): Promise<void> {
    const key = `${this.consumer}:${workspaceId}`;
    if (mode === "shared") await sql`select pg_advisory_xact_lock_shared(${HOLD_LOCK_SPACE}::int, hashtext(${key}))`.execute(tx);
    else await sql`select pg_advisory_xact_lock(${HOLD_LOCK_SPACE}::int, hashtext(${key}))`.execute(tx);
  }

  private async isHeld<T>(tx: Transaction<T>, workspaceId: string): Promise<boolean> {
    await setWorkspace(tx, workspaceId);
    const row = await sql<{ held: boolean }>`select exists (select 1 from replay_holds where workspace_id = ${workspaceId} and consumer = ${this.consumer}) as held`.execute(tx);
    return row.rows[0]?.held === true;
  }
}

async function setWorkspace<T>(tx: Transaction<T>, workspaceId: string): Promise<void> {
  await sql`select set_config('app.workspace_id', ${workspaceId}, true)`.execute(tx);
}
