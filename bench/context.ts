import type { NatsConnection } from "@nats-io/transport-node";
import type { Kysely } from "@galaxy/db";
import type { Galaxy } from "../test/e2e/harness";
import type { CompletionWatcher } from "./completions";
import type { GalaxyClient } from "./galaxy-client";
import type { BenchWorld } from "./setup";

/** Everything a benchmark needs: Galaxy under test and the bare engines beside it. */
export interface BenchContext {
  world: BenchWorld;
  galaxy: Galaxy;
  client: GalaxyClient;
  agentId: string;
  /** Galaxy's finished executions, seen on its bus by the harness's observer connection. */
  galaxyFinished: CompletionWatcher;
  bare: {
    /** The client side: requests and the watcher's subscription. */
    nc: NatsConnection;
    prefix: string;
    /** Superuser pool on the bench database. */
    db: Kysely<unknown>;
    /** A dev model server of the baselines' own (same code, zero latency). */
    modelUrl: string;
    workspaceId: string;
    finished: CompletionWatcher;
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
