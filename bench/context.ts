import type { NatsConnection } from "@nats-io/transport-node";
import type { Kysely } from "@galaxy/db";
import type { Tenant } from "../test/fault/support/tenant";
import type { BaselineProcess } from "./baseline/process";
import type { CompletionWatcher } from "./completions";
import type { BenchWorld } from "./setup";
import type { GalaxySystem } from "./system/galaxy";

/** Everything a benchmark of the system needs: Galaxy as `make up` runs it and the bare engines beside it. */
export interface BenchContext {
  world: BenchWorld;
  galaxy: GalaxySystem;
  /** The run's Redis logical database (Galaxy's and BullMQ's keys). */
  redisUrl: string;
  /** The workspace most benchmarks use (enterprise tier), its agent and webhook trigger. */
  tenant: Tenant;
  /** `POST` here: a signed delivery to `tenant`'s trigger. */
  webhookUrl: string;
  /** More workspaces: `readers` for the read path (API rate limits are per workspace), `noisy` and `quiet` for benchmark 8. */
  tenants: { readers: Tenant[]; noisy: Tenant; quiet: Tenant };
  /** Galaxy's finished executions, seen on its bus. */
  galaxyFinished: CompletionWatcher;
  /** Superuser pool on the bench database (the baselines' table, Galaxy's rows to look up). */
  db: Kysely<unknown>;
  bare: {
    process: BaselineProcess;
    /** The runner's connection: requests to the bare responder, the watchers' subscriptions. */
    nc: NatsConnection;
    prefix: string;
    workspaceId: string;
    /** The secret the bare webhook route checks signatures with. */
    secret: string;
    /** BullMQ's key prefix in `redisUrl`. */
    bullPrefix: string;
    /** The bare responder's finished executions (`<prefix>.evt.…`). */
    finished: CompletionWatcher;
    /** The bare BullMQ worker's finished jobs (`<prefix>.bull.evt.…`). */
    bullFinished: CompletionWatcher;
  };
  log: (line: string) => void;
}

/** One line of the results table. */
export interface ResultRow {
  benchmark: string;
  metric: string;
  galaxy: string;
  baseline: string;
  /** Galaxy ÷ baseline. */
  ratio: string;
  target: string;
  /** Whether Galaxy meets its target (docs/benchmarks.md); null when there is none. */
  met: boolean | null;
}

/** What a benchmark hands back: its table rows and notes for the report. */
export interface BenchOutcome {
  rows: ResultRow[];
  notes: string[];
}
