import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model";
import { startGalaxy, type Galaxy } from "../test/e2e/harness";
import { RATE_TIERS_KEY } from "../services/gateway/src/http/rate-limit";
import { createBaselineTable, createStream, serveBareWorker } from "./bare";
import { CompletionWatcher } from "./completions";
import type { BenchContext, BenchOutcome, ResultRow } from "./context";
import { executionLatency } from "./execution-latency";
import { GalaxyClient } from "./galaxy-client";
import { readPath } from "./read-path";
import { hostFacts, machineLine, resultsBlock, resultsTable, writeResultsBlock, type Machine } from "./report";
import { createBenchWorld, type BenchWorld } from "./setup";
import { sustainedExecutions } from "./sustained";
import { webhookDeliveries } from "./webhooks";

// `make bench`: Galaxy in this process on a database and bus prefix of its own, each benchmark
// beside a bare baseline measured in the same run, then a results table. Every count is fixed
// and every wait bounded; the whole run is abandoned (after cleaning up) past DEADLINE_MS.

const DEADLINE_MS = 5 * 60_000;
/** Connections of the bare baselines' pool: as many as the harness gives Galaxy's worker. */
const BARE_POOL_SIZE = 5;
const DOC = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));

const log = (line: string) => console.log(line);

const BENCHMARKS: Array<{ name: string; run: (ctx: BenchContext) => Promise<BenchOutcome> }> = [
  { name: "1. execution latency, one at a time (300 after 30 warm-up)", run: executionLatency },
  { name: "2. sustained executions (1,000 at 32 clients)", run: sustainedExecutions },
  { name: "3. API read path (autocannon, 32 connections, 10 s)", run: readPath },
  { name: "4. signed webhook deliveries (autocannon, 16 connections, 8 s)", run: webhookDeliveries },
];

async function engineVersions(world: BenchWorld, db: Kysely<unknown>, nc: NatsConnection): Promise<Pick<Machine, "postgres" | "nats" | "redis">> {
  const pg = await sql<{ server_version: string }>`show server_version`.execute(db);
  const redis = new Redis(world.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info("server");
    return { postgres: pg.rows[0]?.server_version ?? "?", nats: nc.info?.version ?? "?", redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "?" };
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const host = hostFacts();
  const cleanups: Array<[string, () => Promise<void>]> = [];
  const cleanUp = async () => {
    for (const [what, fn] of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    cleanups.length = 0;
  };
  const deadline = setTimeout(() => {
    log(`make bench: still running after ${DEADLINE_MS / 1000} s; cleaning up and giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, DEADLINE_MS);
  deadline.unref();

  try {
    log("setting up: bench database, Galaxy in-process, bare baselines");
    const world = await createBenchWorld(log);
    cleanups.push(["bench database, streams and keys", () => world.teardown()]);
    log(`  database ${world.database}, baseline prefix ${world.busPrefix}`);

    const galaxy: Galaxy = await startGalaxy({ databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database }, {
      // The webhook benchmark sends every delivery to one trigger: no per-trigger limit in the way.
      webhookRateLimit: { limit: 10_000_000, windowS: 60 },
    });
    cleanups.push(["Galaxy", () => galaxy.stop()]);
    const watcherNc = await connect({ servers: world.natsUrl });
    const galaxyFinished = new CompletionWatcher(watcherNc, galaxy.env.busPrefix);
    cleanups.push(["Galaxy watcher", async () => {
      galaxyFinished.stop();
      await watcherNc.close();
    }]);
    await watcherNc.flush();
    const client = await GalaxyClient.signUp(galaxy.url);
    const agentId = await client.createActiveAgent();
    // The bench workspace is on the enterprise tier (docs/executions.md, as an operator sets it):
    // the free tier's two executions at once and 100 queued would measure the quota, not Galaxy.
    const galaxyDb = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 1, applicationName: "galaxy-bench-setup" });
    try {
      await sql`insert into execution.workspace_tiers (workspace_id, tier) values (${client.workspaceId}, 'enterprise')`.execute(galaxyDb);
    } finally {
      await galaxyDb.destroy();
    }
    // Its API rate limits too (docs/api.md, Rate limits): the read-path load is one token's.
    const rateTiers = new Redis(galaxy.env.redisUrl, { keyPrefix: galaxy.env.redisPrefix });
    try {
      await rateTiers.hset(RATE_TIERS_KEY, client.workspaceId, "enterprise");
    } finally {
      rateTiers.disconnect();
    }
    log(`  Galaxy at ${galaxy.url}, bus prefix ${galaxy.env.busPrefix}, agent ${agentId}`);

    const devModel: RunningDevModel = await startDevModel();
    cleanups.push(["baseline dev model", () => devModel.close()]);
    const db = createDb<unknown>({ connectionString: world.databaseUrlOfBench, max: BARE_POOL_SIZE, applicationName: "galaxy-bench-baseline" });
    cleanups.push(["baseline pool", () => db.destroy()]);
    await createBaselineTable(db);
    const nc = await connect({ servers: world.natsUrl, name: "galaxy-bench-client" });
    cleanups.push(["baseline client connection", () => nc.close()]);
    const responder = await connect({ servers: world.natsUrl, name: "galaxy-bench-bare-worker" });
    cleanups.push(["baseline worker connection", () => responder.close()]);
    await createStream(nc, world.busPrefix);
    serveBareWorker(responder, world.busPrefix, { db, modelUrl: devModel.url });
    const bareFinished = new CompletionWatcher(nc, world.busPrefix);
    cleanups.push(["baseline watcher", async () => bareFinished.stop()]);
    await Promise.all([nc.flush(), responder.flush()]);

    const machine: Machine = { ...host, ...(await engineVersions(world, db, nc)) };
    log(`  ${machineLine(machine)}`);
    const ctx: BenchContext = {
      world,
      galaxy,
      client,
      agentId,
      galaxyFinished,
      bare: { nc, prefix: world.busPrefix, db, modelUrl: devModel.url, workspaceId: randomUUID(), finished: bareFinished },
      log,
    };
    log(`  ready after ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const rows: ResultRow[] = [];
    const notes: string[] = [];
    let failures = 0;
    // BENCH_ONLY=4 (or a word of a name) runs the matching benchmarks alone.
    const only = process.env.BENCH_ONLY;
    for (const benchmark of BENCHMARKS.filter((b) => !only || b.name.startsWith(`${only}.`) || b.name.includes(only))) {
      log(`\n${benchmark.name}`);
      const t0 = performance.now();
      try {
        const outcome = await benchmark.run(ctx);
        rows.push(...outcome.rows);
        notes.push(...outcome.notes);
      } catch (error) {
        failures++;
        const reason = error instanceof Error ? error.message : String(error);
        log(`  FAILED: ${reason}`);
        rows.push({ benchmark: benchmark.name, metric: "failed", galaxy: reason.slice(0, 80), baseline: "", ratio: "", target: "", met: false });
      }
      log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    if (galaxyFinished.malformedEvents + bareFinished.malformedEvents > 0) {
      notes.push(`Unreadable finished events: Galaxy ${galaxyFinished.malformedEvents}, bare ${bareFinished.malformedEvents}.`);
    }

    const durationS = (performance.now() - started) / 1000;
    log(`\nresults (${machine.cores} cores, Node ${machine.node}; ${durationS.toFixed(0)} s so far)\n`);
    log(resultsTable(rows));
    log("");
    for (const note of notes) log(`- ${note}`);
    if (process.env.BENCH_WRITE_DOC === "1") {
      await writeResultsBlock(DOC, resultsBlock(machine, rows, notes, durationS, new Date()));
      log(`\nwrote the results block of ${DOC}`);
    }
    return failures > 0 ? 1 : 0;
  } finally {
    await cleanUp();
    clearTimeout(deadline);
    log(`\nmake bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
